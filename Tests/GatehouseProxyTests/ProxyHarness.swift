import GatehouseConfig
import GatehouseKeys
import GatehousePolicy
import NIOCore
import NIOPosix
import Testing

@testable import GatehouseProxy

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Gatehouse on an ephemeral loopback port in front of a ``RecordingUpstream``, configured from YAML text, with a
/// fixed clock and tokens minted against it.
final class ProxyHarness: Sendable {
    static let issuer = "https://issuer.gatehouse.test/"
    static let audience = "gatehouse-tests"
    static let secretVariable = "GATEHOUSE_TEST_SECRET"

    /// The routes every end-to-end test uses, followed by `extra` top-level keys (limits, timeouts, ...).
    static func yaml(_ extra: String = "") -> String {
        """
        version: 1
        tokens:
          issuers:
            - issuer: \(issuer)
              audience: \(audience)
              algorithms: [HS256]
              secret_env: \(secretVariable)
        identity_headers:
          X-Auth-Subject: subject
          X-Auth-Roles: roles
          X-Auth-Scopes: scopes
          X-User-Email: email
        routes:
          - path: /public/**
            public: true
          - id: orders-read
            path: /orders/**
            methods: [GET]
            scopes: [orders:read, orders:write]
          - id: orders-write
            path: /orders/**
            methods: [POST, PUT, PATCH, DELETE]
            scopes: orders:write
          - id: admin
            path: /admin/**
            roles: [admin]
          - id: api
            path: /api/**
            authenticated: true
          - id: internal
            path: /internal/**
            deny: true
        default: deny
        \(extra)
        """
    }

