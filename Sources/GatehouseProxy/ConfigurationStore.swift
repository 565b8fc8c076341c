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
}
