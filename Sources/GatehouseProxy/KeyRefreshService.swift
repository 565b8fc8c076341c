public import GatehouseConfig
import GatehouseKeys
import GatehousePolicy
public import Logging
public import ServiceLifecycle
import Synchronization

/// Runs one ``RemoteKeySource`` per issuer configured with `jwks_url` or `discovery`, publishes what they fetch to
/// the configuration in force, and forwards unknown-`kid` misses to them. Started before the listener, so the first
/// fetch begins at once; the proxy does not wait for it (protected routes answer 503 until keys arrive).
public final class KeyRefreshService: Service, Sendable {
    private struct Running {
        let source: RemoteKeySource
        let task: Task<Void, Never>
        let caFile: String?
    }

    private let store: ConfigurationStore
    private let logger: Logger
    private let makeFetcher: @Sendable (_ caFile: String?) throws -> any KeyFetcher
    private let running = Mutex<[String: Running]>([:])

    /// Creates the service; `makeFetcher` builds the HTTP client for a CA file (default: AsyncHTTPClient).
    public init(
        store: ConfigurationStore, logger: Logger,
        makeFetcher: @escaping @Sendable (_ caFile: String?) throws -> any KeyFetcher = { try HTTPKeyFetcher(caFile: $0) }
    ) {
        self.store = store
        self.logger = logger
        self.makeFetcher = makeFetcher
    }

    /// Starts sources for new remote issuers, restarts changed ones and stops removed ones.
    public func sync(with configuration: GatehouseConfiguration) {
        let wanted = Dictionary(
            configuration.issuers.compactMap { issuer in issuer.remote.map { (issuer.policy.issuer, (issuer, $0)) } },
            uniquingKeysWith: { first, _ in first })
        let store = self.store
        running.withLock { running in
            for (name, entry) in running where wanted[name].map({ $0.1 != entry.source.settings || $0.0.caFile != entry.caFile || $0.0.policy.algorithms != entry.source.issuer.algorithms }) ?? true {
                entry.task.cancel()
                running[name] = nil
                Task { await entry.source.stop() }
            }
            for (name, (issuer, settings)) in wanted where running[name] == nil {
                let fetcher: any KeyFetcher
                do {
                    fetcher = try makeFetcher(issuer.caFile)
                } catch {
                    logger.error("cannot set up key fetching", metadata: ["issuer": "\(name)", "error": "\(error)"])
                    continue
                }
                let source = RemoteKeySource(
                    issuer: issuer.policy, settings: settings, fetcher: fetcher, logger: logger,
                    onFetch: { outcome in
                        GatehouseMetrics.recordKeyLoad(issuer: name, source: issuer.sourceKind, outcome: outcome)
                    },
                    onUpdate: { keys in store.updateKeys(issuer: name, source: settings, keys: keys) })
                running[name] = Running(source: source, task: Task { await source.run() }, caFile: issuer.caFile)
            }
        }
    }

    /// A token named a key its issuer lacks: let that issuer's source decide whether to refetch.
    public func keyMiss(issuer: String, kid: String?) {
        let source = running.withLock { $0[issuer]?.source }
        source?.unknownKey(kid: kid)
    }

    /// The source of `issuer`, if it is remote (for tests and metrics).
    public func source(for issuer: String) -> RemoteKeySource? {
        running.withLock { $0[issuer]?.source }
    }

    public func run() async throws {
        sync(with: store.snapshot.configuration)
        try? await gracefulShutdown()
        stopAll()
    }

    /// Stops every source.
    public func stopAll() {
        let stopped = running.withLock { running in
            defer { running.removeAll() }
            return Array(running.values)
        }
        for entry in stopped {
            entry.task.cancel()
            Task { await entry.source.stop() }
        }
    }
}
