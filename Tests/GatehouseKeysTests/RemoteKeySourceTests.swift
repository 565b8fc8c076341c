import GatehouseKeys
import GatehousePolicy
import Logging
import Synchronization
import Testing

/// A scripted identity provider: answers each URL with the next prepared document, and counts requests.
final class ScriptedFetcher: KeyFetcher {
    private let state = Mutex<(responses: [String: [Result<FetchedDocument, TestFailure>]], counts: [String: Int])>(([:], [:]))

    struct TestFailure: Error {}

    func script(_ url: String, _ responses: [Result<FetchedDocument, TestFailure>]) {
        state.withLock { $0.responses[url] = responses }
    }

    func count(_ url: String) -> Int { state.withLock { $0.counts[url] ?? 0 } }

    func get(_ url: String, timeout: Double, maxBytes: Int) async throws -> FetchedDocument {
        let next = state.withLock { state -> Result<FetchedDocument, TestFailure> in
            state.counts[url, default: 0] += 1
            var queue = state.responses[url] ?? []
            guard !queue.isEmpty else { return .failure(TestFailure()) }
            // The last response repeats.
            let first = queue.count > 1 ? queue.removeFirst() : queue[0]
            state.responses[url] = queue
            return first
        }
        return try next.get()
    }
}

/// Records every key set a source publishes (their kids, sorted).
final class Published: Sendable {
    private let sets = Mutex<[[String]]>([])
    func append(_ kids: [String]) { sets.withLock { $0.append(kids) } }
    var all: [[String]] { sets.withLock { $0 } }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let value = Mutex<Double>(1_800_000_000)
    func now() -> Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}

/// Builds JWKS documents for RSA keys under chosen kids.
struct JWKSFixture {
    let keys: [(kid: String, material: KeyMaterial)]

    static func make(kids: [String]) throws -> JWKSFixture {
        JWKSFixture(keys: try kids.map { ($0, try KeyMaterial.generate(.rsa)) })
    }

    func document(maxAge: Double? = nil) throws -> FetchedDocument {
        var entries = [String]()
        for (kid, material) in keys {
            guard case .rsaPrivate(let key) = material else { continue }
            let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
            entries.append(
                "{\"kty\":\"RSA\",\"kid\":\"\(kid)\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\"\(Base64URL.encode(modulus))\",\"e\":\"\(Base64URL.encode(exponent))\"}")
        }
        return FetchedDocument(status: 200, maxAge: maxAge, body: Array("{\"keys\":[\(entries.joined(separator: ","))]}".utf8))
    }
}

@Suite struct RemoteKeySourceTests {
    let issuer = IssuerPolicy(issuer: "https://idp.test/", audiences: ["api"], algorithms: [.rs256])
    let jwksURL = "https://idp.test/jwks.json"
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func source(_ fetcher: ScriptedFetcher, clock: ManualClock, published: Published, location: RemoteKeySource.Settings.Location? = nil) -> RemoteKeySource {
        RemoteKeySource(
            issuer: issuer, settings: RemoteKeySource.Settings(location: location ?? .jwks(jwksURL)), fetcher: fetcher,
            logger: quiet, clock: { clock.now() },
            onUpdate: { keys in published.append(keys.compactMap(\.kid).sorted()) })
    }

    @Test func rotationReplacesTheKeySet() async throws {
        let fetcher = ScriptedFetcher()
        let first = try JWKSFixture.make(kids: ["k1"])
        let rotated = try JWKSFixture.make(kids: ["k2"])
        fetcher.script(jwksURL, [.success(try first.document()), .success(try rotated.document())])
        let published = Published()
        let source = source(fetcher, clock: ManualClock(), published: published)
        await source.refresh(reason: "test")
        #expect(source.keys.compactMap { $0.kid } == ["k1"])
        await source.refresh(reason: "test")
        #expect(source.keys.compactMap { $0.kid } == ["k2"], "the old kid is gone once the provider drops it")
        #expect(published.all == [["k1"], ["k2"]])
    }

