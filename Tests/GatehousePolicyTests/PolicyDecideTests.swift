import GatehouseKeys
import GatehousePolicy
import Testing

/// The one decision function, as a table: every status (200/400/401/403), every reason, every claim shape.
struct PolicyDecideTests {
    /// One row of the decision table.
    struct Row: Sendable, CustomTestStringConvertible {
        let method: String
        let target: String
        /// Claims of a valid token; `nil` for no `Authorization` header.
        let claims: [String: JSONValue]?
        let issuer: String
        let status: Int
        let reason: String
        /// The deciding route's id (`default` when no route matched); `nil` to not check it.
        let route: String?

        init(
            _ method: String, _ target: String, _ claims: [String: JSONValue]?, issuer: String = PolicyFixture.plain,
            _ status: Int, _ reason: String, route: String? = nil
        ) {
            self.method = method
            self.target = target
            self.claims = claims
            self.issuer = issuer
            self.status = status
            self.reason = reason
            self.route = route
        }

        var testDescription: String {
            let token = claims.map { JSONValue.object($0).jsonText } ?? "no token"
            return "\(method) \(target) [\(token)] -> \(status) \(reason)"
        }
    }

    private static func check(_ row: Row) async throws {
        let fixture = try await PolicyFixture.make()
        let decision = try fixture.decide(row.method, row.target, claims: row.claims, issuer: row.issuer)
        #expect(decision.status == row.status)
        #expect(decision.reason.label == row.reason)
        #expect(decision.isAllowed == (row.status == 200))
        if let route = row.route { #expect(decision.routeID == route) }
    }

    static let admin: [String: JSONValue] = ["roles": .array([.string("admin")])]

    // MARK: the order of the checks

    @Test(
        "path, then route, then token, then requirement",
        arguments: [
            // 400 before anything else, whatever the token.
            Row("GET", "/docs/../admin/users", nil, 400, "path_unsafe"),
            Row("GET", "/admin%2Fusers", admin, 400, "path_unsafe"),
            Row("GET", "/admin;x=1/users", admin, 400, "path_unsafe"),
            Row("GET", "/healthz/%2e%2e/admin", nil, 400, "path_unsafe"),
            Row("GET", "http://gatehouse/admin", admin, 400, "path_unsafe"),
            // Public: no token needed, none checked.
            Row("GET", "/healthz", nil, 200, "public_route", route: "health"),
            Row("HEAD", "/healthz", nil, 200, "public_route", route: "health"),
            Row("GET", "//healthz?verbose=1", nil, 200, "public_route", route: "health"),
            // ...but only for the methods it lists: POST falls to the default.
            Row("POST", "/healthz", nil, 403, "no_route_matched", route: "default"),
            // Deny: 403 for everyone, before any token is looked at.
            Row("GET", "/internal/metrics", nil, 403, "route_denied", route: "internal"),
            Row("GET", "/internal/metrics", admin, 403, "route_denied", route: "internal"),
            Row("GET", "/internal", admin, 403, "route_denied", route: "internal"),
            // No route: the default (deny).
            Row("GET", "/billingx", admin, 403, "no_route_matched", route: "default"),
            Row("GET", "/", nil, 403, "no_route_matched", route: "default"),
            // Protected route, no token.
            Row("GET", "/orders/42", nil, 401, "token_missing", route: "orders-read"),
            Row("GET", "/me", nil, 401, "token_missing", route: "me"),
            // Any valid token.
            Row("GET", "/me", [:], 200, "authorized", route: "me"),
        ])
    func order(row: Row) async throws {
        try await Self.check(row)
    }

    @Test(
        "scopes: a plain list is any of, {all: [...]} is every one; a scope string is split on spaces",
        arguments: [
            Row("GET", "/orders/42", ["scope": .string("orders:read")], 200, "authorized", route: "orders-read"),
            Row("HEAD", "/orders/42", ["scope": .string("orders:read")], 200, "authorized", route: "orders-read"),
            Row("GET", "/orders/42", ["scope": .string("orders:write")], 200, "authorized", route: "orders-read"),
            Row("GET", "/orders/42", ["scope": .string("profile orders:read email")], 200, "authorized"),
            Row("DELETE", "/orders/42", ["scope": .string("orders:read")], 403, "missing_scope", route: "orders-write"),
            Row("DELETE", "/orders/42", ["scope": .string("orders:read orders:write")], 200, "authorized", route: "orders-write"),
            Row("GET", "/orders/42", ["scope": .string("orders:reader")], 403, "missing_scope"),
            Row("GET", "/orders/42", ["scope": .string("orders")], 403, "missing_scope"),
            Row("GET", "/orders/42", ["scope": .string("orders:read,orders:write")], 403, "missing_scope"),
            Row("GET", "/orders/42", ["scope": .string("")], 403, "missing_scope"),
            Row("GET", "/orders/42", [:], 403, "missing_scope"),
            Row("GET", "/orders/42", ["scp": .array([.string("orders:read")])], 403, "missing_scope"),
            Row("GET", "/reports/q3", ["scope": .string("reports:read")], 403, "missing_scope", route: "reports"),
            Row("GET", "/reports/q3", ["scope": .string("reports:export")], 403, "missing_scope", route: "reports"),
            Row("GET", "/reports/q3", ["scope": .string("reports:export reports:read")], 200, "authorized", route: "reports"),
        ])
    func scopes(row: Row) async throws {
        try await Self.check(row)
    }

    @Test(
        "roles: any of, all of, and a single-string roles claim is one role, never a substring or a list",
        arguments: [
            Row("GET", "/admin/users", admin, 200, "authorized", route: "admin"),
            Row("GET", "/admin", admin, 200, "authorized", route: "admin"),
            Row("GET", "/admin/users", ["roles": .array([.string("support")])], 403, "missing_role", route: "admin"),
            Row("GET", "/admin/users", ["roles": .array([])], 403, "missing_role"),
            Row("GET", "/admin/users", [:], 403, "missing_role"),
            Row("GET", "/admin/users", ["roles": .string("admin")], 200, "authorized"),
            Row("GET", "/admin/users", ["roles": .string("administrator")], 403, "missing_role"),
            Row("GET", "/admin/users", ["roles": .string("superadmin")], 403, "missing_role"),
            Row("GET", "/admin/users", ["roles": .string("admin auditor")], 403, "missing_role"),
            Row("GET", "/admin/users", ["roles": .string("Admin")], 403, "missing_role"),
            Row("GET", "/admin/users", ["roles": .array([.string("admin ")])], 403, "missing_role"),
            Row("GET", "/admin/users", ["roles": .object(["admin": .bool(true)])], 403, "missing_role"),
            Row("GET", "/admin/users", ["role": .array([.string("admin")])], 403, "missing_role"),
            Row("GET", "/admin/audit/log", admin, 403, "missing_role", route: "admin-audit"),
            Row("GET", "/admin/audit/log", ["roles": .array([.string("auditor")])], 403, "missing_role", route: "admin-audit"),
            Row(
                "GET", "/admin/audit/log", ["roles": .array([.string("auditor"), .string("admin")])], 200, "authorized",
                route: "admin-audit"),
        ])
    func roles(row: Row) async throws {
        try await Self.check(row)
    }

    @Test(
        "claims: a value, a list of allowed values, and the owner rule {id} against sub",
        arguments: [
            Row("GET", "/users/alice/settings", ["sub": .string("alice")], 200, "authorized", route: "own-profile"),
            Row("GET", "/users/alice", ["sub": .string("alice")], 200, "authorized", route: "own-profile"),
            Row("GET", "/users/bob/settings", ["sub": .string("alice")], 403, "claim_mismatch", route: "own-profile"),
            Row("GET", "/users/%61lice/settings", ["sub": .string("alice")], 200, "authorized"),
            Row("GET", "/users/Alice/settings", ["sub": .string("alice")], 403, "claim_mismatch"),
            Row("GET", "/users/alice2/settings", ["sub": .string("alice")], 403, "claim_mismatch"),
            Row("GET", "/users/%C3%A9/settings", ["sub": .string("\u{E9}")], 200, "authorized"),
            // The same text in another Unicode normal form is another subject.
            Row("GET", "/users/caf%C3%A9/settings", ["sub": .string("cafe\u{301}")], 403, "claim_mismatch"),
            // Invalid UTF-8 in the path must not decode to U+FFFD and match a subject holding U+FFFD.
            Row("GET", "/users/%FF/settings", ["sub": .string("\u{FFFD}")], 403, "claim_mismatch"),
            Row("GET", "/users/alice/settings", ["sub": .null], 403, "claim_mismatch"),
            Row("GET", "/users/%7Bid%7D/settings", ["sub": .string("{id}")], 200, "authorized"),
            Row("GET", "/users/x/settings", ["sub": .string("{id}")], 403, "claim_mismatch"),
            Row("GET", "/eu/data", ["region": .string("eu")], 200, "authorized", route: "eu"),
            Row("GET", "/eu/data", ["region": .string("us")], 403, "claim_mismatch", route: "eu"),
            Row("GET", "/eu/data", ["region": .string("EU")], 403, "claim_mismatch"),
            Row("GET", "/eu/data", ["region": .string("eu-west")], 403, "claim_mismatch"),
            Row("GET", "/eu/data", [:], 403, "claim_mismatch"),
            Row("GET", "/tenants/x", ["tenant": .string("acme")], 200, "authorized", route: "tenant"),
            Row("GET", "/tenants/x", ["tenant": .string("globex")], 200, "authorized", route: "tenant"),
            Row("GET", "/tenants/x", ["tenant": .string("initech")], 403, "claim_mismatch", route: "tenant"),
            Row("GET", "/tenants/x", ["tenant": .string("acme globex")], 403, "claim_mismatch"),
            Row("GET", "/tenants/x", ["tenant": .object(["acme": .bool(true)])], 403, "claim_mismatch"),
        ])
    func claims(row: Row) async throws {
        try await Self.check(row)
    }

    static let billing: [String: JSONValue] = [
        "roles": .array([.string("billing")]), "scope": .string("billing:read"), "email_verified": .bool(true),
    ]

    @Test(
        "roles, scopes and claims combine with AND",
        arguments: [
            Row("GET", "/billing/invoices", billing, 200, "authorized", route: "billing"),
            Row("GET", "/billing/invoices", billing.merging(["email_verified": .string("true")]) { $1 }, 200, "authorized"),
            Row("GET", "/billing/invoices", billing.merging(["roles": .array([])]) { $1 }, 403, "missing_role"),
            Row("GET", "/billing/invoices", billing.merging(["scope": .string("billing:write")]) { $1 }, 403, "missing_scope"),
            Row("GET", "/billing/invoices", billing.merging(["email_verified": .bool(false)]) { $1 }, 403, "claim_mismatch"),
            Row("GET", "/billing/invoices", billing.filter { $0.key != "email_verified" }, 403, "claim_mismatch"),
        ])
    func combined(row: Row) async throws {
        try await Self.check(row)
    }

    static let realmAdmin: [String: JSONValue] = ["realm_access": .object(["roles": .array([.string("admin")])])]
    static func clientRoles(_ client: String, _ roles: [String]) -> [String: JSONValue] {
        ["resource_access": .object([client: .object(["roles": .array(roles.map { .string($0) })])])]
    }

    @Test(
        "claim shapes of real issuers: Keycloak nested roles, URL-named roles claims, scp arrays",
        arguments: [
            // Keycloak realm roles (roles_claim: realm_access.roles).
            Row("GET", "/admin/users", realmAdmin, issuer: PolicyFixture.keycloak, 200, "authorized"),
            Row("GET", "/admin/users", admin, issuer: PolicyFixture.keycloak, 403, "missing_role"),
            Row(
                "GET", "/admin/users", ["realm_access": .object(["roles": .string("admin")])], issuer: PolicyFixture.keycloak, 200,
                "authorized"),
            Row("GET", "/admin/users", ["realm_access.roles": .array([.string("admin")])], issuer: PolicyFixture.keycloak, 403, "missing_role"),
            // Keycloak client roles (roles_claim: resource_access.my-app.roles).
            Row("GET", "/admin/users", clientRoles("my-app", ["admin"]), issuer: PolicyFixture.keycloakClient, 200, "authorized"),
            Row("GET", "/admin/users", clientRoles("other-app", ["admin"]), issuer: PolicyFixture.keycloakClient, 403, "missing_role"),
            Row("GET", "/admin/users", realmAdmin, issuer: PolicyFixture.keycloakClient, 403, "missing_role"),
            // A claims: condition on client roles, for any issuer.
            Row("GET", "/client/x", clientRoles("my-app", ["reader", "writer"]), 200, "authorized", route: "client-writer"),
            Row("GET", "/client/x", clientRoles("my-app", ["reader"]), 403, "claim_mismatch"),
            Row("GET", "/client/x", clientRoles("my", ["writer"]), 403, "claim_mismatch"),
            // Auth0: roles under a URL-named claim, scopes in an scp array.
            Row(
                "GET", "/admin/users", ["https://example.com/roles": .array([.string("admin")])], issuer: PolicyFixture.auth0,
                200, "authorized"),
            Row("GET", "/admin/users", admin, issuer: PolicyFixture.auth0, 403, "missing_role"),
            Row(
                "GET", "/admin/users", ["https://example": .object(["com/roles": .array([.string("admin")])])],
                issuer: PolicyFixture.auth0, 403, "missing_role"),
            Row(
                "GET", "/admin/users", ["https:": .object(["": .object(["example.com": .object(["roles": .array([.string("admin")])])])])],
                issuer: PolicyFixture.auth0, 403, "missing_role"),
            Row("GET", "/orders/1", ["scp": .array([.string("orders:read")])], issuer: PolicyFixture.auth0, 200, "authorized"),
            // One array entry holding a space would forge two entries of X-Auth-Scopes.
            Row("GET", "/orders/1", ["scp": .array([.string("orders:read orders:write")])], issuer: PolicyFixture.auth0, 401, "claim_invalid"),
            Row("GET", "/orders/1", ["scope": .string("orders:read")], issuer: PolicyFixture.auth0, 403, "missing_scope"),
            Row("DELETE", "/orders/1", ["scp": .array([.string("orders:read"), .string("orders:write")])], issuer: PolicyFixture.auth0, 200, "authorized"),
        ])
    func issuerClaimShapes(row: Row) async throws {
        try await Self.check(row)
    }

    // MARK: the Authorization header

    @Test(
        "exactly one Authorization header, scheme Bearer in any casing, one token",
        arguments: [
            ([], 401, "token_missing"),
            (["Bearer {T}"], 200, "authorized"),
            (["bearer {T}"], 200, "authorized"),
            (["BEARER {T}"], 200, "authorized"),
            (["bEaReR {T}"], 200, "authorized"),
            (["Bearer {T}", "Bearer {T}"], 401, "credentials_malformed"),
            (["Bearer {T}", "Basic dXNlcjpwYXNz"], 401, "credentials_malformed"),
            (["Basic dXNlcjpwYXNz"], 401, "token_missing"),
            (["Digest username=\"a\""], 401, "token_missing"),
            (["{T}"], 401, "token_missing"),
            ([""], 401, "token_missing"),
            (["Bearer"], 401, "credentials_malformed"),
            (["bearer"], 401, "credentials_malformed"),
            (["Bearer "], 401, "credentials_malformed"),
            (["Bearer {T} {T}"], 401, "credentials_malformed"),
            (["Bearer  {T}"], 401, "credentials_malformed"),
            (["Bearer {T} "], 401, "credentials_malformed"),
            (["Bearer {T}\t"], 401, "credentials_malformed"),
            (["Bearer {T},Bearer {T}"], 401, "credentials_malformed"),
            (["Bearer garbage"], 401, "token_malformed"),
        ] as [([String], Int, String)])
    func authorizationHeader(headers: [String], status: Int, reason: String) async throws {
        let fixture = try await PolicyFixture.make()
        let token = try fixture.token(["scope": .string("orders:read")])
        let decision = fixture.decide("GET", "/orders/1", authorization: headers.map { $0.replacingOccurrences(of: "{T}", with: token) })
        #expect(decision.status == status)
        #expect(decision.reason.label == reason)
    }

    @Test("a token in the query string or anywhere but the Authorization header is never used")
    func noTokenFromQuery() async throws {
        let fixture = try await PolicyFixture.make()
        let token = try fixture.token(["scope": .string("orders:read")])
        for target in ["/orders/1?access_token=\(token)", "/orders/1?token=\(token)&Authorization=Bearer"] {
            let decision = fixture.decide("GET", target, authorization: [])
            #expect(decision.status == 401)
            #expect(decision.reason.label == "token_missing")
        }
    }

    @Test(
        "an invalid token on a protected route is 401 with its reason",
        arguments: [
            ("expired", "token_expired"),
            ("wrong audience", "audience_mismatch"),
            ("unknown issuer", "issuer_unknown"),
            ("other issuer's key", "signature_invalid"),
        ])
    func invalidTokens(kind: String, reason: String) async throws {
        let fixture = try await PolicyFixture.make()
        let token: String
        switch kind {
        case "expired":
            token = try fixture.token(now: testNow - 3600)
        case "wrong audience":
            token = try fixture.token(["aud": .string("billing-api")])
        case "unknown issuer":
            token = try fixture.token(["iss": .string("https://evil.example/")])
        default:
            // Signed with the Keycloak issuer's key but claiming the plain issuer.
            token = try fixture.token(["iss": .string(PolicyFixture.plain)], issuer: PolicyFixture.keycloak)
        }
        let decision = fixture.decide("GET", "/me", authorization: ["Bearer " + token])
        #expect(decision.status == 401)
        #expect(decision.reason.label == reason)
        #expect(decision.identity.isEmpty)
    }

    // MARK: identity headers

    @Test("identity header values are computed from the verified token, in the configured order")
    func identityHeaders() async throws {
        let headers = IdentityHeader.defaults + [
            IdentityHeader(name: "X-Auth-Email", source: .claim(ClaimPath(keys: ["email"]))),
            IdentityHeader(name: "X-Auth-Issuer", source: .issuer),
            IdentityHeader(name: "X-Auth-Org", source: .claim(try ClaimPath(parsing: "org.id"))),
            IdentityHeader(name: "X-Auth-Groups", source: .claim(ClaimPath(keys: ["groups"]))),
            IdentityHeader(name: "X-Auth-Missing", source: .claim(ClaimPath(keys: ["nickname"]))),
        ]
        let fixture = try await PolicyFixture.make(identityHeaders: headers)
        let decision = try fixture.decide(
            "GET", "/me",
            claims: [
                "sub": .string("alice"), "roles": .array([.string("auditor"), .string("admin")]), "scope": .string("orders:write orders:read"),
                "email": .string("alice@example.com"), "org": .object(["id": .number(42)]),
                "groups": .array([.string("g1"), .string("g2")]),
            ])
        #expect(decision.status == 200)
        #expect(decision.subject == "alice")
        #expect(
            decision.identity.map { "\($0.name): \($0.value)" } == [
                "X-Auth-Subject: alice",
                "X-Auth-Roles: admin,auditor",
                "X-Auth-Scopes: orders:read orders:write",
                "X-Auth-Email: alice@example.com",
                "X-Auth-Issuer: \(PolicyFixture.plain)",
                "X-Auth-Org: 42",
                "X-Auth-Groups: g1,g2",
            ])
    }

