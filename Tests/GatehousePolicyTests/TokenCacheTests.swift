import GatehouseKeys
import GatehousePolicy
import Testing

/// The verified-token cache saves signature checks and nothing else: it never turns an invalid token valid, never
/// outlives a token's `exp`, and is never reused under other keys.
struct TokenCacheTests {
    private static func policy(_ fixture: IssuerFixture, cache: TokenCache) throws -> Policy {
        Policy(
            routes: try RouteTable([
                Route(id: "me", pattern: try PathPattern("/me"), access: .require(Requirement())),
                Route(id: "admin", pattern: try PathPattern("/admin/**"), access: .require(Requirement(roles: .anyOf(["admin"])))),
            ]),
            verifier: fixture.verifier, cache: cache)
    }

    /// An issuer fixture and a policy over it with a cache of `capacity` entries.
    private static func cached(
        capacity: Int, leeway: Double = 30, generation: UInt64 = 1
    ) async throws -> (IssuerFixture, TokenCache, Policy) {
        let fixture = try await IssuerFixture.make(leeway: leeway, generation: generation)
        let cache = TokenCache(capacity: capacity)
        return (fixture, cache, try policy(fixture, cache: cache))
    }

    private static func decide(_ policy: Policy, _ token: String, keys: KeySet, at now: Double, target: String = "/me") -> Decision {
        policy.decide(method: "GET", target: target, credential: .authorization([Substring("Bearer " + token)]), keys: keys, now: now)
    }

    private static func flipSignatureBit(_ token: String) throws -> String {
        var parts = Forge.parts(token)
        var signature = try #require(Base64URL.decode(Array(parts[2].utf8)))
        signature[0] ^= 0x01
        parts[2] = Base64URL.encode(signature)
        return parts.joined(separator: ".")
    }