    @Test(arguments: [
        "not json", "{\"keys\":[]}", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", "{\"nokeys\":true}",
    ])
    func garbageNeverReplacesGoodKeys(body: String) async throws {
        let fetcher = ScriptedFetcher()
        let good = try JWKSFixture.make(kids: ["good"])
        fetcher.script(jwksURL, [.success(try good.document()), .success(FetchedDocument(status: 200, maxAge: nil, body: Array(body.utf8)))])
        let published = Published()
        let source = source(fetcher, clock: ManualClock(), published: published)
        await source.refresh(reason: "test")
        await source.refresh(reason: "test")
        #expect(source.keys.compactMap { $0.kid } == ["good"])
        #expect(published.all == [["good"]], "nothing but the good set was ever published")
    }

    @Test(arguments: [500, 503, 302, 404])
    func failedFetchesKeepTheLastGoodKeys(status: Int) async throws {
        let fetcher = ScriptedFetcher()
        let good = try JWKSFixture.make(kids: ["good"])
        fetcher.script(jwksURL, [.success(try good.document()), .success(FetchedDocument(status: status, maxAge: nil, body: []))])
        let published = Published()
        let source = source(fetcher, clock: ManualClock(), published: published)
        await source.refresh(reason: "test")
        await source.refresh(reason: "test")
        #expect(source.keys.compactMap { $0.kid } == ["good"])
    }

    @Test func providerDownAtStartMeansNoKeysUntilItAnswers() async throws {
        let fetcher = ScriptedFetcher()
        let published = Published()
        let source = source(fetcher, clock: ManualClock(), published: published)
        fetcher.script(jwksURL, [.failure(ScriptedFetcher.TestFailure())])
        await source.refresh(reason: "test")
        #expect(source.keys.isEmpty)
        #expect(published.all.isEmpty)
        fetcher.script(jwksURL, [.success(try JWKSFixture.make(kids: ["late"]).document())])
        await source.refresh(reason: "test")
        #expect(source.keys.compactMap { $0.kid } == ["late"])
    }

    @Test func unknownKidStormCausesAtMostOneFetchPerCooldown() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.script(jwksURL, [.success(try JWKSFixture.make(kids: ["k1"]).document())])
        let clock = ManualClock()
        let published = Published()
        let source = source(fetcher, clock: clock, published: published)
        await source.refresh(reason: "start")
        #expect(fetcher.count(jwksURL) == 1)

        var started = 0
        for index in 0..<1000 where source.unknownKey(kid: "random-\(index)") { started += 1 }
        #expect(started == 1, "one refetch for a thousand random kids")
        try await waitUntil { fetcher.count(jwksURL) == 2 && !source.isFetching }
        for index in 0..<1000 where source.unknownKey(kid: "again-\(index)") { started += 1 }
        #expect(started == 1, "still within the cooldown")
        #expect(fetcher.count(jwksURL) == 2)

        clock.advance(31)
        #expect(source.unknownKey(kid: "after-cooldown"))
        try await waitUntil { fetcher.count(jwksURL) == 3 && !source.isFetching }
        #expect(!source.unknownKey(kid: "after-cooldown"), "the kid just looked for in vain is remembered")
        #expect(fetcher.count(jwksURL) == 3)
    }

    @Test func discoveryFollowsJwksURIOfTheSameIssuer() async throws {
        let fetcher = ScriptedFetcher()
        let discovery = "https://idp.test/.well-known/openid-configuration"
        fetcher.script(discovery, [.success(FetchedDocument(status: 200, maxAge: nil, body: Array("{\"issuer\":\"https://idp.test/\",\"jwks_uri\":\"\(jwksURL)\"}".utf8)))])
        fetcher.script(jwksURL, [.success(try JWKSFixture.make(kids: ["d1"]).document())])
        let published = Published()
        let source = source(fetcher, clock: ManualClock(), published: published, location: RemoteKeySource.Settings.Location.discovery("https://idp.test/"))
        await source.refresh(reason: "test")
        #expect(source.keys.compactMap { $0.kid } == ["d1"])
    }

    @Test func discoveryNamingAnotherIssuerIsRefused() async throws {
        let fetcher = ScriptedFetcher()
        let discovery = "https://idp.test/.well-known/openid-configuration"
        fetcher.script(discovery, [.success(FetchedDocument(status: 200, maxAge: nil, body: Array("{\"issuer\":\"https://evil.test/\",\"jwks_uri\":\"\(jwksURL)\"}".utf8)))])
        fetcher.script(jwksURL, [.success(try JWKSFixture.make(kids: ["d1"]).document())])
        let published = Published()
        let source = source(fetcher, clock: ManualClock(), published: published, location: RemoteKeySource.Settings.Location.discovery("https://idp.test/"))
        await source.refresh(reason: "test")
        #expect(source.keys.isEmpty)
        #expect(fetcher.count(jwksURL) == 0, "the key set of an issuer that does not match is never fetched")
    }

    @Test func maxAgeIsHonouredWithinBounds() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.script(jwksURL, [.success(try JWKSFixture.make(kids: ["k"]).document(maxAge: 5))])
        let clock = ManualClock()
        let published = Published()
        let source = source(fetcher, clock: clock, published: published)
        await source.refresh(reason: "test")
        #expect(source.nextRefresh - clock.now() == 60, "a max-age below the minimum is raised to it")
        fetcher.script(jwksURL, [.success(try JWKSFixture.make(kids: ["k"]).document(maxAge: 600))])
        await source.refresh(reason: "test")
        #expect(source.nextRefresh - clock.now() == 600)
        fetcher.script(jwksURL, [.success(try JWKSFixture.make(kids: ["k"]).document(maxAge: 86400))])
        await source.refresh(reason: "test")
        #expect(source.nextRefresh - clock.now() == 3600, "a max-age above the maximum is lowered to it")
    }

    /// Waits (bounded) for a background fetch to land; never asserts how long it took.
    func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<500 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("condition not reached")
    }
}
