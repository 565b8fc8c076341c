import ArgumentParser
import GatehouseConfig

/// `gatehouse check`: validate routes.yaml without serving.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate routes.yaml: schema, patterns, clashes, keys and secrets.",
        discussion: "Prints every problem as FILE:LINE:COL: message. Exits 0 when valid, 1 when not."
    )

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration = try await loadConfiguration(options.config)
        print(
            "\(options.config): valid (\(configuration.policy.routes.routes.count) routes, \(configuration.issuers.count) issuers, \(configuration.tests.count) tests, \(configuration.warnings.count) warnings)"
        )
    }
}
