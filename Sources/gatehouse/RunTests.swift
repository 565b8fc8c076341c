import ArgumentParser
import GatehouseConfig
import GatehouseProxy

/// `gatehouse test`: run the policy tests written in routes.yaml.
struct RunTests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run the tests: section of routes.yaml against the policy.",
        discussion: """
            Each test is sent as a real HTTP request to Gatehouse, started on an ephemeral loopback port in front of
            an embedded mock upstream that records what reaches it (--offline judges with the policy alone). Tokens
            are minted for each test with valid iss, aud, iat and exp; where the file holds only public keys, a fresh
            key of the same type is swapped in while the tests run. Exits 1 on any failure.
            """
    )

    @OptionGroup var options: ConfigOption

    @Flag(help: "Judge each test with the policy alone, without starting the proxy and the mock upstream.")
    var offline = false

    @Flag(help: "Send each test through the real proxy and the mock upstream (the default).")
    var live = false

    func validate() throws {
        if offline && live { throw ValidationError("give --live or --offline, not both") }
    }

    func run() async throws {
        let configuration = try await loadConfiguration(options.config)
        guard !configuration.tests.isEmpty else {
            printError("\(options.config): no tests: add a tests: section (see the README)")
            throw ExitCode(1)
        }
        let results: [PolicyTestRunner.Result]
        if offline {
            results = try await PolicyTestRunner(configuration: configuration).run(now: currentTime())
        } else {
            results = try await LiveTestRunner(configuration: configuration).run(now: { currentTime() })
        }
        for result in results { print(result.line) }
        let failed = results.filter { !$0.passed }.count
        print("\(results.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }
}
