import Foundation
import GatehouseConfig
import GatehouseKeys
import GatehousePolicy
import Testing

/// `gatehouse test`: the `tests:` of a file run through the very `decide` the proxy uses.
struct PolicyTestRunnerTests {
    private static func run(_ yaml: String, environment: [String: String] = ConfigFixture.environment, directory: String = ".")
        async throws -> [PolicyTestRunner.Result]
    {
        let outcome = await ConfigFixture.load(yaml, environment: environment, directory: directory)
        let configuration = try #require(outcome.configuration, "\(outcome.listing)")
        return try await PolicyTestRunner(configuration: configuration).run(now: testNow)
    }

    @Test(
        "the repository's routes.yaml and examples pass their own tests",
        arguments: ["routes.yaml", "examples/keycloak.yaml", "examples/auth0.yaml", "examples/hs256-dev.yaml"])
    func repositoryFiles(file: String) async throws {
        let path = ConfigFixture.repositoryRoot + "/" + file
        let configuration: GatehouseConfiguration
        do {
            configuration = try await ConfigurationLoader(environment: ["GATEHOUSE_DEV_SECRET": ConfigFixture.secret]).load(path: path)
        } catch {
            Issue.record("\(file) does not load:\n\(error)")
            return
        }
        #expect(!configuration.tests.isEmpty)
        let results = try await PolicyTestRunner(configuration: configuration).run(now: testNow)
        for result in results where !result.passed {
            Issue.record("\(file): \(result.line)")
        }
        #expect(results.count == configuration.tests.count)
    }

    @Test("routes.yaml's tests cover 200, 400, 401 and 403")
    func routesYamlCoverage() async throws {
        let configuration = try await ConfigurationLoader(environment: [:]).load(path: ConfigFixture.repositoryRoot + "/routes.yaml")
        let statuses = Set(configuration.tests.map(\.expectedStatus))
        #expect(statuses.isSuperset(of: [200, 400, 401, 403]))
    }

    static let runnerFile = """
        version: 1
        tokens:
          issuers:
            - issuer: https://id.example.test/
              audience: orders-api
              algorithms: [HS512]
              secret_env: GH_SECRET
        routes:
          - path: /healthz
            public: true
          - id: admin
            path: /admin/**
            roles: [admin]
        tests:
          - name: right
            request: GET /admin/users
            token: {roles: [admin]}
            expect: {status: 200, route: admin}
          - name: wrong status
            request: GET /healthz
            expect: 401
          - name: wrong route
            request: GET /admin/users
            token: {roles: [admin]}
            expect: {status: 200, route: healthz}
          - name: wrong reason
            request: GET /admin/users
            expect: {status: 401, reason: token_expired}
          - name: expired
            request: GET /admin/x
            token: expired
            expect: {status: 401, reason: token_expired}
          - name: wrong audience
            request: GET /admin/x
            token: wrong_audience
            expect: {status: 401, reason: audience_mismatch}
          - name: bad signature
            request: GET /admin/x
            token: bad_signature
            expect: {status: 401, reason: signature_invalid}
          - name: none alg
            request: GET /admin/x
            token: none_alg
            expect: {status: 401, reason: algorithm_not_allowed}
          - name: raw header
            request: GET /admin/x
            authorization: Basic dXNlcjpwYXNz
            expect: {status: 401, reason: token_missing}
          - name: unsafe path
            request: GET /admin/%2e%2e/healthz
            expect: {status: 400, reason: path_unsafe}

        """

    @Test("a wrong expectation is reported as a failure; right ones pass (HS512, every token keyword)")
    func failuresReported() async throws {
        let results = try await Self.run(Self.runnerFile)
        let byName = Dictionary(results.map { ($0.test.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(results.count == 10)
        for name in ["right", "expired", "wrong audience", "bad signature", "none alg", "raw header", "unsafe path"] {
            let result = try #require(byName[name])
            #expect(result.passed, "\(result.line)")
            #expect(result.line.hasPrefix("ok "))
        }
        let wrongStatus = try #require(byName["wrong status"])
        #expect(!wrongStatus.passed)
        #expect(wrongStatus.failure?.contains("expected 401") == true)
        #expect(wrongStatus.line.hasPrefix("FAIL wrong status"))
        #expect(wrongStatus.line.contains("routes.yaml:"))

        let wrongRoute = try #require(byName["wrong route"])
        #expect(!wrongRoute.passed)
        #expect(wrongRoute.failure?.contains("expected route healthz") == true)
        #expect(wrongRoute.decision.status == 200)

        let wrongReason = try #require(byName["wrong reason"])
        #expect(!wrongReason.passed)
        #expect(wrongReason.failure?.contains("expected reason token_expired") == true)
        #expect(wrongReason.decision.reason.label == "token_missing")
    }

    @Test("a file with only a public key gets a freshly generated key of the same type for its tests")
    func publicKeySwapped() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.writeP256PublicKey(to: "keys/es.pem")
        let yaml = Self.runnerFile.replacingOccurrences(
            of: "algorithms: [HS512]\n      secret_env: GH_SECRET", with: "algorithms: [ES256]\n      pem_file: keys/es.pem")
        // The swap must have happened, or this would test the HS512 file again.
        try #require(yaml != Self.runnerFile)
        let results = try await Self.run(yaml, directory: directory.path)
        #expect(results.filter(\.passed).count == 7, "\(results.map(\.line).joined(separator: "\n"))")
    }

    @Test("test tokens are minted relative to the time the tests run at")
    func mintedRelativeToNow() async throws {
        let outcome = await ConfigFixture.load(Self.runnerFile)
        let configuration = try #require(outcome.configuration, "\(outcome.listing)")
        let runner = try await PolicyTestRunner(configuration: configuration)
        let right = try #require(configuration.tests.first { $0.name == "right" })
        for now in [testNow, testNow + 86_400 * 365, 4_000_000_000] {
            #expect(runner.run(right, now: now).passed)
        }
    }
}
