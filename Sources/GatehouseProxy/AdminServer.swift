import GatehousePolicy
public import Logging
public import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin listener: `/healthz` (alive), `/readyz` (configuration loaded and every issuer has keys) and
/// `/metrics` (Prometheus text). Separate from the proxy listener and never proxied.
public final class AdminServer: Sendable {
    /// What the admin endpoints read.
    public struct Probes: Sendable {
        /// Whether Gatehouse can judge protected requests, and if not why.
        public var readiness: @Sendable () -> (ready: Bool, detail: String)
        /// The metrics in Prometheus text format, gathered at scrape time.
        public var metrics: @Sendable () -> String

        /// Creates the probes.
        public init(
            readiness: @escaping @Sendable () -> (ready: Bool, detail: String),
            metrics: @escaping @Sendable () -> String
        ) {
            self.readiness = readiness
            self.metrics = metrics
        }
    }

    private let group: any EventLoopGroup
    private let probes: Probes
    private let logger: Logger

    /// Creates the admin server; nothing listens until ``start(host:port:)``.
    public init(group: any EventLoopGroup, probes: Probes, logger: Logger) {
        self.group = group
        self.probes = probes
        self.logger = logger
    }

    /// Binds the admin listener and returns the channel (close it to stop).
    public func start(host: String, port: Int) async throws -> any Channel {
        let probes = self.probes
        let channel = try await SmallResponse.bind(group: group, host: host, port: port) { AdminHandler(probes: probes) }
        logger.info("admin listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        return channel
    }
}

private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let probes: AdminServer.Probes
    private var head: HTTPRequestHead?

    init(probes: AdminServer.Probes) {
        self.probes = probes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let (status, type, body): (HTTPResponseStatus, String, String)
            switch (head.method, path) {
            case (.GET, "/healthz"), (.HEAD, "/healthz"):
                (status, type, body) = (.ok, "application/json", "{\"status\":\"alive\"}\n")
            case (.GET, "/readyz"), (.HEAD, "/readyz"):
                let (ready, detail) = probes.readiness()
                var text = "{\"ready\":\(ready),\"detail\":"
                JSONValue.writeString(detail, to: &text)
                text += "}\n"
                (status, type, body) = (ready ? .ok : .serviceUnavailable, "application/json", text)
            case (.GET, "/metrics"):
                (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", probes.metrics())
            case (_, "/healthz"), (_, "/readyz"), (_, "/metrics"):
                (status, type, body) = (.methodNotAllowed, "text/plain", "method not allowed\n")
            default:
                (status, type, body) = (.notFound, "text/plain", "not found: /healthz, /readyz, /metrics\n")
            }
            SmallResponse.write(
                body, status: status, contentType: type, extraHeaders: [("Cache-Control", "no-store")], answering: head,
                on: context)
        }
    }
}
