/// How the proxy listener treats connections: limits, timeouts, forwarding rules. Every field states its default.
public struct ServerSettings: Sendable, Equatable {
    /// Limits on what a client may send.
    public struct Limits: Sendable, Equatable {
        /// The largest request head (request line and headers) in bytes; larger gets 431. Default 32 KiB.
        public var maxHeadBytes = 32 * 1024
        /// The most header fields in a request; more gets 431. Default 100.
        public var maxHeaders = 100
        /// The largest request body in bytes; larger gets 413. Default `nil` (no limit: bodies stream).
        public var maxBodyBytes: Int? = nil

        /// The defaults.
        public init() {}
    }

    /// Time limits, in seconds.
    public struct Timeouts: Sendable, Equatable {
        /// Connecting to the upstream; 502 after. Default 5s.
        public var connect: Double = 5
        /// From forwarding a request to the upstream's response head, and between reads of a response body;
        /// 504 after. Default 30s.
        public var upstream: Double = 30
        /// Receiving a complete request head once a connection opens (slow-loris protection); 408 after.
        /// Default 10s.
        public var head: Double = 10
        /// A keep-alive connection with no request in flight is closed after this. Default 60s.
        public var idle: Double = 60
        /// In-flight requests get this long to finish on shutdown. Default 10s.
        public var shutdownGrace: Double = 10

        /// The defaults.
        public init() {}
    }

    /// Limits. See ``Limits``.
    public var limits = Limits()
    /// Timeouts. See ``Timeouts``.
    public var timeouts = Timeouts()
    /// Peers whose `X-Forwarded-*` and `Forwarded` headers are kept (appended to); from anyone else they are
    /// replaced. Default none.
    public var trustedProxies: [CIDR] = []
    /// Whether the client's `Authorization` header is forwarded upstream. Default `true`.
    public var forwardAuthorization = true
    /// TLS on the proxy listener: PEM certificate chain and private key files. Default `nil` (plain HTTP).
    public var tls: (certificateFile: String, keyFile: String)? = nil
    /// CA certificates (PEM) trusted for `https://` upstreams instead of the system store. Default `nil`.
    public var upstreamCAFile: String? = nil

    public static func == (lhs: ServerSettings, rhs: ServerSettings) -> Bool {
        lhs.limits == rhs.limits && lhs.timeouts == rhs.timeouts && lhs.trustedProxies == rhs.trustedProxies
            && lhs.forwardAuthorization == rhs.forwardAuthorization && lhs.tls?.certificateFile == rhs.tls?.certificateFile
            && lhs.tls?.keyFile == rhs.tls?.keyFile && lhs.upstreamCAFile == rhs.upstreamCAFile
    }

    /// The defaults.
    public init() {}
}
