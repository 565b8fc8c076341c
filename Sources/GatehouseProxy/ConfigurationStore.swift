import FoundationEssentials
public import GatehouseConfig
public import GatehouseKeys
import NIOSSL
public import GatehousePolicy
import Synchronization

/// The configuration in force. Replaced whole and atomically: a request keeps the snapshot it started with, new
/// requests see the new one.
public final class ConfigurationStore: Sendable {
    /// Everything one request needs, immutable (a class: a request takes it with one retain, not a deep copy).
    public final class Snapshot: Sendable {
        /// The validated configuration.
        public let configuration: GatehouseConfiguration
        /// The keys in force.
        public let keys: KeySet
        /// The default upstream.
        let upstream: UpstreamAddress?
        /// Route id → its own upstream.
        let routeUpstreams: [String: UpstreamAddress]
        /// Folded names of the identity headers, for stripping client copies.
        let identityNames: HeaderNameTable<Bool>
        /// When the keys were loaded (seconds since 1970), for the key-age metric.
        public let keysLoadedAt: Double
        /// TLS for the listener, when `tls:` is configured (read per connection, so reloads apply).
        let serverTLS: NIOSSLContext?
        /// TLS for `https://` upstreams: the system trust store or `upstream_ca_file`, with hostname verification.
        let upstreamTLS: NIOSSLContext?

        /// `https` when the listener terminates TLS.
        var scheme: String { serverTLS == nil ? "http" : "https" }

        /// Whether every issuer has at least one key, and if not which lacks them.
        public var readiness: (ready: Bool, detail: String) {
            let missing = configuration.issuers.map(\.policy.issuer).filter { (keys.keysByIssuer[$0] ?? []).isEmpty }
            if missing.isEmpty { return (true, "configuration loaded; keys for \(configuration.issuers.count) issuer(s)") }
            return (false, "no keys yet for \(missing.joined(separator: ", "))")
        }

        /// The same configuration with other keys, keeping the upstream choice of `previous`.
        init(configuration: GatehouseConfiguration, keys: KeySet, carrying previous: Snapshot) {
            self.configuration = configuration
            self.keys = keys
            self.upstream = previous.upstream
            self.routeUpstreams = previous.routeUpstreams
            self.identityNames = previous.identityNames
            self.keysLoadedAt = Date().timeIntervalSince1970
            self.serverTLS = previous.serverTLS
            self.upstreamTLS = previous.upstreamTLS
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
            self.identityNames = HeaderNameTable(names: configuration.policy.identityHeaders.map { HeaderName.fold($0.name) })
            self.keysLoadedAt = Date().timeIntervalSince1970
            let server = configuration.server
            if let tls = server.tls {
                do {
                    var settings = TLSConfiguration.makeServerConfiguration(
                        certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificateFile).map { .certificate($0) },
                        privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)))
                    settings.applicationProtocols = ["http/1.1"]
                    self.serverTLS = try NIOSSLContext(configuration: settings)
                } catch {
                    throw StoreError(description: "tls: cannot use \(tls.certificateFile) and \(tls.keyFile): \(error)")
                }
            } else {
                self.serverTLS = nil
            }
            let needsUpstreamTLS = self.upstream?.tls == true || routeUpstreams.values.contains { $0.tls }
            if needsUpstreamTLS {
                do {
                    var settings = TLSConfiguration.makeClientConfiguration()
                    settings.certificateVerification = .fullVerification
                    if let caFile = server.upstreamCAFile {
                        settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                    }
                    self.upstreamTLS = try NIOSSLContext(configuration: settings)
                } catch {
                    throw StoreError(description: "cannot set up TLS to the upstream: \(error)")
                }
            } else {
                self.upstreamTLS = nil
            }
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

    /// Puts a reloaded configuration in force, carrying over — under the same lock as key updates — the fetched
    /// keys of every remote issuer whose source did not change. Returns the configuration it replaced.
    func replace(reloaded configuration: GatehouseConfiguration, upstreamOverride: String?) throws -> GatehouseConfiguration {
        try current.withLock { old in
            var keysByIssuer = configuration.keys.keysByIssuer
            for issuer in configuration.issuers where issuer.remote != nil {
                let before = old.configuration.issuers.first { $0.policy.issuer == issuer.policy.issuer }
                if before?.remote == issuer.remote, let keys = old.keys.keysByIssuer[issuer.policy.issuer] {
                    keysByIssuer[issuer.policy.issuer] = keys
                }
            }
            let keys = KeySet(keysByIssuer: keysByIssuer, generation: old.keys.generation &+ 1)
            let previous = old.configuration
            old = try Snapshot(configuration: configuration, keys: keys, upstreamOverride: upstreamOverride)
            return previous
        }
    }

    /// Replaces one issuer's keys (fetched from its identity provider) in the snapshot in force, atomically with
    /// respect to reloads; cached verifications made under older keys stop being reused. Keys from a source the
    /// configuration no longer names (a reload changed it) are dropped.
    public func updateKeys(issuer: String, source: RemoteKeySource.Settings, keys: [VerificationKey]) {
        current.withLock { snapshot in
            guard snapshot.configuration.issuers.contains(where: { $0.policy.issuer == issuer && $0.remote == source })
            else { return }
            var byIssuer = snapshot.keys.keysByIssuer
            byIssuer[issuer] = keys
            let keySet = KeySet(keysByIssuer: byIssuer, generation: snapshot.keys.generation &+ 1)
            snapshot = Snapshot(configuration: snapshot.configuration, keys: keySet, carrying: snapshot)
        }
    }
}