    @Test("a token without roles or scopes sends no empty role or scope header")
    func identityOmitsAbsent() async throws {
        let fixture = try await PolicyFixture.make()
        let decision = try fixture.decide("GET", "/me", claims: [:])
        #expect(decision.identity.map { "\($0.name): \($0.value)" } == ["X-Auth-Subject: alice"])
    }

    @Test("a public route sends no identity, even with a valid token")
    func publicRouteNoIdentity() async throws {
        let fixture = try await PolicyFixture.make()
        let decision = try fixture.decide("GET", "/healthz", claims: Self.admin)
        #expect(decision.status == 200)
        #expect(decision.identity.isEmpty)
    }

    @Test(
        "a claim that would forge a header or a list entry makes the token invalid (401 claim_invalid)",
        arguments: [
            ["sub": .string("alice\r\nX-Auth-Roles: admin")],
            ["sub": .string("alice\n")],
            ["sub": .string("alice\u{0}")],
            ["sub": .string("alice\u{7F}")],
            ["sub": .string("alice\u{85}")],
            ["sub": .string("alice\u{9B}31m")],
            ["email": .string("a@example.com\r\nX-Admin: 1")],
            ["roles": .array([.string("admin\r\nX-Admin: 1")])],
            ["roles": .array([.string("user,admin")])],
            ["scope": .string("orders:read\torders:write")],
        ] as [[String: JSONValue]])
    func claimWithControls(claims: [String: JSONValue]) async throws {
        let headers = IdentityHeader.defaults + [IdentityHeader(name: "X-Auth-Email", source: .claim(ClaimPath(keys: ["email"])))]
        let fixture = try await PolicyFixture.make(identityHeaders: headers)
        let decision = try fixture.decide("GET", "/me", claims: claims)
        #expect(decision.status == 401)
        #expect(decision.reason.label == "claim_invalid")
        #expect(decision.identity.isEmpty)
    }

