import ArgumentParser
import GatehouseConfig

/// The `gatehouse` command.
@main
struct Gatehouse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "An authenticating, authorizing reverse proxy driven by routes.yaml.",
        version: "0.1.0",
        subcommands: [Demo.self, Serve.self, Check.self, Explain.self, RunTests.self, MintToken.self]
    )
}

/// Options shared by the commands that read `routes.yaml`.
struct ConfigOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "The route table to read.")
    var config: String = "routes.yaml"
}

/// `--listen HOST:PORT`, for the commands that run the proxy.
struct ListenOption: ParsableArguments {
    @Option(help: "Listen on HOST:PORT instead of routes.yaml's listen.")
    var listen: String?

    /// The address to bind: `--listen` when given, otherwise `configured` (routes.yaml's `listen`).
    func address(configured: String) throws -> (host: String, port: Int) {
        guard let (host, port) = HostPort.split(listen ?? configured) else {
            throw ValidationError("--listen must be HOST:PORT")
        }
        return (host, port)
    }
}
