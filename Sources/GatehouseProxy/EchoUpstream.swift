public import GatehousePolicy
public import NIOCore
import NIOConcurrencyHelpers
import NIOHTTP1
import NIOPosix

/// A small upstream that answers every request with a JSON description of what it received: method, target,
/// headers (identity headers included) and body size. It backs `gatehouse demo` and `gatehouse test --live`, and
/// records every request so that tests can assert what reached it.
public final class EchoUpstream: Sendable {
    /// One request as the upstream saw it.
    public struct Received: Sendable {
        /// The method.
        public let method: String
        /// The request-target as sent by Gatehouse.
        public let target: String
        /// Every header, in order.
        public let headers: [(name: String, value: String)]
        /// The body size.
        public let bodyBytes: Int

        /// The values of header `name` (case-insensitive).
        public func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        /// A header value as shown in the echo: credentials are shortened so the answer stays readable.
        static func display(_ header: (name: String, value: String)) -> String {
            guard header.name.lowercased() == "authorization", header.value.utf8.count > 40 else { return header.value }
            return String(header.value.prefix(24)) + "...(\(header.value.utf8.count) bytes)"
        }

        /// The request as JSON (credentials shortened).
        public var json: JSONValue {
            .object([
                "method": .string(method),
                "target": .string(target),
                "headers": .object(
                    Dictionary(grouping: headers, by: { $0.name.lowercased() }).mapValues { values in
                        let shown = values.map { Received.display($0) }
                        return shown.count == 1 ? .string(shown[0]) : .array(shown.map { .string($0) })
                    }),
                "body_bytes": .number(Double(bodyBytes)),
            ])
        }
    }

    private let group: any EventLoopGroup
    private let log = NIOLockedValueBox<[Received]>([])
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    /// Creates an upstream on `group`; nothing listens until ``start(host:port:)``.
    public init(group: any EventLoopGroup) {
        self.group = group
    }

    /// Every request received so far.
    public var received: [Received] {
        log.withLockedValue { $0 }
    }

    /// Forgets the requests received so far.
    public func clear() {
        log.withLockedValue { $0.removeAll() }
    }

    /// Starts listening; returns the bound address.
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> SocketAddress {
        let log = self.log
        let server = try await SmallResponse.bind(group: group, host: host, port: port) { EchoHandler(log: log) }
        channel.withLockedValue { $0 = server }
        guard let address = server.localAddress else { throw ChannelError.unknownLocalAddress }
        return address
    }

    /// Stops listening.
    public func stop() async {
        let server = channel.withLockedValue { value in
            defer { value = nil }
            return value
        }
        try? await server?.close()
    }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let log: NIOLockedValueBox<[EchoUpstream.Received]>
    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    init(log: NIOLockedValueBox<[EchoUpstream.Received]>) {
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
        case .end:
            guard let head else { return }
            let received = EchoUpstream.Received(
                method: head.method.rawValue, target: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                bodyBytes: bodyBytes)
            log.withLockedValue { $0.append(received) }
            SmallResponse.write(
                received.json.jsonText + "\n", status: .ok, contentType: "application/json", answering: head,
                on: context)
            self.head = nil
        }
    }
}