    /// A fresh 64-byte secret (enough for HS256..HS512).
    static func makeSecret() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<64).map { _ in alphabet.randomElement()! })
    }

    /// Loads `yaml` with a fresh secret in the environment.
    static func loadConfiguration(_ yaml: String) async throws -> GatehouseConfiguration {
        let loader = ConfigurationLoader(environment: [secretVariable: makeSecret()])
        return try await loader.load(yaml: yaml, file: "e2e.yaml", directory: "/work/main")
    }

    let group: MultiThreadedEventLoopGroup
    let server: ProxyServer
    let upstream: RecordingUpstream
    let upstreamPort: Int
    let port: Int
    /// The proxy's clock: fixed for the whole test.
    let now: Double
    let keys: TestKeys
    let configuration: GatehouseConfiguration
    let accessLog: AccessLogRecorder

    private init(
        group: MultiThreadedEventLoopGroup,
        server: ProxyServer,
        upstream: RecordingUpstream,
        upstreamPort: Int,
        port: Int,
        now: Double,
        keys: TestKeys,
        configuration: GatehouseConfiguration,
        accessLog: AccessLogRecorder
    ) {
        self.group = group
        self.server = server
        self.upstream = upstream
        self.upstreamPort = upstreamPort
        self.port = port
        self.now = now
        self.keys = keys
        self.configuration = configuration
        self.accessLog = accessLog
    }

    /// Where the routes go.
    enum Routing: Sendable {
        /// Every route to the recording upstream.
        case recording
        /// Every route to this URL.
        case url(String)
        /// As the YAML says; `{UPSTREAM_PORT}` in it is the recording upstream's port.
        case configured
    }

    /// Starts the upstream and Gatehouse.
    ///
    /// - Parameters:
    ///   - yaml: The configuration; `{UPSTREAM_PORT}` is replaced with the recording upstream's port.
    ///   - behaviour: How the upstream answers: every request, or only those for `path` (others get 200).
    ///   - routing: Where routes go.
    static func start(
        yaml: String = yaml(),
        behaviour: RecordingUpstream.Behaviour = .respond(),
        onlyFor path: String? = nil,
        routing: Routing = .recording
    ) async throws -> ProxyHarness {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        do {
            let upstream = RecordingUpstream(group: group) { request in
                path == nil || request.uri == path ? behaviour : .respond()
            }
            let upstreamPort = try await upstream.start()
            let configuration = try await loadConfiguration(
                yaml.replacing("{UPSTREAM_PORT}", with: String(upstreamPort))
            )
            let keys = try await TestKeys.make(for: configuration)
            let override: String?
            switch routing {
            case .recording: override = "http://127.0.0.1:\(upstreamPort)"
            case .url(let url): override = url
            case .configured: override = nil
            }
            let snapshot = try ConfigurationStore.Snapshot(
                configuration: configuration,
                keys: keys.keySet,
                upstreamOverride: override
            )
            let now = Double(time(nil))
            let accessLog = AccessLogRecorder()
            let server = ProxyServer(
                store: ConfigurationStore(snapshot),
                group: group,
                environment: ProxyEnvironment(now: { now }),
                logger: accessLog.logger(label: "gatehouse.test"),
                accessLogger: accessLog.logger(label: "gatehouse.access")
            )
            let address = try await server.start(host: "127.0.0.1", port: 0)
            guard let port = address.port else { throw ChannelError.unknownLocalAddress }
            return ProxyHarness(
                group: group,
                server: server,
                upstream: upstream,
                upstreamPort: upstreamPort,
                port: port,
                now: now,
                keys: keys,
                configuration: configuration,
                accessLog: accessLog
            )
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Stops Gatehouse, the upstream and the event loops.
    func stop() async {
        await server.shutdown(grace: 1)
        await upstream.stop()
        try? await group.shutdownGracefully()
    }

    /// A new raw connection to Gatehouse.
    func connect() throws -> RawClient {
        try RawClient(port: port)
    }

    /// Reads the answer to a request Gatehouse must refuse on its own: `status`, the connection closed after it, and
    /// no connection ever opened to the upstream.
    @discardableResult
    func expectRefusedAndClosed(
        _ client: RawClient, status: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> RawClient.Response {
        let response = try client.readResponse()
        #expect(response.status == status, sourceLocation: sourceLocation)
        #expect(client.isClosedByPeer(), sourceLocation: sourceLocation)
        #expect(upstream.connectionCount == 0, sourceLocation: sourceLocation)
        return response
    }

    /// A token from the configured issuer, valid at the proxy's clock unless `lifetime`/`issuedAgo` say otherwise.
    func token(
        subject: String = "alice",
        roles: [String]? = nil,
        scope: String? = nil,
        email: String? = nil,
        issuedAgo: Double = 0,
        lifetime: Double = 300,
        extra: [String: JSONValue] = [:]
    ) throws -> String {
        var claims: [String: JSONValue] = ["sub": .string(subject)]
        if let roles { claims["roles"] = .array(roles.map { .string($0) }) }
        if let scope { claims["scope"] = .string(scope) }
        if let email { claims["email"] = .string(email) }
        claims.merge(extra) { _, new in new }
        guard let issuer = configuration.issuers.first?.policy, let minter = keys.minters[Self.issuer] else {
            throw RawClient.Failure(description: "no minter for \(Self.issuer)")
        }
        return try minter.mint(TestKeys.claims(claims, issuer: issuer, now: now - issuedAgo, lifetime: lifetime))
    }

    /// `Authorization: Bearer <token>\r\n` for a token with `roles` and `scope`.
    func bearer(roles: [String]? = ["admin"], scope: String? = "orders:read orders:write") throws -> String {
        "Authorization: Bearer \(try token(roles: roles, scope: scope))\r\n"
    }
}

/// Runs `body` against a fresh Gatehouse and recording upstream (see
/// ``ProxyHarness/start(yaml:behaviour:onlyFor:routing:)``) and stops both afterwards, also when `body` throws.
func withGatehouse(
    yaml: String = ProxyHarness.yaml(),
    upstream behaviour: RecordingUpstream.Behaviour = .respond(),
    onlyFor path: String? = nil,
    routing: ProxyHarness.Routing = .recording,
    _ body: (ProxyHarness) async throws -> Void
) async throws {
    let harness = try await ProxyHarness.start(yaml: yaml, behaviour: behaviour, onlyFor: path, routing: routing)
    do {
        try await body(harness)
    } catch {
        await harness.stop()
        throw error
    }
    await harness.stop()
}

/// Polls `condition` every 10 ms, at most `attempts` times, until it holds; returns whether it did. It never asserts
/// how long that took.
func eventually(attempts: Int = 600, _ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<attempts {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return false
}

/// A port on 127.0.0.1 where nothing listens: its socket stays bound, never listening, until this is released, so
/// that no listener of a test running alongside can take the port meanwhile (connecting is refused).
final class DeadPort: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        #if canImport(Glibc) || canImport(Musl)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw RawClient.Failure(description: "cannot bind a probe socket")
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

/// The resident set size of this process in KiB, from /proc/self/status (nil where there is no procfs).
func residentKiB() -> Int? {
    guard let file = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("VmRSS:") {
            return Int(text.dropFirst(6).filter(\.isNumber))
        }
    }
    return nil
}

/// A request as raw text: the request line, `Host` (unless `host` is nil), `headers` (each line ending in CRLF), a
/// blank line and `body` with its `Content-Length`.
func rawRequest(
    _ method: String = "GET",
    _ target: String,
    headers: String = "",
    body: String? = nil,
    version: String = "HTTP/1.1",
    host: String? = "gatehouse.test"
) -> String {
    var text = "\(method) \(target) \(version)\r\n"
    if let host { text += "Host: \(host)\r\n" }
    text += headers
    if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
    text += "\r\n"
    if let body { text += body }
    return text
}
