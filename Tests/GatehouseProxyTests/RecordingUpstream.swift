import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import NIOHTTP1
import NIOPosix
import Synchronization

/// A mock upstream on 127.0.0.1 that records exactly what reached it (every head, body size, whether the request
/// ended, which connection carried it) and answers with raw bytes it writes itself, so that it can also misbehave:
/// stay silent, close mid-response, send garbage, stream a large download or switch protocols and echo.
final class RecordingUpstream: Sendable {
    /// How to answer one request; chosen when its head arrives.
    enum Behaviour: Sendable {
        /// After the whole request: `status` with `body` and extra header lines such as `"X-A: 1"`.
        case respond(status: Int = 200, headers: [String] = [], body: String = "upstream-ok")
        /// As soon as the head arrives, before the body: `status` with a short body.
        case respondEarly(status: Int)
        /// After the whole request: exactly these bytes, then close if `thenClose`.
        case raw(String, thenClose: Bool)
        /// Never answer.
        case silent
        /// Answer the first request on each connection with 200 `ok` and keep the connection; reset it (RST, no
        /// answer) when the next request arrives, as a server that dropped an idle connection does.
        case resetAfterFirst
        /// Answer 200 once ``release()`` was called.
        case held
        /// Stream `bytes` of ``Pattern`` (chunked or with Content-Length), with backpressure.
        case download(bytes: Int, chunked: Bool)
        /// Stop reading after the head until ``release()`` was called, then read the rest and answer 200.
        case stallReading
        /// `101 Switching Protocols` with `greeting` right behind it, then echo every byte.
        case upgradeAndEcho(greeting: String)
    }

    /// One request as it reached the upstream.
    struct Request: Sendable {
        /// Which accepted connection carried it (1, 2, ...).
        var connection: Int
        var method: String
        var uri: String
        var version: HTTPVersion
        var headers: [HeaderField]
        var bodyBytes = 0
        /// The first 64 KiB of the body.
        var bodyPrefix: [UInt8] = []
        var bodyMatchesPattern = true
        /// Whether the request's end arrived.
        var complete = false

        /// Values of header `name` (case-insensitive, exact name otherwise).
        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        var body: String { String(decoding: bodyPrefix, as: UTF8.self) }
    }

    struct HeaderField: Sendable, Equatable {
        let name: String
        let value: String
    }

    private struct State {
        var requests: [Request] = []
        var connections = 0
        var closedConnections = 0
        var released = false
        var echoedBytes = 0
        var downloadedBytes = 0
        var server: (any Channel)?
        var children: [any Channel] = []
    }

    let group: any EventLoopGroup
    let behaviour: @Sendable (Request) -> Behaviour
    private let state = Mutex(State())

    init(group: any EventLoopGroup, behaviour: @escaping @Sendable (Request) -> Behaviour = { _ in .respond() }) {
        self.group = group
        self.behaviour = behaviour
    }

    /// Starts listening on an ephemeral port; returns it.
    func start() async throws -> Int {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let id = state.withLock { state in
                        state.connections += 1
                        state.children.append(channel)
                        return state.connections
                    }
                    channel.closeFuture.whenComplete { _ in
                        self.state.withLock { $0.closedConnections += 1 }
                    }
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(
                        ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
                    )
                    try operations.addHandler(RecordingUpstreamHandler(upstream: self, connection: id))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        state.withLock { $0.server = server }
        guard let port = server.localAddress?.port else { throw ChannelError.unknownLocalAddress }
        return port
    }

    /// Closes the listener and every connection.
    func stop() async {
        let (server, children) = state.withLock { state in
            defer {
                state.server = nil
                state.children = []
            }
            return (state.server, state.children)
        }
        for child in children { try? await child.close() }
        try? await server?.close()
    }

    /// Every request so far, complete or not.
    var requests: [Request] { state.withLock { $0.requests } }

    /// Requests whose end arrived.
    var completedRequests: [Request] { requests.filter(\.complete) }

    /// How many connections were accepted.
    var connectionCount: Int { state.withLock { $0.connections } }

    /// How many accepted connections have closed since.
    var closedConnectionCount: Int { state.withLock { $0.closedConnections } }

    /// Bytes echoed after an upgrade.
    var echoedBytes: Int { state.withLock { $0.echoedBytes } }

    /// Body bytes of downloads handed to the socket so far.
    var downloadedBytes: Int { state.withLock { $0.downloadedBytes } }

    /// Lets every `held` request be answered.
    func release() {
        state.withLock { $0.released = true }
    }

    var isReleased: Bool { state.withLock { $0.released } }

    /// Waits (polling, at most `attempts` × 10 ms) until `condition` holds for the upstream; returns whether it did.
    @discardableResult
    func wait(attempts: Int = 1000, until condition: (RecordingUpstream) -> Bool) async -> Bool {
        await eventually(attempts: attempts) { condition(self) }
    }

    // MARK: recording, from the connections' handlers

    fileprivate func record(_ head: HTTPRequestHead, connection: Int) -> (index: Int, behaviour: Behaviour) {
        let request = Request(
            connection: connection,
            method: head.method.rawValue,
            uri: head.uri,
            version: head.version,
            headers: head.headers.map { HeaderField(name: $0.name, value: $0.value) }
        )
        let index = state.withLock { state in
            state.requests.append(request)
            return state.requests.count - 1
        }
        return (index, behaviour(request))
    }

    fileprivate func recordBody(_ buffer: ByteBuffer, index: Int) {
        let bytes = Array(buffer.readableBytesView)
        state.withLock { state in
            var request = state.requests[index]
            if request.bodyMatchesPattern, !Pattern.matches(bytes, at: request.bodyBytes) {
                request.bodyMatchesPattern = false
            }
            request.bodyBytes += bytes.count
            let room = 65_536 - request.bodyPrefix.count
            if room > 0 { request.bodyPrefix.append(contentsOf: bytes.prefix(room)) }
            state.requests[index] = request
        }
    }

