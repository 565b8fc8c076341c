import FoundationEssentials
public import GatehouseConfig
import GatehousePolicy
public import Logging
public import ServiceLifecycle
import Synchronization
import UnixSignals

/// Safe hot reload: re-reads `routes.yaml` (and the key files it names) when they change or on SIGHUP, and puts
/// the new configuration in force only when it loads without error **and** its `tests:` pass. A bad file changes
/// nothing: the running configuration stays, every problem is logged as `file:line:col: message`.
///
/// Changes are detected by content, polled, so editors that save by rename and Kubernetes ConfigMap symlink swaps
/// are seen like any other write.
public final class ConfigurationReloader: Sendable {
    /// What a reload attempt did.
    public enum Outcome: Sendable, Equatable {
        /// Nothing changed on disk.
        case unchanged
        /// The new configuration is in force; the summary says what changed.
        case applied(summary: String)
        /// The new configuration was refused; the old one stays.
        case rejected(problems: [String])
    }

    private let path: String
    private let store: ConfigurationStore
    private let loader: ConfigurationLoader
    private let upstreamOverride: String?
    private let logger: Logger
    private let seen: Mutex<[String: [UInt8]]>
    private let counts = Mutex<(applied: Int, rejected: Int)>((0, 0))
    private let busy = Mutex(false)
    private let onApplied: @Sendable (GatehouseConfiguration) -> Void

    /// Creates a reloader for the configuration at `path`, now in force in `store`.
    public init(
        path: String, store: ConfigurationStore, loader: ConfigurationLoader = ConfigurationLoader(),
        upstreamOverride: String? = nil, logger: Logger,
        onApplied: @escaping @Sendable (GatehouseConfiguration) -> Void = { _ in }
    ) {
        self.onApplied = onApplied
        self.path = path
        self.store = store
        self.loader = loader
        self.upstreamOverride = upstreamOverride
        self.logger = logger
        self.seen = Mutex(Self.contents(of: store.snapshot.configuration.files))
    }

    /// Reloads applied and rejected so far.
    public var statistics: (applied: Int, rejected: Int) { counts.withLock { $0 } }

    /// Reloads if any watched file changed (or always, with `force`).
    @discardableResult
    public func reloadIfChanged(force: Bool = false) async -> Outcome {
        // One reload at a time: a poll that comes during a SIGHUP reload simply looks again next time.
        guard busy.withLock({ busy in defer { busy = true }; return !busy }) else { return .unchanged }
        defer { busy.withLock { $0 = false } }
        let watched = seen.withLock { $0 }
        let current = Self.contents(of: Array(watched.keys))
        guard force || current != watched else { return .unchanged }
        // Remember what was looked at, so that a bad file is reported once, not on every poll.
        seen.withLock { $0 = current }
        return await reload()
    }

    private func reload() async -> Outcome {
        let configuration: GatehouseConfiguration
        do {
            configuration = try await loader.load(path: path)
        } catch {
            let problems = error.diagnostics.map(\.description)
            return reject(problems, reason: "invalid configuration")
        }
        if !configuration.tests.isEmpty {
            do {
                let results = try await PolicyTestRunner(configuration: configuration).run(now: Date().timeIntervalSince1970)
                let failures = results.filter { !$0.passed }.map(\.line)
                if !failures.isEmpty { return reject(failures, reason: "its tests fail") }
            } catch {
                return reject(["\(path): cannot run the tests: \(error)"], reason: "its tests could not run")
            }
        }
        // Keys fetched from identity providers carry over (inside the store's lock) when the source is unchanged.
        let previous: GatehouseConfiguration
        do {
            previous = try store.replace(reloaded: configuration, upstreamOverride: upstreamOverride)
        } catch {
            return reject(["\(path): \(error)"], reason: "invalid upstream or TLS files")
        }
        onApplied(configuration)
        // Watch the key files the new configuration names too (the YAML bytes seen stay those that were loaded).
        let yaml = seen.withLock { $0[path] }
        seen.withLock { seen in
            seen = Self.contents(of: configuration.files)
            if let yaml { seen[path] = yaml }
        }
        counts.withLock { $0.applied += 1 }
        GatehouseMetrics.recordReload(outcome: "applied")
        GatehouseMetrics.recordConfiguration(hash: configuration.contentHash, previous: previous.contentHash)
        for issuer in configuration.issuers {
            GatehouseMetrics.recordKeyLoad(issuer: issuer.policy.issuer, source: issuer.sourceKind, outcome: "loaded")
        }
        let summary = Self.summary(from: previous, to: configuration)
        for warning in configuration.warnings { logger.warning("\(warning.description)") }
        if configuration.listen != previous.listen {
            logger.warning("listen changed to \(configuration.listen); the listener moves only on restart")
        }
        logger.info("configuration reloaded", metadata: ["summary": .string(summary)])
        return .applied(summary: summary)
    }

    private func reject(_ problems: [String], reason: String) -> Outcome {
        counts.withLock { $0.rejected += 1 }
        GatehouseMetrics.recordReload(outcome: "rejected")
        for problem in problems { logger.error("\(problem)") }
        logger.error("configuration reload refused (\(reason)); the running configuration stays in force")
        return .rejected(problems: problems)
    }

    private static func contents(of files: [String]) -> [String: [UInt8]] {
        var result = [String: [UInt8]]()
        for file in files {
            result[file] = FileManager.default.contents(atPath: file).map { Array($0) } ?? []
        }
        return result
    }

    /// `routes: +2 -1 ~1 (added: a, b; removed: c; changed: d)`, or `no route changes`.
    static func summary(from old: GatehouseConfiguration, to new: GatehouseConfiguration) -> String {
        func fingerprint(_ route: Route) -> String {
            "\(route.pattern) \(route.methods?.sorted() ?? []) \(route.access) \(route.upstream ?? "")"
        }
        let before = Dictionary(old.policy.routes.routes.map { ($0.id, fingerprint($0)) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new.policy.routes.routes.map { ($0.id, fingerprint($0)) }, uniquingKeysWith: { a, _ in a })
        let added = after.keys.filter { before[$0] == nil }.sorted()
        let removed = before.keys.filter { after[$0] == nil }.sorted()
        let changed = after.keys.filter { before[$0] != nil && before[$0] != after[$0] }.sorted()
        var parts = [String]()
        if !added.isEmpty { parts.append("added: \(added.joined(separator: ", "))") }
        if !removed.isEmpty { parts.append("removed: \(removed.joined(separator: ", "))") }
        if !changed.isEmpty { parts.append("changed: \(changed.joined(separator: ", "))") }
        let routes = parts.isEmpty ? "no route changes" : "routes +\(added.count) -\(removed.count) ~\(changed.count) (\(parts.joined(separator: "; ")))"
        let defaultNote = old.policy.defaultAccess == new.policy.defaultAccess ? "" : ", default changed"
        return routes + defaultNote + ", \(new.issuers.count) issuers, \(new.tests.count) tests passed"
    }
}

/// Watches the configuration while `serve` runs: polls for changes every `interval` seconds and reloads on SIGHUP.
public struct ReloadService: Service {
    let reloader: ConfigurationReloader
    let interval: Double

    /// Creates the service.
    public init(reloader: ConfigurationReloader, interval: Double = 1) {
        self.reloader = reloader
        self.interval = interval
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in signals.cancelOnGracefulShutdown() {
                    await reloader.reloadIfChanged(force: true)
                }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                    if Task.isShuttingDownGracefully { break }
                    await reloader.reloadIfChanged()
                }
            }
            // Shutting down ends both loops.
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}
