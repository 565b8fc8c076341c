import GatehousePolicy
import Yams

extension DocumentParser {
    static let testKeys: Set<String> = ["name", "request", "token", "issuer", "authorization", "headers", "expect"]
    static let expectKeys: Set<String> = ["status", "route", "reason", "upstream"]
    static let tokenKeywords: [String: PolicyTestCase.TokenSpec] = [
        "expired": .expired, "wrong_audience": .wrongAudience, "bad_signature": .badSignature, "none_alg": .noneAlgorithm,
    ]

    func parseTests(_ node: Node, issuers: [IssuerSpec]) -> [PolicyTestCase] {
        guard let entries = reader.sequence(node, "tests") else { return [] }
        return entries.compactMap { parseTest($0, issuers: issuers) }
    }

    func parseTest(_ node: Node, issuers: [IssuerSpec]) -> PolicyTestCase? {
        guard let fields = reader.mapping(node, "a test", allowed: Self.testKeys) else { return nil }
        let errorsBefore = reader.diagnostics.count
        var method = ""
        var target = ""
        if let field = fields["request"]?.value, let text = reader.string(field, "request") {
            let parts = text.split(separator: " ", omittingEmptySubsequences: false)
            if parts.count == 2, HeaderName.isToken(String(parts[0])), !parts[1].isEmpty {
                method = parts[0].uppercased()
                target = String(parts[1])
            } else {
                reader.error(field, "request must be 'METHOD /path', e.g. 'GET /admin/users'")
            }
        } else if fields["request"] == nil {
            reader.error(node, "missing 'request', e.g. request: GET /admin/users")
        }
        var token = PolicyTestCase.TokenSpec.none
        if let field = fields["token"]?.value {
            if case .scalar = field {
                if let keyword = field.string.flatMap({ Self.tokenKeywords[$0] }) {
                    token = keyword
                } else {
                    let known = Self.tokenKeywords.keys.sorted().joined(separator: ", ")
                    reader.error(field, "token must be a mapping of claims or one of \(known)")
                }
            } else if let claims = jsonValue(field), case .object = claims {
                token = .claims(claims)
            } else {
                reader.error(field, "token must be a mapping of claims or a keyword")
            }
        }
        if let field = fields["authorization"]?.value {
            if fields["token"] != nil { reader.error(field, "give either token or authorization, not both") }
            if let value = reader.string(field, "authorization") { token = .rawHeader(value) }
        }
        var issuer: String? = nil
        if let field = fields["issuer"]?.value, let name = reader.string(field, "issuer") {
            if issuers.contains(where: { $0.policy.issuer == name }) { issuer = name } else {
                reader.error(field, "issuer '\(name)' is not configured under tokens.issuers")
            }
        }
        var status: Int? = nil
        var route: String? = nil
        var reason: String? = nil
        var upstream: PolicyTestCase.UpstreamExpectation? = nil
        var extraHeaders = [(name: String, value: String)]()
        if let field = fields["headers"]?.value, let entries = reader.pairs(field, "headers") {
            for (keyNode, valueNode) in entries {
                guard let name = keyNode.string, HeaderName.isToken(name), let value = reader.string(valueNode, "header \(name)")
                else {
                    reader.error(keyNode, "headers must map header names to values")
                    continue
                }
                extraHeaders.append((name, value))
            }
        }
        if let field = fields["expect"]?.value {
            if case .scalar = field {
                status = reader.int(field, "expect", range: 100...599)
            } else if let expect = reader.mapping(field, "expect", allowed: Self.expectKeys) {
                if let value = expect["status"]?.value { status = reader.int(value, "expect.status", range: 100...599) } else {
                    reader.error(field, "missing 'status' in expect")
                }
                if let value = expect["route"]?.value { route = reader.string(value, "expect.route") }
                if let value = expect["upstream"]?.value {
                    upstream = parseUpstreamExpectation(value)
                }
                if let value = expect["reason"]?.value, let label = reader.string(value, "expect.reason") {
                    if DecisionReason.allLabels.contains(label) { reason = label } else {
                        reader.error(value, "unknown reason '\(label)' (known: \(DecisionReason.allLabels.joined(separator: ", ")))")
                    }
                }
            }
        } else {
            reader.error(node, "missing 'expect', e.g. expect: 403")
        }
        if let status, ![200, 400, 401, 403].contains(status) {
            reader.error(fields["expect"]?.value ?? node, "a policy test expects 200 (allowed), 400, 401 or 403, not \(status)")
        }
        var name = "\(method) \(target)"
        switch token {
        case .none: name += " (no token)"
        case .claims(let claims): name += " (token \(claims.jsonText))"
        case .rawHeader: name += " (raw Authorization)"
        default: name += " (token \(fields["token"]?.value.string ?? ""))"
        }
        if let field = fields["name"]?.value, let value = reader.string(field, "name") { name = value }
        guard !reader.hasErrors(since: errorsBefore), let status else { return nil }
        return PolicyTestCase(
            name: name, method: method, target: target, token: token, issuer: issuer, expectedStatus: status,
            expectedRoute: route, expectedReason: reason, headers: extraHeaders, expectedUpstream: upstream,
            location: reader.location(node))
    }

    /// `{path: /admin/users, headers: {X-Auth-Subject: alice, X-Debug: null}}`: a `null` header must be absent.
    func parseUpstreamExpectation(_ node: Node) -> PolicyTestCase.UpstreamExpectation? {
        guard let fields = reader.mapping(node, "expect.upstream", allowed: ["path", "headers"]) else { return nil }
        var path: String? = nil
        var headers = [(name: String, value: String?)]()
        if let value = fields["path"]?.value { path = reader.string(value, "expect.upstream.path") }
        if let value = fields["headers"]?.value, let entries = reader.pairs(value, "expect.upstream.headers") {
            for (keyNode, valueNode) in entries {
                guard let name = keyNode.string else { continue }
                if case .scalar(let scalar) = valueNode, scalar.style == .plain, valueNode.tag.rawValue == Tag.Name.null.rawValue {
                    headers.append((name, nil))
                } else if let expected = reader.string(valueNode, "expected value of \(name)") {
                    headers.append((name, expected))
                }
            }
        }
        return PolicyTestCase.UpstreamExpectation(path: path, headers: headers)
    }

    /// A YAML value as JSON (for claims): mappings, lists, strings, numbers, booleans and null.
    func jsonValue(_ node: Node) -> JSONValue? {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if node.tag.rawValue == Tag.Name.null.rawValue { return .null }
                if let value = node.bool { return .bool(value) }
                if let value = node.int { return .number(Double(value)) }
                if let value = node.float { return .number(value) }
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var values = [JSONValue]()
            for item in sequence {
                guard let value = jsonValue(item) else { return nil }
                values.append(value)
            }
            return .array(values)
        case .mapping(let mapping):
            var members = [String: JSONValue]()
            for (key, value) in mapping {
                guard let name = key.string, let converted = jsonValue(value) else { return nil }
                members[name] = converted
            }
            return .object(members)
        case .alias:
            reader.error(node, "YAML aliases are not supported here")
            return nil
        }
    }
}
