import ArgumentParser
import GatehouseConfig
import GatehouseKeys
import GatehousePolicy
import GatehouseProxy
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `gatehouse demo`: Gatehouse in front of an embedded echo upstream, with ready-to-paste curl lines.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Try Gatehouse: routes.yaml in front of an embedded echo upstream, with demo tokens.",
        discussion: """
            Starts an echo upstream (it answers with a JSON description of the request it received, identity headers
            included) and Gatehouse in front of it using routes.yaml, with a freshly generated demo key in place of
            the issuers' keys. Prints curl lines for an anonymous caller, a reader, an admin and an expired token.
            Ctrl-C stops it.
            """
    )

    @OptionGroup var options: ConfigOption

    @OptionGroup var listenOption: ListenOption

    @Flag(help: "Print the curl lines, then exit instead of serving (for scripts).")
    var dryRun = false

    func run() async throws {
        LoggingSetup.bootstrap(level: .info)
        let configuration = try await loadConfiguration(options.config)
        let (host, port) = try listenOption.address(configured: configuration.listen)
        let keys = try await TestKeys.make(for: configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let echo = EchoUpstream(group: group)
        let echoAddress = try await echo.start()
        let echoURL = "http://127.0.0.1:\(echoAddress.port ?? 0)"
        let snapshot = try ConfigurationStore.Snapshot(
            configuration: configuration, keys: keys.keySet, upstreamOverride: echoURL)
        let logger = Logger(label: "gatehouse")
        let server = ProxyServer(
            store: ConfigurationStore(snapshot), group: group, logger: logger,
            accessLogger: Logger(label: "gatehouse.access"))
        let bound: SocketAddress
        do {
            bound = try await server.start(host: host, port: port)
        } catch {
            printError("gatehouse demo: cannot listen on \(host):\(port) (\(error)); try --listen 127.0.0.1:0")
            await echo.stop()
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(bound.port ?? port)"
        let script = try DemoScript(configuration: configuration, keys: keys, now: currentTime())
        printNow(script.render(base: base, echoURL: echoURL, file: options.config))
        if dryRun {
            await server.shutdown(grace: 1)
            await echo.stop()
            try? await group.shutdownGracefully()
            return
        }
        let service = DemoService(server: server, echo: echo)
        let serviceGroup = ServiceGroup(
            services: [service], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        try await serviceGroup.run()
        try? await group.shutdownGracefully()
    }
}

/// Keeps the demo running until Ctrl-C, then drains and stops both servers.
struct DemoService: Service {
    let server: ProxyServer
    let echo: EchoUpstream

    func run() async throws {
        try? await gracefulShutdown()
        await server.shutdown(grace: 2)
        await echo.stop()
    }
}
