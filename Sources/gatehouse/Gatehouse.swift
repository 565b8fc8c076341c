import ArgumentParser

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
