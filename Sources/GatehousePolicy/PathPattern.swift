/// A route's path pattern: literal segments, `*` (one segment), `{name}` (one segment, captured) and an optional
/// trailing `/**` (any depth, including none).
public struct PathPattern: Sendable, Equatable, CustomStringConvertible {
    /// One segment of a pattern.
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case wildcard
        case parameter(String)
    }

    /// The segments before any trailing `**`.
    public let segments: [Segment]
    /// Whether the pattern ends in `/**`.
    public let matchesSubtree: Bool
    /// The pattern as written.
    public let description: String

    /// Why a pattern was refused.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Parses a pattern as written in `routes.yaml`.
    public init(_ text: String) throws(ParseError) {
        guard text.hasPrefix("/") else { throw ParseError(description: "path pattern '\(text)' must start with '/'") }
        var parts = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        var subtree = false
        if parts.last == "**" {
            subtree = true
            parts.removeLast()
        }
        var segments = [Segment]()
        var names = Set<String>()
        for (index, part) in parts.enumerated() {
            if part == "**" {
                throw ParseError(description: "'**' is only allowed as the last segment of '\(text)'")
            }
            if part == "*" {
                segments.append(.wildcard)
            } else if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                let name = String(part.dropFirst().dropLast())
                guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                    throw ParseError(description: "invalid parameter name '{\(name)}' in '\(text)'")
                }
                guard names.insert(name).inserted else {
                    throw ParseError(description: "parameter '{\(name)}' appears twice in '\(text)'")
                }
                segments.append(.parameter(name))
            } else {
                if part.isEmpty && index != parts.count - 1 {
                    throw ParseError(description: "empty segment ('//') in '\(text)'")
                }
                if part.isEmpty && subtree {
                    throw ParseError(description: "empty segment ('//') in '\(text)'")
                }
                // A literal must itself be a normalised segment, or no request could ever match it.
                let literal = String(part)
                let normalized: NormalizedTarget
                do {
                    normalized = try PathNormalizer.normalize("/" + literal)
                } catch {
                    throw ParseError(description: "segment '\(literal)' of '\(text)' is not a valid path segment: \(error)")
                }
                guard normalized.path == "/" + literal, !literal.contains("{"), !literal.contains("}"), !literal.contains("*") else {
                    throw ParseError(
                        description: "segment '\(literal)' of '\(text)' is not in normalised form (write '\(normalized.path.dropFirst())')")
                }
                segments.append(.literal(literal))
            }
        }
        if parts.isEmpty && !subtree {
            // "/" itself.
            segments = [.literal("")]
        }
        self.segments = segments
        self.matchesSubtree = subtree
        self.description = text
    }

    /// The names of the captured parameters.
    public var parameterNames: [String] {
        segments.compactMap { if case .parameter(let name) = $0 { return name } else { return nil } }
    }
}
