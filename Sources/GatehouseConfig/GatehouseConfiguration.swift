public import GatehouseKeys
public import GatehousePolicy

/// A loaded, validated `routes.yaml`: everything `serve`, `check`, `explain` and `test` need.
public struct GatehouseConfiguration: Sendable {
    /// The file it was read from, as named.
    public let file: String
    /// SHA-256 of the file's bytes (hex, first 16 digits): which version is loaded, for metrics and logs.
    public let contentHash: String
    /// The proxy listener. Default `127.0.0.1:8080`.
    public let listen: String
    /// The default upstream (`http://host:port`); required by `serve`.
    public let upstream: String?
    /// The admin listener for health and metrics; `nil` when not configured.
    public let admin: String?
    /// The issuers, with the key material they were configured with.
    public let issuers: [IssuerConfiguration]
    /// The compiled policy.
    public let policy: Policy
    /// The keys loaded from the configured sources.
    public let keys: KeySet
    /// Limits, timeouts and forwarding rules of the proxy listener.
    public let server: ServerSettings
    /// The policy tests written in the file.
    public let tests: [PolicyTestCase]
    /// Every file the configuration was read from: the YAML file and the key files it names.
    public var files: [String] {
        [file] + issuers.compactMap(\.keyFile) + [server.tls?.certificateFile, server.tls?.keyFile, server.upstreamCAFile].compactMap { $0 }
    }

    /// Warnings about weak choices (an issuer without audience check, a short HMAC secret, a public hole in a
    /// protected area).
    public let warnings: [Diagnostic]
}

/// One issuer as configured: its policy and its key material.
public struct IssuerConfiguration: Sendable {
    /// One key, as configured.
    public struct Key: Sendable {
        /// `kid` it is published under.
        public let kid: String?
        /// The algorithm it is bound to (a JWKS entry's `alg`); `nil` for every allowed algorithm of its kind.
        public let algorithm: SignatureAlgorithm?
        /// The key.
        public let material: KeyMaterial
    }

    /// How tokens are checked.
    public let policy: IssuerPolicy
    /// The keys.
    public let keys: [Key]
    /// The file the keys were read from (`pem_file`, `jwks_file`), watched for changes by `serve`.
    public let keyFile: String?
    /// Where the keys come from: `pem_file`, `jwks_file`, `secret_env`, `jwks_url` or `discovery`.
    public let sourceKind: String
    /// For `jwks_url` and `discovery`: where and how often to fetch (the keys then arrive at run time).
    public let remote: RemoteKeySource.Settings?
    /// For remote sources: a PEM file of CA certificates to trust instead of the system store.
    public let caFile: String?

    /// Creates an issuer configuration.
    public init(
        policy: IssuerPolicy, keys: [Key], keyFile: String? = nil, sourceKind: String = "configured",
        remote: RemoteKeySource.Settings? = nil, caFile: String? = nil
    ) {
        self.policy = policy
        self.keys = keys
        self.keyFile = keyFile
        self.sourceKind = sourceKind
        self.remote = remote
        self.caFile = caFile
    }

    /// Verification keys: one per key and allowed algorithm of its kind.
    public func verificationKeys() async throws -> [VerificationKey] {
        var result = [VerificationKey]()
        for key in keys {
            result += try await key.material.verificationKeys(kid: key.kid, boundTo: key.algorithm, allowed: policy.algorithms)
        }
        return result
    }
}
