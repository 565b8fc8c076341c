import FoundationEssentials
public import GatehouseConfig
public import GatehousePolicy
import Synchronization

/// The configuration in force. Replaced whole and atomically: a request keeps the snapshot it started with, new
/// requests see the new one.
public final class ConfigurationStore: Sendable {
    /// Everything one request needs, immutable.
    public struct Snapshot: Sendable {
        /// The validated configuration.
        public let configuration: GatehouseConfiguration
        /// The keys in force.
        public let keys: KeySet
        /// The default upstream.
        let upstream: UpstreamAddress?
        /// Route id → its own upstream.
        let routeUpstreams: [String: UpstreamAddress]
        /// Folded names of the identity headers, for stripping client copies.
        let identityNames: Set<String>
        /// When the keys were loaded (seconds since 1970), for the key-age metric.
        public let keysLoadedAt: Double

        /// Whether every issuer has at least one key, and if not which lacks them.
        public var readiness: (ready: Bool, detail: String) {
            let missing = configuration.issuers.map(\.policy.issuer).filter { (keys.keysByIssuer[$0] ?? []).isEmpty }
            if missing.isEmpty { return (true, "configuration loaded; keys for \(configuration.issuers.count) issuer(s)") }
            return (false, "no keys yet for \(missing.joined(separator: ", "))")
        }

        /// The same configuration with other keys, keeping the upstream choice of `previous`.
        init(configuration: GatehouseConfiguration, keys: KeySet, carrying previous: Snapshot) throws {
            self.configuration = configuration
            self.keys = keys
            self.upstream = previous.upstream
            self.routeUpstreams = previous.routeUpstreams
            self.identityNames = previous.identityNames
            self.keysLoadedAt = Date().timeIntervalSince1970
        }

        /// Prepares a snapshot; fails when an upstream URL cannot be used.
        ///
        /// - Parameters:
        ///   - configuration: The validated configuration.
        ///   - keys: Keys to use instead of the configured ones (the demo's generated key).
        ///   - upstreamOverride: An upstream that replaces every configured one (the demo's echo upstream).
        public init(configuration: GatehouseConfiguration, keys: KeySet? = nil, upstreamOverride: String? = nil) throws {
            self.configuration = configuration
            self.keys = keys ?? configuration.keys
            if let url = upstreamOverride ?? configuration.upstream {
                guard let address = UpstreamAddress(url: url) else { throw StoreError(description: "invalid upstream \(url)") }
                self.upstream = address
            } else {
                self.upstream = nil
            }
            var routeUpstreams = [String: UpstreamAddress]()
            for route in configuration.policy.routes.routes where upstreamOverride == nil {
                guard let url = route.upstream else { continue }
                guard let address = UpstreamAddress(url: url) else {
                    throw StoreError(description: "invalid upstream \(url) for route \(route.id)")
                }
                routeUpstreams[route.id] = address
            }
            self.routeUpstreams = routeUpstreams
            self.identityNames = Set(configuration.policy.identityHeaders.map { HeaderPolicy.fold($0.name) })
            self.keysLoadedAt = Date().timeIntervalSince1970
        }

        /// Where a request allowed through `route` goes.
        func upstream(for route: Route?) -> UpstreamAddress? {
            if let route, let own = routeUpstreams[route.id] { return own }
            return upstream
        }
    }

    /// Why a snapshot could not be made.
    public struct StoreError: Error, CustomStringConvertible {
        public let description: String
    }

    private let current: Mutex<Snapshot>

    /// Creates a store holding `snapshot`.
    public init(_ snapshot: Snapshot) {
        self.current = Mutex(snapshot)
    }

    /// The snapshot in force.
    public var snapshot: Snapshot {
        current.withLock { $0 }
    }

    /// Puts `snapshot` in force for every request that starts from now on.
    public func replace(with snapshot: Snapshot) {
        current.withLock { $0 = snapshot }
    }

    /// Replaces one issuer's keys (fetched from its identity provider) in the snapshot in force, atomically with
    /// respect to reloads; cached verifications made under older keys stop being reused.
    public func updateKeys(issuer: String, keys: [VerificationKey]) {
        current.withLock { snapshot in
            guard snapshot.configuration.issuers.contains(where: { $0.policy.issuer == issuer }) else { return }
            var byIssuer = snapshot.keys.keysByIssuer
            byIssuer[issuer] = keys
            let keySet = KeySet(keysByIssuer: byIssuer, generation: snapshot.keys.generation &+ 1)
            if let updated = try? Snapshot(configuration: snapshot.configuration, keys: keySet, carrying: snapshot) {
                snapshot = updated
            }
        }
    }
}
