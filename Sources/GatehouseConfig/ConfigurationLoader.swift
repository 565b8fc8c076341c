import Crypto
import FoundationEssentials
import GatehouseKeys
import GatehousePolicy
import Yams

/// Reads `routes.yaml`, validates all of it, loads its keys and compiles the policy.
///
/// Every problem is reported with its `file:line:col`; a file with any error yields no configuration at all, so a
/// bad file can never half-replace a good one.
public struct ConfigurationLoader: Sendable {
    /// Environment variables, for `secret_env`.
    public let environment: [String: String]

    /// Creates a loader that reads secrets from `environment`.
    public init(environment: [String: String] = ProcessInfoEnvironment.current) {
        self.environment = environment
    }

    /// Loads the file at `path`.
    public func load(path: String) async throws(ConfigurationError) -> GatehouseConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(diagnostics: [
                Diagnostic(file: path, line: 1, column: 1, severity: .error, message: "cannot read the file")
            ])
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        return try await load(yaml: text, file: path, directory: directory)
    }

    /// Loads configuration text; relative key paths are resolved against `directory`.
    public func load(yaml: String, file: String, directory: String = ".") async throws(ConfigurationError)
        -> GatehouseConfiguration
    {
        let reader = NodeReader(file: file)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                reader.error(nil, "the file is empty")
                throw ConfigurationError(diagnostics: reader.diagnostics)
            }
            root = node
        } catch let error as YamlError {
            throw ConfigurationError(diagnostics: [Self.diagnostic(for: error, file: file)])
        } catch let error as ConfigurationError {
            throw error
        } catch {
            reader.error(nil, "cannot parse the file: \(error)")
            throw ConfigurationError(diagnostics: reader.diagnostics)
        }

        var document = DocumentParser(reader: reader, directory: directory, environment: environment)
        let parsed = document.parse(root)
        // Keys are loaded even when other sections have errors, so that one run reports everything.
        var issuers = [IssuerConfiguration]()
        var keysByIssuer = [String: [VerificationKey]]()
        for spec in parsed.issuers {
            guard let loaded = await document.loadKeys(spec) else { continue }
            issuers.append(loaded.configuration)
            keysByIssuer[spec.policy.issuer] = loaded.keys
        }
        guard !reader.hasErrors, let routes = parsed.routes, let defaultAccess = parsed.defaultAccess else {
            throw ConfigurationError(diagnostics: Self.sorted(reader.diagnostics))
        }
        let policy = Policy(
            routes: routes, defaultAccess: defaultAccess,
            verifier: TokenVerifier(issuers: issuers.map(\.policy), maxTokenBytes: parsed.maxTokenBytes),
            identityHeaders: parsed.identityHeaders, cache: TokenCache(capacity: parsed.cacheSize))
        return GatehouseConfiguration(
            file: file, contentHash: Self.hash(yaml), listen: parsed.listen, upstream: parsed.upstream, admin: parsed.admin, issuers: issuers,
            policy: policy, keys: KeySet(keysByIssuer: keysByIssuer), server: parsed.server, tests: parsed.tests,
            warnings: Self.sorted(reader.diagnostics))
    }

    private static func hash(_ text: String) -> String {
        let digest = SHA256.hash(data: Array(text.utf8))
        return digest.prefix(8).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    /// Where `key` appears again in the same block mapping (same indentation, before the mapping ends) or later on
    /// the same line (a flow mapping); the first position when it cannot be found.
    static func secondOccurrence(of key: String, after first: (Int, Int), in text: String) -> (Int, Int) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let (firstLine, firstColumn) = first
        guard !key.isEmpty, firstLine >= 1, firstLine <= lines.count else { return first }
        let sameLine = Array(lines[firstLine - 1])
        if firstColumn < sameLine.count {
            let rest = String(sameLine[firstColumn...])
            if let range = rest.range(of: key + ":") ?? rest.range(of: "\"\(key)\":") {
                return (firstLine, firstColumn + rest.distance(from: rest.startIndex, to: range.lowerBound) + 1)
            }
        }
        let indent = firstColumn - 1
        for index in firstLine..<lines.count {
            let line = lines[index]
            let content = line.drop { $0 == " " }
            if content.isEmpty || content.hasPrefix("#") { continue }
            let lineIndent = line.count - content.count
            let item = content.hasPrefix("- ") ? content.dropFirst(2) : content
            let itemIndent = content.hasPrefix("- ") ? lineIndent + 2 : lineIndent
            if itemIndent < indent || (content.hasPrefix("- ") && itemIndent == indent) { break }
            if itemIndent == indent, item.hasPrefix(key + ":") || item.hasPrefix(key + " :") || item.hasPrefix("\"\(key)\":") {
                return (index + 1, indent + 1)
            }
        }
        return first
    }

    private static func sorted(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }

    private static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return Diagnostic(file: file, line: mark.line, column: mark.column, severity: .error, message: "YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // The parser marks the first copy; the user usually means to keep that one, so point at the second.
            let (line, column) = secondOccurrence(
                of: duplicates.first ?? "", after: (context.mark.line, context.mark.column), in: context.text)
            let first = "\(context.mark.line):\(context.mark.column)"
            return Diagnostic(
                file: file, line: line, column: column, severity: .error,
                message: "duplicate key '\(duplicates.joined(separator: "', '"))' in a mapping (first at \(file):\(first))")
        default:
            return Diagnostic(file: file, line: 1, column: 1, severity: .error, message: "YAML: \(error)")
        }
    }
}

/// The process environment.
public enum ProcessInfoEnvironment {
    /// The current process's environment variables.
    public static var current: [String: String] { ProcessInfo.processInfo.environment }
}