    @Test("control characters in a claim that no identity header carries do not matter")
    func controlsInUnusedClaim() async throws {
        let fixture = try await PolicyFixture.make()
        let decision = try fixture.decide("GET", "/me", claims: ["note": .string("line1\r\nline2")])
        #expect(decision.status == 200)
    }

    // MARK: claims given to explain

    @Test("claims given directly (explain --claims) are judged by the same requirements, read as the issuer says")
    func givenClaims() async throws {
        let fixture = try await PolicyFixture.make()
        let keys = fixture.keys
        func decide(_ target: String, _ claims: [String: JSONValue], issuer: String?) -> Decision {
            fixture.policy.decide(method: "GET", target: target, credential: .claims(.object(claims), issuer: issuer), keys: keys, now: testNow)
        }
        #expect(decide("/admin/x", Self.admin, issuer: PolicyFixture.plain).status == 200)
        #expect(decide("/admin/x", Self.realmAdmin, issuer: PolicyFixture.keycloak).status == 200)
        #expect(decide("/admin/x", Self.admin, issuer: PolicyFixture.keycloak).reason.label == "missing_role")
        #expect(decide("/admin/audit/x", Self.admin, issuer: PolicyFixture.plain).reason.label == "missing_role")
        #expect(decide("/internal/x", Self.admin, issuer: nil).reason.label == "route_denied")
    }

    @Test("a default requirement applies to unmatched requests")
    func defaultRequirement() async throws {
        let fixture = try await PolicyFixture.make(defaultAccess: .require(Requirement(roles: .anyOf(["staff"]))))
        #expect(try fixture.decide("GET", "/unlisted", claims: nil).reason.label == "token_missing")
        #expect(try fixture.decide("GET", "/unlisted", claims: Self.admin).reason.label == "missing_role")
        let allowed = try fixture.decide("GET", "/unlisted", claims: ["roles": .array([.string("staff")])])
        #expect(allowed.status == 200)
        #expect(allowed.routeID == "default")
        #expect(try fixture.decide("GET", "/unlisted/../x", claims: nil).status == 400)
    }

    @Test("an allowed decision carries the normalised target to forward, with the query untouched")
    func forwardTarget() async throws {
        let fixture = try await PolicyFixture.make()
        let decision = try fixture.decide("GET", "//orders//%34%32?q=%2F..%2F&x", claims: ["scope": .string("orders:read")])
        #expect(decision.status == 200)
        #expect(decision.target?.path == "/orders/42")
        #expect(decision.target?.forwardTarget == "/orders/42?q=%2F..%2F&x")
    }
}
