import GatehouseKeys
import GatehousePolicy

/// A policy like a real deployment's: four issuers with the claim shapes seen in the wild (plain `roles`/`scope`,
/// Keycloak realm and client roles, an Auth0-style URL-named roles claim with `scp` scopes), and routes for every
/// kind of requirement.
struct PolicyFixture: Sendable {
    static let plain = "https://id.example.test/"
    static let keycloak = "https://sso.example.test/realms/acme"
    static let keycloakClient = "https://sso.example.test/realms/clients"
    static let auth0 = "https://tenant.auth0.test/"
    static let audience = "orders-api"

    let policy: Policy
    let keys: KeySet
    let minters: [String: TokenMinter]

    static func issuerPolicies() throws -> [IssuerPolicy] {
        [
            IssuerPolicy(issuer: plain, audiences: [audience], algorithms: [.hs256]),
            IssuerPolicy(
                issuer: keycloak, audiences: [audience], algorithms: [.hs256],
                rolesClaim: try ClaimPath(parsing: "realm_access.roles")),
            IssuerPolicy(
                issuer: keycloakClient, audiences: [audience], algorithms: [.hs256],
                rolesClaim: try ClaimPath(parsing: "resource_access.my-app.roles")),
            IssuerPolicy(
                issuer: auth0, audiences: [audience], algorithms: [.hs256],
                rolesClaim: try ClaimPath(parsing: #"["https://example.com/roles"]"#),
                scopesClaim: try ClaimPath(parsing: "scp")),
        ]
    }

    static func routes() throws -> [Route] {
        func route(_ id: String, _ pattern: String, _ methods: Set<String>? = nil, _ access: Access) throws -> Route {
            Route(id: id, pattern: try PathPattern(pattern), methods: methods, access: access, location: "fixture:\(id)")
        }
        return [
            try route("health", "/healthz", ["GET"], .public),
            try route("internal", "/internal/**", nil, .deny),
            try route("orders-read", "/orders/**", ["GET"], .require(Requirement(scopes: .anyOf(["orders:read", "orders:write"])))),
            try route(
                "orders-write", "/orders/**", ["POST", "PUT", "PATCH", "DELETE"],
                .require(Requirement(scopes: .anyOf(["orders:write"])))),
            try route("reports", "/reports/**", nil, .require(Requirement(scopes: .allOf(["reports:read", "reports:export"])))),
            try route(
                "own-profile", "/users/{id}/**", nil,
                .require(Requirement(claims: [(ClaimPath(keys: ["sub"]), .pathParameter("id"))]))),
            try route("admin", "/admin/**", nil, .require(Requirement(roles: .anyOf(["admin"])))),
            try route("admin-audit", "/admin/audit/**", nil, .require(Requirement(roles: .allOf(["admin", "auditor"])))),
            try route("me", "/me", nil, .require(Requirement())),
            try route(
                "tenant", "/tenants/**", nil,
                .require(Requirement(claims: [(ClaimPath(keys: ["tenant"]), .oneOf(["acme", "globex"]))]))),
            try route("eu", "/eu/**", nil, .require(Requirement(claims: [(ClaimPath(keys: ["region"]), .oneOf(["eu"]))]))),
            try route(
                "billing", "/billing/**", nil,
                .require(
                    Requirement(
                        roles: .anyOf(["billing"]), scopes: .anyOf(["billing:read"]),
                        claims: [(ClaimPath(keys: ["email_verified"]), .oneOf(["true"]))]))),
            try route(
                "client-writer", "/client/**", nil,
                .require(
                    Requirement(claims: [(try ClaimPath(parsing: "resource_access.my-app.roles"), .oneOf(["writer"]))]))),
        ]
    }

    static func make(
        cache: TokenCache = TokenCache(capacity: 0),
        identityHeaders: [IdentityHeader] = IdentityHeader.defaults,
        defaultAccess: Access = .deny
    ) async throws -> PolicyFixture {
        let issuers = try issuerPolicies()
        var keysByIssuer = [String: [VerificationKey]]()
        var minters = [String: TokenMinter]()
        for issuer in issuers {
            let material = TestKeyMaterial.hmacSecret()
            keysByIssuer[issuer.issuer] = [try await material.verificationKey(kid: nil, algorithm: .hs256)]
            minters[issuer.issuer] = try await TokenMinter(key: material, algorithm: .hs256, kid: nil)
        }
        let policy = Policy(
            routes: try RouteTable(try routes()), defaultAccess: defaultAccess,
            verifier: TokenVerifier(issuers: issuers), identityHeaders: identityHeaders, cache: cache)
        return PolicyFixture(policy: policy, keys: KeySet(keysByIssuer: keysByIssuer, generation: 1), minters: minters)
    }

    /// A token of `issuer` with valid `iss`, `aud`, `iat`, `exp` (and `sub: alice`) unless overridden.
    func token(
        _ claims: [String: JSONValue] = [:], issuer: String = plain, removing: [String] = [], now: Double = testNow,
        lifetime: Double = 300
    ) throws -> String {
        var members: [String: JSONValue] = [
            "iss": .string(issuer), "aud": .string(Self.audience), "sub": .string("alice"),
            "iat": .number(now), "exp": .number(now + lifetime),
        ]
        members.merge(claims) { _, new in new }
        for name in removing { members[name] = nil }
        return try minters[issuer]!.mint(.object(members))
    }

    /// Decides with exactly these `Authorization` header values.
    func decide(_ method: String, _ target: String, authorization: [String], now: Double = testNow) -> Decision {
        policy.decide(
            method: method, target: target, credential: .authorization(authorization.map { Substring($0) }), keys: keys,
            now: now)
    }

    /// Decides with a bearer token carrying `claims` (`nil`: no `Authorization` header at all).
    func decide(
        _ method: String, _ target: String, claims: [String: JSONValue]?, issuer: String = plain, now: Double = testNow
    ) throws -> Decision {
        guard let claims else { return decide(method, target, authorization: [], now: now) }
        return decide(method, target, authorization: ["Bearer " + (try token(claims, issuer: issuer))], now: now)
    }
}
