import ArgumentParser
import GatehouseConfig
import GatehouseProxy
import FoundationEssentials
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// `gatehouse serve`: the proxy.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the proxy in front of the upstream named in routes.yaml.",
        discussion: """
            Every request is judged by routes.yaml: local 400/401/403 answers never reach the upstream; allowed
            requests are relayed with the caller's identity in headers. One JSON access-log line per request goes to
            standard output. Edits to routes.yaml (or its key files) and SIGHUP reload it safely: the new file takes
            effect only if it is valid and its tests pass. SIGTERM or SIGINT stops accepting, lets in-flight requests
            finish, then exits 0.
            """
    )

    @OptionGroup var options: ConfigOption

    @OptionGroup var listenOption: ListenOption

    @Option(help: "Relay to this upstream URL instead of routes.yaml's upstream.")
    var upstream: String?

    @Option(help: "Log level for operational messages (trace, debug, info, notice, warning, error).")
    var logLevel: String = "info"

    @Option(help: "Event-loop threads (default: one per core).")
    var threads: Int = System.coreCount

    @Flag(help: "Do not write the access log.")
    var noAccessLog = false

    func run() async throws {
        LoggingSetup.bootstrap(level: Logger.Level(rawValue: logLevel) ?? .info)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let configuration = try await loadConfiguration(options.config)
        guard upstream != nil || configuration.upstream != nil
            || configuration.policy.routes.routes.allSatisfy({ $0.upstream != nil || $0.access == .deny })
        else {
            printError("\(options.config): serve needs an upstream: add 'upstream: http://host:port' or pass --upstream")
            throw ExitCode(1)
        }
        let snapshot: ConfigurationStore.Snapshot
        do {
            snapshot = try ConfigurationStore.Snapshot(configuration: configuration, upstreamOverride: upstream)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        let (host, port) = try listenOption.address(configured: configuration.listen)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let logger = Logger(label: "gatehouse")
        var accessLogger = Logger(label: "gatehouse.access")
        if noAccessLog { accessLogger.logLevel = .critical }
        let store = ConfigurationStore(snapshot)
        let keyService = KeyRefreshService(store: store, logger: logger)
        let environment = ProxyEnvironment(onKeyMiss: { issuer, kid in keyService.keyMiss(issuer: issuer, kid: kid) })
        let server = ProxyServer(
            store: store, group: group, environment: environment, logger: logger, accessLogger: accessLogger)
        let service = ProxyService(
            server: server, host: host, port: port, grace: configuration.server.timeouts.shutdownGrace)
        let reloader = ConfigurationReloader(
            path: options.config, store: store, upstreamOverride: upstream, logger: logger,
            onApplied: { keyService.sync(with: $0) })
        GatehouseMetrics.recordConfiguration(hash: configuration.contentHash, previous: nil)
        for issuer in configuration.issuers {
            GatehouseMetrics.recordKeyLoad(issuer: issuer.policy.issuer, source: issuer.sourceKind, outcome: "loaded")
        }
        // Keys first: their fetches start before the listener accepts (it does not wait for them).
        var services: [any Service] = [keyService, service, ReloadService(reloader: reloader)]
        if let admin = configuration.admin, let (adminHost, adminPort) = HostPort.split(admin) {
            let probes = AdminServer.Probes(
                readiness: { store.snapshot.readiness },
                metrics: {
                    let snapshot = store.snapshot
                    GatehouseMetrics.observe(cache: snapshot.configuration.policy.cache)
                    let age = Date().timeIntervalSince1970 - snapshot.keysLoadedAt
                    for issuer in snapshot.configuration.issuers {
                        GatehouseMetrics.observeKeyAge(issuer: issuer.policy.issuer, seconds: age)
                    }
                    return registry.emitToString()
                })
            services.append(
                AdminService(server: AdminServer(group: group, probes: probes, logger: logger), host: adminHost, port: adminPort))
        }
        let serviceGroup = ServiceGroup(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        do {
            try await serviceGroup.run()
        } catch {
            printError("gatehouse: \(error)")
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        try? await group.shutdownGracefully()
    }
}


/// Runs the admin listener until shutdown.
struct AdminService: Service {
    let server: AdminServer
    let host: String
    let port: Int

    func run() async throws {
        let channel = try await server.start(host: host, port: port)
        try? await gracefulShutdown()
        try? await channel.close()
    }
}