    @Test("a reused token is served from the cache")
    func hits() async throws {
        let (fixture, cache, policy) = try await Self.cached(capacity: 100)
        let token = try fixture.mint()
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow + 1).status == 200)
        #expect(cache.statistics.count == 1)
        #expect(cache.statistics.hits == 1)
    }

    @Test("a cached token stops being accepted once it has expired")
    func cachedTokenExpires() async throws {
        let (fixture, cache, policy) = try await Self.cached(capacity: 100, leeway: 30)
        let token = try fixture.mint(["exp": .number(testNow + 60)])
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow + 59).status == 200)
        #expect(cache.statistics.hits == 1)
        let late = Self.decide(policy, token, keys: fixture.keys, at: testNow + 60 + 31)
        #expect(late.status == 401)
        #expect(late.reason.label == "token_expired")
    }

    @Test("with no leeway, a cached token is refused one second after exp")
    func cachedTokenExpiresWithoutLeeway() async throws {
        let (fixture, _, policy) = try await Self.cached(capacity: 100, leeway: 0)
        let token = try fixture.mint(["exp": .number(testNow + 60)])
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow + 61).reason.label == "token_expired")
    }

    @Test(
        "the cache never changes an answer: cached and uncached policies agree at every moment",
        arguments: [0.0, 1, 59, 60, 61, 89, 90, 91, 3600])
    func cacheNeverChangesAnswer(offset: Double) async throws {
        let fixture = try await IssuerFixture.make(leeway: 30)
        let cache = TokenCache(capacity: 100)
        let cached = try Self.policy(fixture, cache: cache)
        let uncached = try Self.policy(fixture, cache: TokenCache(capacity: 0))
        let token = try fixture.mint(["exp": .number(testNow + 60)])
        // Warm the cache at issue time: the comparison below is between a cached answer and a fresh one.
        #expect(Self.decide(cached, token, keys: fixture.keys, at: testNow).status == 200)
        #expect(cache.statistics.count == 1)
        let a = Self.decide(cached, token, keys: fixture.keys, at: testNow + offset)
        let b = Self.decide(uncached, token, keys: fixture.keys, at: testNow + offset)
        #expect(a.status == b.status)
        #expect(a.reason == b.reason)
    }

    @Test("a cached entry is not reused under a new key set generation")
    func newGeneration() async throws {
        let (fixture, _, policy) = try await Self.cached(capacity: 100, generation: 1)
        let token = try fixture.mint()
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)

        // The key was rotated out: the new snapshot holds only another key.
        let rotated = KeySet(
            keysByIssuer: [IssuerFixture.defaultIssuer: [try await TestKeyMaterial.p256Other.verificationKey(kid: nil, algorithm: .es256)]],
            generation: 2)
        let refused = Self.decide(policy, token, keys: rotated, at: testNow + 1)
        #expect(refused.status == 401)
        #expect(refused.reason.label == "signature_invalid")

        // An empty snapshot (keys withdrawn, or not fetched yet) refuses it too: 503 until keys arrive, never 2xx.
        let empty = KeySet(keysByIssuer: [:], generation: 3)
        let unavailable = Self.decide(policy, token, keys: empty, at: testNow + 2)
        #expect(unavailable.status == 503)
        #expect(unavailable.reason.label == "keys_unavailable")
    }

    @Test("an invalid token is never cached: the same bad token is refused every time")
    func invalidNeverCached() async throws {
        let (fixture, cache, policy) = try await Self.cached(capacity: 100)
        let bad = [
            try fixture.mint(["aud": .string("other")]),
            try fixture.mint(["exp": .number(testNow - 3600), "iat": .number(testNow - 4000)]),
            try fixture.mint(["sub": .string("alice\r\nX-Auth-Roles: admin")]),
            try Self.flipSignatureBit(try fixture.mint()),
        ]
        for token in bad {
            let first = Self.decide(policy, token, keys: fixture.keys, at: testNow)
            let second = Self.decide(policy, token, keys: fixture.keys, at: testNow)
            #expect(first.status == 401)
            #expect(second.status == 401)
            #expect(first.reason == second.reason)
        }
        #expect(cache.statistics.count == 0)
    }

    @Test("a token that was refused while not yet valid is judged afresh later")
    func notYetValidThenValid() async throws {
        let (fixture, _, policy) = try await Self.cached(capacity: 100)
        let token = try fixture.mint(["nbf": .number(testNow + 120), "exp": .number(testNow + 600)])
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).reason.label == "token_not_yet_valid")
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow + 120).status == 200)
    }

    @Test("a second spelling of a cached token is not served from the cache")
    func nonCanonicalVariantOfCachedToken() async throws {
        let (fixture, _, policy) = try await Self.cached(capacity: 100)
        let token = try fixture.mint()
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        for variant in [token + "=", token + " ", " " + token] {
            #expect(Self.decide(policy, variant, keys: fixture.keys, at: testNow).status == 401)
        }
    }

    @Test("a forged token that ends like a cached one is judged on its own bytes")
    func sameSignatureOtherPayload() async throws {
        let (fixture, cache, policy) = try await Self.cached(capacity: 100)
        let token = try fixture.mint(["roles": .array([.string("users")])])
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        // The cached token's signature under another payload: the same length and last bytes, so the same bucket
        // in the cache, but not the same key.
        var parts = Forge.parts(token)
        let admin = try fixture.mint(["roles": .array([.string("admin")])])
        parts[1] = Forge.parts(admin)[1]
        let forged = parts.joined(separator: ".")
        // The same length, so the forgery lands in the genuine token's bucket: without it the test shows nothing.
        try #require(forged.utf8.count == token.utf8.count)
        let decision = Self.decide(policy, forged, keys: fixture.keys, at: testNow, target: "/admin/x")
        #expect(decision.status == 401)
        #expect(decision.reason.label == "signature_invalid")
        #expect(cache.statistics.hits == 0)
    }

    @Test("a miss is counted once per token looked up, and not for a credential that is no token")
    func missesCountTokens() async throws {
        let (fixture, cache, policy) = try await Self.cached(capacity: 100)
        let token = try fixture.mint()
        for malformed in ["a b", " " + token, token + "\tx"] {
            #expect(Self.decide(policy, malformed, keys: fixture.keys, at: testNow).status == 401)
        }
        #expect(cache.statistics.misses == 0)
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        #expect(cache.statistics.misses == 1)
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        #expect(cache.statistics.misses == 1)
        #expect(cache.statistics.hits == 1)
    }

    @Test("requirements are checked on every request, cached token or not")
    func requirementsStillChecked() async throws {
        let (fixture, _, policy) = try await Self.cached(capacity: 100)
        let token = try fixture.mint()
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        let admin = Self.decide(policy, token, keys: fixture.keys, at: testNow, target: "/admin/x")
        #expect(admin.status == 403)
        #expect(admin.reason.label == "missing_role")
    }

    @Test("the cache is bounded")
    func bounded() async throws {
        let (fixture, cache, policy) = try await Self.cached(capacity: 8)
        for index in 0..<50 {
            let token = try fixture.mint(["jti": .string("t\(index)")])
            #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
            #expect(cache.statistics.count <= 8)
        }
    }

    @Test("capacity 0 disables caching")
    func disabled() async throws {
        let (fixture, cache, policy) = try await Self.cached(capacity: 0)
        let token = try fixture.mint()
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        #expect(Self.decide(policy, token, keys: fixture.keys, at: testNow).status == 200)
        #expect(cache.statistics.count == 0)
        #expect(cache.statistics.hits == 0)
    }
}
