import Yams

/// Walks a composed YAML tree, collecting every problem with its line and column instead of stopping at the first.
final class NodeReader {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String) {
        self.file = file
    }

    var hasErrors: Bool { hasErrors(since: 0) }

    /// Whether an error (not a warning) was reported since `diagnostics` held `count` entries.
    func hasErrors(since count: Int) -> Bool { diagnostics[count...].contains { $0.severity == .error } }

    func error(_ node: Node?, _ message: String) {
        report(node, .error, message)
    }

    func warning(_ node: Node?, _ message: String) {
        report(node, .warning, message)
    }

    func report(_ node: Node?, _ severity: Diagnostic.Severity, _ message: String) {
        let mark = node?.mark
        diagnostics.append(
            Diagnostic(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, severity: severity, message: message))
    }

    func location(_ node: Node?) -> String {
        let mark = node?.mark
        return "\(file):\(mark?.line ?? 1):\(mark?.column ?? 1)"
    }

    /// The entries of a mapping whose keys are all in `allowed`; unknown and duplicate keys are reported.
    func mapping(_ node: Node, _ what: String, allowed: Set<String>) -> [String: (key: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping")
            return nil
        }
        var entries = [String: (key: Node, value: Node)]()
        for (key, value) in mapping {
            guard case .scalar = key, let name = key.string else {
                error(key, "keys of \(what) must be plain strings")
                continue
            }
            guard allowed.contains(name) else {
                let known = allowed.sorted().joined(separator: ", ")
                error(key, "unknown key '\(name)' in \(what) (known keys: \(known))")
                continue
            }
            if entries[name] != nil {
                error(key, "duplicate key '\(name)' in \(what)")
                continue
            }
            entries[name] = (key, value)
        }
        return entries
    }

    /// Every entry of a free-form mapping (header name → source, claim path → value), in file order.
    func pairs(_ node: Node, _ what: String) -> [(key: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping")
            return nil
        }
        var seen = Set<String>()
        var result = [(key: Node, value: Node)]()
        for (key, value) in mapping {
            guard case .scalar = key, let name = key.string else {
                error(key, "keys of \(what) must be plain strings")
                continue
            }
            if !seen.insert(name).inserted {
                error(key, "duplicate key '\(name)' in \(what)")
                continue
            }
            result.append((key, value))
        }
        return result
    }

    func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            error(node, "\(what) must be a list")
            return nil
        }
        return Array(sequence)
    }

    func string(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let scalar) = node, node.tag.rawValue != Tag.Name.null.rawValue || scalar.style != .plain
        else {
            error(node, "\(what) must be a string")
            return nil
        }
        guard !scalar.string.isEmpty else {
            error(node, "\(what) must not be empty")
            return nil
        }
        return scalar.string
    }

    /// A string, or a list of strings (a single string is a list of one).
    func stringList(_ node: Node, _ what: String) -> [String]? {
        if case .scalar = node { return string(node, what).map { [$0] } }
        guard let items = sequence(node, what) else { return nil }
        var result = [String]()
        for item in items {
            guard let value = string(item, "each entry of \(what)") else { return nil }
            result.append(value)
        }
        if result.isEmpty {
            error(node, "\(what) must not be empty")
            return nil
        }
        return result
    }

    func bool(_ node: Node, _ what: String) -> Bool? {
        guard case .scalar = node, let value = node.bool else {
            error(node, "\(what) must be true or false")
            return nil
        }
        return value
    }

    func int(_ node: Node, _ what: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar = node, let value = node.int, range.contains(value) else {
            error(node, "\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    /// A duration: a whole number with a unit (`500ms`, `30s`, `15m`, `1h`, `1d`), or plain seconds.
    func duration(_ node: Node, _ what: String) -> Double? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(what) must be a duration such as 30s, 15m or 1h")
            return nil
        }
        let text = scalar.string
        if let seconds = DurationText.seconds(text) { return seconds }
        error(node, "\(what) must be a duration such as 30s, 15m or 1h (got '\(text)')")
        return nil
    }
}