    fileprivate func recordEnd(index: Int) {
        state.withLock { $0.requests[index].complete = true }
    }

    fileprivate func recordDownload(_ count: Int) {
        state.withLock { $0.downloadedBytes += count }
    }

    fileprivate func recordEcho(_ count: Int) {
        state.withLock { $0.echoedBytes += count }
    }
}

/// One upstream connection: records requests and carries out their behaviours with raw bytes.
private final class RecordingUpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let upstream: RecordingUpstream
    private let connection: Int
    private var index: Int?
    private var method = "GET"
    private var behaviour = RecordingUpstream.Behaviour.silent
    private var answered = false
    private var served = 0
    private var context: ChannelHandlerContext?
    // An ongoing download.
    private var remaining = 0
    private var offset = 0
    private var chunked = false

    init(upstream: RecordingUpstream, connection: Int) {
        self.upstream = upstream
        self.connection = connection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let (index, behaviour) = upstream.record(head, connection: connection)
            self.index = index
            self.behaviour = behaviour
            self.method = head.method.rawValue
            answered = false
            if case .respondEarly(let status) = behaviour {
                answered = true
                write("HTTP/1.1 \(status) Early\r\nContent-Length: 5\r\n\r\nearly", context: context)
            }
            if case .stallReading = behaviour {
                try? context.channel.syncOptions?.setOption(.autoRead, value: false)
                resumeReadingWhenReleased(context: context, ticks: 3000)
            }
        case .body(let buffer):
            if let index { upstream.recordBody(buffer, index: index) }
        case .end:
            if let index { upstream.recordEnd(index: index) }
            if !answered {
                answered = true
                answer(context: context)
            }
        }
    }

    private func write(_ text: String, context: ChannelHandlerContext, thenClose: Bool = false) {
        let buffer = context.channel.allocator.buffer(string: text)
        let future = context.writeAndFlush(wrapOutboundOut(buffer))
        if thenClose {
            future.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func answer(context: ChannelHandlerContext) {
        switch behaviour {
        case .respond(let status, let headers, let body):
            var text = "HTTP/1.1 \(status) Upstream\r\nContent-Length: \(body.utf8.count)\r\n"
            for line in headers { text += line + "\r\n" }
            text += "\r\n"
            if method != "HEAD" { text += body }
            write(text, context: context)
        case .respondEarly:
            break
        case .raw(let text, let thenClose):
            write(text, context: context, thenClose: thenClose)
        case .silent:
            break
        case .resetAfterFirst:
            served += 1
            if served == 1 {
                write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", context: context)
            } else if let provider = context.channel as? any SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            }
        case .held:
            waitForRelease(context: context, ticks: 3000)
        case .stallReading:
            write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", context: context)
        case .download(let bytes, let chunked):
            remaining = bytes
            offset = 0
            self.chunked = chunked
            let framing = chunked ? "Transfer-Encoding: chunked" : "Content-Length: \(bytes)"
            context.write(
                wrapOutboundOut(context.channel.allocator.buffer(string: "HTTP/1.1 200 OK\r\n\(framing)\r\n\r\n")),
                promise: nil
            )
            pump(context: context)
        case .upgradeAndEcho(let greeting):
            write(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n" + greeting,
                context: context
            )
            do {
                let operations = context.pipeline.syncOperations
                try operations.addHandler(EchoBytesHandler(upstream: upstream))
                let decoder = try operations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
                operations.removeHandler(context: context, promise: nil)
                operations.removeHandler(context: decoder, promise: nil)
            } catch {
                context.close(promise: nil)
            }
        }
    }

    private func waitForRelease(context: ChannelHandlerContext, ticks: Int) {
        if upstream.isReleased {
            write("HTTP/1.1 200 Released\r\nContent-Length: 8\r\n\r\nreleased", context: context)
            return
        }
        guard ticks > 0 else {
            context.close(promise: nil)
            return
        }
        _ = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(10)) { [self] in
            guard self.context != nil, context.channel.isActive else { return }
            waitForRelease(context: context, ticks: ticks - 1)
        }
    }

    private func resumeReadingWhenReleased(context: ChannelHandlerContext, ticks: Int) {
        if upstream.isReleased || ticks == 0 {
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
            context.read()
            return
        }
        _ = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(10)) { [self] in
            guard self.context != nil, context.channel.isActive else { return }
            resumeReadingWhenReleased(context: context, ticks: ticks - 1)
        }
    }

    private func pump(context: ChannelHandlerContext) {
        while remaining > 0 && context.channel.isWritable {
            let count = min(65_536, remaining)
            var buffer = context.channel.allocator.buffer(capacity: count + 16)
            if chunked { buffer.writeString(String(count, radix: 16) + "\r\n") }
            buffer.writeBytes(Pattern.bytes(at: offset, count: count))
            if chunked { buffer.writeString("\r\n") }
            offset += count
            remaining -= count
            context.write(wrapOutboundOut(buffer), promise: nil)
            upstream.recordDownload(count)
        }
        if remaining == 0 && chunked {
            chunked = false
            context.write(wrapOutboundOut(context.channel.allocator.buffer(string: "0\r\n\r\n")), promise: nil)
        }
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && remaining > 0 { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// After an upgrade: every byte read is written back.
private final class EchoBytesHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let upstream: RecordingUpstream

    init(upstream: RecordingUpstream) {
        self.upstream = upstream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        upstream.recordEcho(unwrapInboundIn(data).readableBytes)
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
