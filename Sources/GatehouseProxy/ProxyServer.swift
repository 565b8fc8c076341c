import GatehouseConfig
public import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
public import ServiceLifecycle

/// The proxy listener: accepts client connections and gives each a ``ProxyHandler`` with the upstream pool of its
/// event loop.
public final class ProxyServer: Sendable {
    private let store: ConfigurationStore
    private let group: any EventLoopGroup
    private let environment: ProxyEnvironment
    private let logger: Logger
    private let accessLogger: Logger
    private let pools: [ObjectIdentifier: NIOLoopBoundBox<UpstreamPool?>]
    private let state = NIOLockedValueBox<State>(State())

    private struct State {
        var serverChannel: (any Channel)?
        var quiescer: ServerQuiescingHelper?
        var clients: [ObjectIdentifier: any Channel] = [:]
    }

    /// Creates a server; nothing is bound until ``start(host:port:)``.
    ///
    /// - Parameters:
    ///   - store: The configuration in force (replaceable while serving).
    ///   - group: The event loops: one per core is right.
    ///   - environment: Clock and scheme.
    ///   - logger: For operational messages.
    ///   - accessLogger: Receives one `request` entry per exchange, with metadata keys from ``LogKeys``.
    public init(
        store: ConfigurationStore, group: any EventLoopGroup, environment: ProxyEnvironment = ProxyEnvironment(),
        logger: Logger, accessLogger: Logger
    ) {
        self.store = store
        self.group = group
        self.environment = environment
        self.logger = logger
        self.accessLogger = accessLogger
        var pools = [ObjectIdentifier: NIOLoopBoundBox<UpstreamPool?>]()
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeEmptyBox(valueType: UpstreamPool.self, eventLoop: loop)
        }
        self.pools = pools
    }

    /// Binds the listener and starts accepting. Returns the bound address (useful with port 0).
    @discardableResult
    public func start(host: String, port: Int) async throws -> SocketAddress {
        let quiescer = ServerQuiescingHelper(group: group)
        let store = self.store
        let connectTimeout = TimeAmount.nanoseconds(Int64(store.snapshot.configuration.server.timeouts.connect * 1e9))
        let environment = self.environment
        let accessLogger = self.accessLogger
        let pools = self.pools
        let state = self.state
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescer.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let box = pools[ObjectIdentifier(channel.eventLoop)] else {
                        throw ChannelError.ioOnClosedChannel
                    }
                    let pool: UpstreamPool
                    if let existing = box.value {
                        pool = existing
                    } else {
                        pool = UpstreamPool(eventLoop: channel.eventLoop, connectTimeout: connectTimeout)
                        box.value = pool
                    }
                    let id = ObjectIdentifier(channel)
                    state.withLockedValue { $0.clients[id] = channel }
                    GatehouseMetrics.connectionOpened()
                    channel.closeFuture.whenComplete { _ in
                        GatehouseMetrics.connectionClosed()
                        _ = state.withLockedValue { $0.clients.removeValue(forKey: id) }
                    }
                    // Limits and TLS come from the configuration in force when the connection opens (reloads apply).
                    let snapshot = store.snapshot
                    if let tls = snapshot.serverTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ProxyHandler(store: store, pool: pool, environment: environment, logger: accessLogger))
                }
            }
            .bind(host: host, port: port)
            .get()
        state.withLockedValue {
            $0.serverChannel = channel
            $0.quiescer = quiescer
        }
        guard let address = channel.localAddress else { throw ChannelError.unknownLocalAddress }
        logger.info("listening", metadata: ["address": "\(address)"])
        return address
    }

    /// Stops accepting, lets in-flight requests finish for up to `grace` seconds, then closes what is left.
    public func shutdown(grace: Double) async {
        // Taken out of the state so that it is released here, while the event loops still run.
        let quiescer = state.withLockedValue { state in
            defer {
                state.quiescer = nil
                state.serverChannel = nil
            }
            return state.quiescer
        }
        guard let quiescer else { return }
        let promise = group.next().makePromise(of: Void.self)
        quiescer.initiateShutdown(promise: promise)
        let deadline = group.next().scheduleTask(in: .nanoseconds(Int64(grace * 1e9))) {}
        let finished = promise.futureResult.map { true }
        let timedOut = deadline.futureResult.map { false }
        let clean = (try? await finished.or(timedOut).get()) ?? false
        if !clean {
            let remaining = state.withLockedValue { Array($0.clients.values) }
            logger.warning("closing connections still open after the shutdown grace period", metadata: ["count": "\(remaining.count)"])
            for channel in remaining { channel.close(promise: nil) }
        }
        deadline.cancel()
        for loop in group.makeIterator() {
            if let pool = pools[ObjectIdentifier(loop)] {
                try? await loop.submit { pool.value?.closeAll() }.get()
            }
        }
        logger.info("stopped")
    }
}

extension EventLoopFuture where Value == Bool {
    /// The first of two futures to succeed.
    fileprivate func or(_ other: EventLoopFuture<Bool>) -> EventLoopFuture<Bool> {
        let promise = eventLoop.makePromise(of: Value.self)
        self.cascade(to: promise)
        other.hop(to: eventLoop).whenSuccess { promise.succeed($0) }
        return promise.futureResult
    }
}

/// Runs a ``ProxyServer`` in a `ServiceGroup`: binds at start, drains on graceful shutdown (SIGTERM/SIGINT).
public struct ProxyService: Service {
    let server: ProxyServer
    let host: String
    let port: Int
    let grace: Double
    let onBound: @Sendable (SocketAddress) -> Void

    /// Creates the service.
    public init(server: ProxyServer, host: String, port: Int, grace: Double, onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.server = server
        self.host = host
        self.port = port
        self.grace = grace
        self.onBound = onBound
    }

    public func run() async throws {
        let address = try await server.start(host: host, port: port)
        onBound(address)
        try? await gracefulShutdown()
        await server.shutdown(grace: grace)
    }
}
