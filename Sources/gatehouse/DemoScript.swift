import GatehouseConfig
import GatehouseKeys
import GatehousePolicy

/// The demo's personas and the curl lines that show 200, 401 and 403, each with the answer `decide` gives it, so
/// the printed expectation is exactly what the proxy will answer.
struct DemoScript {
    struct Step {
        let comment: String
        let method: String
        let path: String
        let persona: String?
        let expected: Decision
    }

    let personas: [(name: String, variable: String, token: String)]
    let steps: [Step]
    /// The reader's claims, for `explain --claims` (the demo key is not the one routes.yaml trusts).
    let readerClaims: JSONValue

    init(configuration: GatehouseConfiguration, keys: TestKeys, now: Double) throws {
        guard let issuer = configuration.issuers.first?.policy, let minter = keys.minters[issuer.issuer] else {
            throw DemoError(description: "routes.yaml has no issuer to mint demo tokens for")
        }
        let routes = configuration.policy.routes.routes
        var allRoles = [String]()
        var allScopes = [String]()
        var claimValues = [String: JSONValue]()
        for route in routes {
            guard case .require(let requirement) = route.access else { continue }
            allRoles += requirement.roles?.names ?? []
            allScopes += requirement.scopes?.names ?? []
            for (path, condition) in requirement.claims {
                if case .oneOf(let values) = condition, path.keys.count == 1, let first = values.first {
                    claimValues[path.keys[0]] = .string(first)
                }
            }
        }
        allRoles = Array(Set(allRoles)).sorted()
        allScopes = Array(Set(allScopes)).sorted()
        func claims(sub: String, roles: [String], scopes: [String]) -> [String: JSONValue] {
            var members = claimValues
            members["sub"] = .string(sub)
            issuer.rolesClaim.set(.array(roles.map { .string($0) }), in: &members)
            issuer.scopesClaim.set(.string(scopes.joined(separator: " ")), in: &members)
            return members
        }
        let readerScopes = allScopes.filter { $0.hasSuffix(":read") || $0.hasSuffix(".read") || $0 == "read" }
        let reader = claims(sub: "reader", roles: [], scopes: readerScopes.isEmpty ? Array(allScopes.prefix(1)) : readerScopes)
        readerClaims = .object(reader)
        let admin = claims(sub: "admin", roles: allRoles, scopes: allScopes)
        let lifetime = 3600.0
        var expiredClaims = admin
        expiredClaims["sub"] = .string("expired")
        expiredClaims["iat"] = .number((now - 7200).rounded())
        expiredClaims["exp"] = .number((now - 3600).rounded())
        let minted: [(name: String, variable: String, token: String)] = [
            ("reader", "READER", try minter.mint(TestKeys.claims(reader, issuer: issuer, now: now, lifetime: lifetime))),
            ("admin", "ADMIN", try minter.mint(TestKeys.claims(admin, issuer: issuer, now: now, lifetime: lifetime))),
            ("expired", "EXPIRED", try minter.mint(TestKeys.claims(expiredClaims, issuer: issuer, now: now))),
        ]
        personas = minted

        let policy = configuration.policy.withoutCache()
        func decide(_ method: String, _ path: String, _ persona: String?) -> Decision {
            let token = persona.flatMap { name in minted.first { $0.name == name }?.token }
            let headers = token.map { [Substring("Bearer " + $0)] } ?? []
            return policy.decide(method: method, target: path, credential: .authorization(headers), keys: keys.keySet, now: now)
        }
        let examples: [(route: Route, method: String, path: String)] = routes.compactMap { route in
            let method = route.methods?.contains("GET") ?? true ? "GET" : route.methods!.sorted()[0]
            var path = ""
            for segment in route.pattern.segments {
                switch segment {
                case .literal(let text): path += "/" + text
                case .wildcard: path += "/1"
                case .parameter: path += "/admin"
                }
            }
            if route.pattern.matchesSubtree { path += "/1" }
            return (route, method, path.isEmpty ? "/" : path)
        }
        var collected = [Step]()
        func add(_ comment: String, _ found: (route: Route, method: String, path: String)?, _ persona: String?) {
            guard let found else { return }
            collected.append(Step(comment: comment, method: found.method, path: found.path, persona: persona,
                              expected: decide(found.method, found.path, persona)))
        }
        add("a public route: no token needed", examples.first { decide($0.method, $0.path, nil).status == 200 }, nil)
        let protected = examples.first { decide($0.method, $0.path, nil).status == 401 && decide($0.method, $0.path, "reader").status == 200 }
            ?? examples.first { decide($0.method, $0.path, nil).status == 401 }
        add("a protected route without a token", protected, nil)
        add("the reader may read", examples.first { decide($0.method, $0.path, "reader").status == 200 && decide($0.method, $0.path, nil).status == 401 }, "reader")
        let adminOnly = examples.first { decide($0.method, $0.path, "reader").status == 403 && decide($0.method, $0.path, "admin").status == 200 }
        add("the reader lacks the role or scope this route needs", adminOnly, "reader")
        add("the admin has it", adminOnly, "admin")
        add("an expired token", protected, "expired")
        add("a path trick is refused before any routing", protected.map { ($0.route, "GET", "/docs/..%2F" + $0.path.dropFirst()) }, "admin")
        self.steps = collected
    }

    func render(base: String, echoURL: String, file: String) -> String {
        var lines = [
            "Gatehouse demo",
            "  proxy:    \(base)  (routes from \(file))",
            "  upstream: \(echoURL)  (embedded echo: answers with the request it received)",
            "  keys:     a freshly generated demo key stands in for the issuers' keys",
            "",
            "Demo tokens (valid for an hour; paste these first):",
        ]
        for persona in personas { lines.append("  export \(persona.variable)='\(persona.token)'") }
        lines.append("")
        lines.append("Then try:")
        for step in steps {
            let decision = step.expected
            lines.append("  # \(decision.status) \(decision.reason.label): \(step.comment)")
            var command = "  curl -i"
            if step.method != "GET" { command += " -X \(step.method)" }
            if let persona = step.persona, let variable = personas.first(where: { $0.name == persona })?.variable {
                command += " -H \"Authorization: Bearer $\(variable)\""
            }
            command += " '\(base)\(step.path)'"
            if step.path.contains("%") || step.path.contains("..") { command = command.replacingOccurrences(of: "curl -i", with: "curl -i --path-as-is") }
            lines.append(command)
        }
        lines.append("")
        if let denied = steps.first(where: { $0.expected.status == 403 }) {
            lines.append("Why was the reader denied? Ask Gatehouse (with the reader's claims):")
            lines.append("  gatehouse explain --config \(file) --claims '\(readerClaims.jsonText)' \(denied.method) \(denied.path)")
        }
        lines.append("Access log (one JSON line per request) follows. Ctrl-C stops the demo.")
        return lines.joined(separator: "\n")
    }

    struct DemoError: Error, CustomStringConvertible {
        let description: String
    }
}
