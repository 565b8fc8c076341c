import GatehousePolicy
import Yams

extension DocumentParser {
    static let routeKeys: Set<String> = [
        "path", "methods", "id", "upstream", "description", "public", "deny", "authenticated", "roles", "scopes",
        "claims",
    ]
    static let requirementKeys: Set<String> = ["authenticated", "roles", "scopes", "claims"]

    func parseRoutes(_ node: Node) -> RouteTable? {
        guard let entries = reader.sequence(node, "routes") else { return nil }
        var routes = [Route]()
        // Each route's node, by id (ids are unique once parsed): where its diagnostics point.
        var ids = [String: Node]()
        var failed = false
        for entry in entries {
            guard let route = parseRoute(entry) else {
                failed = true
                continue
            }
            if let first = ids[route.id] {
                reader.error(entry, "route id '\(route.id)' is used twice (first at \(reader.location(first))); give one an 'id'")
                failed = true
                continue
            }
            ids[route.id] = entry
            routes.append(route)
        }
        do {
            let table = try RouteTable(routes)
            guard !failed else { return nil }
            for (publicRoute, protectedRoute) in table.publicShadows() {
                if let publicNode = ids[publicRoute.id] {
                    reader.warning(
                        publicNode,
                        "public route '\(publicRoute.id)' takes precedence over protected route '\(protectedRoute.id)' (\(protectedRoute.location)) for some requests"
                    )
                }
            }
            return table
        } catch {
            for clash in error.clashes {
                reader.error(ids[clash.second.id] ?? node, clash.description)
            }
            return nil
        }
    }

    func parseRoute(_ node: Node) -> Route? {
        guard let fields = reader.mapping(node, "a route", allowed: Self.routeKeys) else { return nil }
        let errorsBefore = reader.diagnostics.count
        var pattern: PathPattern? = nil
        if let field = fields["path"]?.value, let text = reader.string(field, "path") {
            do {
                pattern = try PathPattern(text)
            } catch {
                reader.error(field, error.description)
            }
        } else if fields["path"] == nil {
            reader.error(node, "missing 'path'")
        }
        var methods: Set<String>? = nil
        if let field = fields["methods"]?.value, let names = reader.stringList(field, "methods") {
            var set = Set<String>()
            for name in names {
                guard HeaderName.isToken(name) else {
                    reader.error(field, "'\(name)' is not an HTTP method")
                    continue
                }
                set.insert(name.uppercased())
            }
            methods = set
        }
        var id: String? = nil
        if let field = fields["id"]?.value { id = reader.string(field, "id") }
        var upstream: String? = nil
        if let field = fields["upstream"]?.value { upstream = upstreamURL(field, "upstream") }
        if let field = fields["description"]?.value { _ = reader.string(field, "description") }
        let access = parseAccess(fields, node: node, pattern: pattern, what: "a route")
        guard !reader.hasErrors(since: errorsBefore), let pattern, let access else {
            return nil
        }
        return Route(
            id: id, pattern: pattern, methods: methods, access: access, upstream: upstream,
            location: reader.location(node))
    }

    /// Exactly one of `public: true`, `deny: true`, or a requirement.
    func parseAccess(
        _ fields: [String: (key: Node, value: Node)], node: Node, pattern: PathPattern?, what: String
    ) -> Access? {
        var kinds = [String]()
        if fields["public"] != nil { kinds.append("public") }
        if fields["deny"] != nil { kinds.append("deny") }
        if !Self.requirementKeys.isDisjoint(with: fields.keys) { kinds.append("a requirement") }
        guard kinds.count == 1 else {
            reader.error(node, kinds.isEmpty
                ? "\(what) needs one of public: true, deny: true, or a requirement (authenticated, roles, scopes, claims)"
                : "\(what) must have only one of \(kinds.joined(separator: ", "))")
            return nil
        }
        if let field = fields["public"]?.value {
            guard reader.bool(field, "public") == true else {
                reader.error(field, "write public: true, or remove the key")
                return nil
            }
            return .public
        }
        if let field = fields["deny"]?.value {
            guard reader.bool(field, "deny") == true else {
                reader.error(field, "write deny: true, or remove the key")
                return nil
            }
            return .deny
        }
        var requirement = Requirement()
        var ok = true
        if let field = fields["authenticated"]?.value, reader.bool(field, "authenticated") != true {
            reader.error(field, "write authenticated: true, or remove the key")
            ok = false
        }
        if let field = fields["roles"]?.value {
            if let set = nameSet(field, "roles") { requirement.roles = set } else { ok = false }
        }
        if let field = fields["scopes"]?.value {
            if let set = nameSet(field, "scopes") { requirement.scopes = set } else { ok = false }
        }
        if let field = fields["claims"]?.value {
            if let claims = claimConditions(field, pattern: pattern) { requirement.claims = claims } else { ok = false }
        }
        return ok ? .require(requirement) : nil
    }

    /// `name`, `[a, b]` (any of), `{any: [...]}` or `{all: [...]}`.
    func nameSet(_ node: Node, _ what: String) -> Requirement.NameSet? {
        if case .mapping = node {
            guard let fields = reader.mapping(node, what, allowed: ["all", "any"]) else { return nil }
            guard fields.count == 1 else {
                reader.error(node, "\(what) takes one of 'all' or 'any'")
                return nil
            }
            if let field = fields["all"]?.value { return reader.stringList(field, "\(what).all").map { .allOf($0) } }
            if let field = fields["any"]?.value { return reader.stringList(field, "\(what).any").map { .anyOf($0) } }
            return nil
        }
        return reader.stringList(node, what).map { .anyOf($0) }
    }

    func claimConditions(_ node: Node, pattern: PathPattern?) -> [(path: ClaimPath, condition: Requirement.ClaimCondition)]? {
        guard let entries = reader.pairs(node, "claims") else { return nil }
        var result = [(path: ClaimPath, condition: Requirement.ClaimCondition)]()
        var ok = true
        for (keyNode, valueNode) in entries {
            guard let path = claimPath(keyNode) else {
                ok = false
                continue
            }
            if case .scalar(let scalar) = valueNode, scalar.string.hasPrefix("{"), scalar.string.hasSuffix("}"),
                scalar.string.count > 2
            {
                let name = String(scalar.string.dropFirst().dropLast())
                guard pattern?.parameterNames.contains(name) == true else {
                    reader.error(valueNode, "'{\(name)}' is not a parameter of this route's path")
                    ok = false
                    continue
                }
                result.append((path, .pathParameter(name)))
                continue
            }
            guard let values = reader.stringList(valueNode, "claim \(path)") else {
                ok = false
                continue
            }
            result.append((path, .oneOf(values)))
        }
        if entries.isEmpty {
            reader.error(node, "claims must not be empty")
            ok = false
        }
        return ok ? result : nil
    }

    func parseDefault(_ node: Node) -> Access? {
        if case .scalar = node {
            if node.string == "deny" { return .deny }
            reader.error(node, "default must be 'deny' or a requirement such as {authenticated: true}")
            return nil
        }
        if case .mapping(let mapping) = node, mapping.contains(where: { $0.key.string == "public" }) {
            reader.error(node, "default cannot be public: list public routes explicitly, or use default: {authenticated: true}")
            return nil
        }
        guard let fields = reader.mapping(node, "default", allowed: Self.requirementKeys) else { return nil }
        return parseAccess(fields, node: node, pattern: nil, what: "default")
    }
}
