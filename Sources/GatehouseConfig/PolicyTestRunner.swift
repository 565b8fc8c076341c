public import GatehousePolicy

/// Runs the `tests:` of a configuration through the very `decide` the proxy uses.
public struct PolicyTestRunner: Sendable {
    /// One test's outcome.
    public struct Result: Sendable {
        /// The test.
        public let test: PolicyTestCase
        /// What `decide` answered.
        public let decision: Decision
        /// Why the test failed, or `nil` when it passed.
        public let failure: String?

        /// Creates a result.
        public init(test: PolicyTestCase, decision: Decision, failure: String?) {
            self.test = test
            self.decision = decision
            self.failure = failure
        }

        /// Whether it passed.
        public var passed: Bool { failure == nil }

        /// One report line.
        public var line: String {
            let got = "\(decision.status) \(decision.reason.label) (route \(decision.routeID))"
            if let failure { return "FAIL \(test.name): \(failure); got \(got)  [\(test.location)]" }
            return "ok   \(test.name): \(got)"
        }
    }

    let configuration: GatehouseConfiguration
    /// The keys the tests' tokens are minted and verified with.
    public let keys: TestKeys
    let policy: Policy

    /// Prepares test keys for `configuration`.
    public init(configuration: GatehouseConfiguration) async throws {
        self.configuration = configuration
        self.keys = try await TestKeys.make(for: configuration)
        // A private cache: tests must not leave entries in the serving policy's cache.
        self.policy = configuration.policy.withoutCache()
    }

    /// Runs every test at time `now`.
    public func run(now: Double) -> [Result] {
        configuration.tests.map { run($0, now: now) }
    }

    /// Runs one test.
    public func run(_ test: PolicyTestCase, now: Double) -> Result {
        let authorization: [Substring]
        do {
            authorization = try authorizationHeader(for: test, now: now).map { [Substring($0)] } ?? []
        } catch {
            let decision = policy.decide(method: test.method, target: test.target, credential: .authorization([]), keys: keys.keySet, now: now)
            return Result(test: test, decision: decision, failure: "could not mint the token: \(error)")
        }
        let decision = policy.decide(
            method: test.method, target: test.target, credential: .authorization(authorization), keys: keys.keySet,
            now: now)
        var problems = [String]()
        if decision.status != test.expectedStatus { problems.append("expected \(test.expectedStatus)") }
        if let route = test.expectedRoute, route != decision.routeID { problems.append("expected route \(route)") }
        if let reason = test.expectedReason, reason != decision.reason.label { problems.append("expected reason \(reason)") }
        return Result(test: test, decision: decision, failure: problems.isEmpty ? nil : problems.joined(separator: ", "))
    }

    /// The `Authorization` value a test sends, minted at `now`; `nil` for none.
    public func authorizationHeader(for test: PolicyTestCase, now: Double) throws -> String? {
        // These two need no issuer.
        switch test.token {
        case .none: return nil
        case .rawHeader(let value): return value
        default: break
        }
        let issuerName = test.issuer ?? configuration.issuers.first?.policy.issuer
        guard let issuerName, let issuer = configuration.policy.verifier.issuers[issuerName],
            let minter = keys.minters[issuerName]
        else {
            throw TestError(description: "no issuer to mint a token for")
        }
        switch test.token {
        case .none, .rawHeader:
            return nil  // answered above
        case .claims(let given):
            guard case .object(let members) = given else { return nil }
            return "Bearer " + (try minter.mint(TestKeys.claims(members, issuer: issuer, now: now)))
        case .expired:
            let claims = TestKeys.claims(
                ["exp": .number((now - 3600).rounded()), "iat": .number((now - 3900).rounded())], issuer: issuer, now: now)
            return "Bearer " + (try minter.mint(claims))
        case .wrongAudience:
            let claims = TestKeys.claims(["aud": .string("not-" + (issuer.audiences?.first ?? "this-service"))], issuer: issuer, now: now)
            return "Bearer " + (try minter.mint(claims))
        case .badSignature:
            guard let stranger = keys.strangers[issuerName] else { throw TestError(description: "no key to forge with") }
            return "Bearer " + (try stranger.mint(TestKeys.claims([:], issuer: issuer, now: now)))
        case .noneAlgorithm:
            let header = Base64URL.encode(Array("{\"alg\":\"none\",\"typ\":\"JWT\"}".utf8))
            let payload = Base64URL.encode(Array(TestKeys.claims([:], issuer: issuer, now: now).jsonText.utf8))
            return "Bearer \(header).\(payload)."
        }
    }

    struct TestError: Error, CustomStringConvertible {
        let description: String
    }
}
