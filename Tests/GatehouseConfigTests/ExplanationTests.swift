import GatehouseConfig
import GatehouseKeys
import GatehousePolicy
import Testing

/// `gatehouse explain`: the same decision as the proxy, with every step; the last line is always
/// `decision: <status> <reason>`.
struct ExplanationTests {
    private static func configuration() async throws -> GatehouseConfiguration {
        let outcome = await ConfigFixture.load(ConfigFixture.valid)
        return try #require(outcome.configuration, "\(outcome.listing)")
    }

    private static func token(_ claims: [String: JSONValue], now: Double = testNow) async throws -> String {
        let secret = try KeyFiles.readSecret(env: "S", environment: ["S": ConfigFixture.secret])
        let minter = try await TokenMinter(key: secret, algorithm: .hs256, kid: nil)
        var members: [String: JSONValue] = [
            "iss": .string("https://id.example.test/"), "aud": .string("orders-api"), "sub": .string("alice"),
            "iat": .number(now), "exp": .number(now + 300),
        ]
        members.merge(claims) { $1 }
        return try minter.mint(.object(members))
    }

    @Test(
        "the last line is the decision, for a valid, an expired and an under-privileged token",
        arguments: [
            ("valid", "decision: 200 authorized"),
            ("expired", "decision: 401 token_expired"),
            ("under-privileged", "decision: 403 missing_role"),
            ("none", "decision: 401 token_missing"),
        ])
    func lastLine(kind: String, expected: String) async throws {
        let configuration = try await Self.configuration()
        let headers: [Substring]
        switch kind {
        case "valid": headers = ["Bearer " + (try await Self.token(["roles": .array([.string("admin")])]))]
        case "expired": headers = ["Bearer " + (try await Self.token(["roles": .array([.string("admin")])], now: testNow - 3600))]
        case "under-privileged": headers = ["Bearer " + (try await Self.token([:]))]
        default: headers = []
        }
        let explanation = Explanation.explain(
            policy: configuration.policy, method: "GET", target: "/admin//users", credential: .authorization(headers),
            keys: configuration.keys, now: testNow)
        let lines = explanation.text.split(separator: "\n").map(String.init)
        #expect(lines.last == expected)
        #expect(lines.contains("normalised path: /admin/users"))
        #expect(lines.contains { $0.hasPrefix("route: admin") })
        for header in headers { #expect(!explanation.text.contains(header.dropFirst("Bearer ".count))) }
    }

    @Test("a refused path explains why, and the JSON form carries the same decision")
    func refusedPath() async throws {
        let configuration = try await Self.configuration()
        let explanation = Explanation.explain(
            policy: configuration.policy, method: "GET", target: "/healthz/..%2fadmin", credential: .authorization([]),
            keys: configuration.keys, now: testNow)
        #expect(explanation.text.split(separator: "\n").last == "decision: 400 path_unsafe")
        let json = try StrictJSONParser.parse(Array(explanation.json.utf8))
        #expect(json["status"] == .number(400))
        #expect(json["reason"] == .string("path_unsafe"))
        #expect(json["allowed"] == .bool(false))
    }

    @Test("the winning route is shown with the routes it beat")
    func alsoMatches() async throws {
        let outcome = await ConfigFixture.load(
            ConfigFixture.valid(replacing: "  - id: admin\n", with: "  - id: admin-users\n    path: /admin/users\n    roles: [root]\n  - id: admin\n"))
        let configuration = try #require(outcome.configuration, "\(outcome.listing)")
        let explanation = Explanation.explain(
            policy: configuration.policy, method: "GET", target: "/admin/users", credential: .claims(.object([:]), issuer: nil),
            keys: configuration.keys, now: testNow)
        #expect(explanation.matchingRoutes.map(\.id) == ["admin-users", "admin"])
        #expect(explanation.text.contains("also matches: admin"))
        #expect(explanation.text.split(separator: "\n").last == "decision: 403 missing_role")
    }
}
