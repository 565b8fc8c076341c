import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Keep-alive connections to the upstreams, one pool per event loop so that a client connection and its upstream
/// connection always share a loop. Not thread-safe: used only on its event loop.
final class UpstreamPool {
    let eventLoop: any EventLoop
    /// The event loop's flushes, made once per round of I/O (see ``FlushBatch``).
    let flushes: FlushBatch
    private var idle: [UpstreamAddress: [UpstreamConnection]] = [:]
    private let maxIdlePerUpstream: Int
    private let connectTimeout: TimeAmount

    init(eventLoop: any EventLoop, maxIdlePerUpstream: Int = 128, connectTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.flushes = FlushBatch(eventLoop: eventLoop)
        self.maxIdlePerUpstream = maxIdlePerUpstream
        self.connectTimeout = connectTimeout
    }

    /// An idle connection to `address` that is still open, if the pool has one.
    func takeIdle(_ address: UpstreamAddress) -> UpstreamConnection? {
        eventLoop.assertInEventLoop()
        // One lookup, and the list popped where the dictionary holds it (a copy would be copied again on every take).
        return Self.popOpen(from: &idle[address, default: []])
    }

    /// The last connection of `list` that is open and not still handing on a read, taken out; closed ones on the way
    /// are dropped.
    private static func popOpen(from list: inout [UpstreamConnection]) -> UpstreamConnection? {
        while let connection = list.last {
            guard connection.channel.isActive else {
                list.removeLast()
                continue
            }
            // Released while its read is still being handed on (a pipelined request taken at the end of the previous
            // response): a byte still to come in that read would be taken for the new request's answer.
            if connection.handler.isReading { return nil }
            list.removeLast()
            connection.reused = true
            return connection
        }
        return nil
    }

    /// Calls `then` with a new connection to `address`, on this event loop.
    func connect(
        _ address: UpstreamAddress, tls: NIOSSLContext? = nil,
        then: @escaping (Result<UpstreamConnection, any Error>) -> Void
    ) {
        eventLoop.assertInEventLoop()
        if address.tls && tls == nil {
            then(.failure(UpstreamError.tlsNotSupported))
            return
        }
        // A name is verified against the certificate; an IP address is checked as an IP SAN.
        let serverHostname = address.host.contains(":") || address.host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : address.host
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if address.tls, let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    // Requests are written as bytes by ProxyHandler and responses parsed by UpstreamHandler: no HTTP
                    // codec in between.
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: address.host, port: address.port)
            .hop(to: eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                then(
                    result.flatMap { channel in
                        Result {
                            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                            return UpstreamConnection(channel: channel, handler: handler, address: address)
                        }
                    })
            }
    }

    /// Returns a connection whose exchange finished cleanly; it is closed instead when the pool is full.
    func release(_ connection: UpstreamConnection) {
        eventLoop.assertInEventLoop()
        connection.handler.owner = nil
        guard connection.channel.isActive else { return }
        guard connection.handler.isReusable else {
            connection.channel.close(promise: nil)
            return
        }
        // Closed connections are skipped by `acquire`; they are swept only when the list is full, so that a
        // release does not ask every idle channel whether it is still open.
        Self.append(connection, to: &idle[connection.address, default: []], max: maxIdlePerUpstream)?.channel.close(promise: nil)
    }

    /// Appends `connection` to `list`; when the list is then over `max` even without its closed connections, the
    /// last one (the connection just appended) comes back out, to be closed.
    private static func append(
        _ connection: UpstreamConnection, to list: inout [UpstreamConnection], max: Int
    ) -> UpstreamConnection? {
        list.append(connection)
        guard list.count > max else { return nil }
        list.removeAll { !$0.channel.isActive }
        return list.count > max ? list.removeLast() : nil
    }

    /// Closes every idle connection.
    func closeAll() {
        for list in idle.values {
            for connection in list { connection.channel.close(promise: nil) }
        }
        idle.removeAll()
    }
}

/// One connection to an upstream.
final class UpstreamConnection {
    let channel: any Channel
    let handler: UpstreamHandler
    let address: UpstreamAddress
    /// Whether it came from the pool (so a failure before any response byte may be a stale keep-alive race).
    var reused = false

    init(channel: any Channel, handler: UpstreamHandler, address: UpstreamAddress) {
        self.channel = channel
        self.handler = handler
        self.address = address
    }
}

/// Why the upstream side failed.
struct UpstreamError: Error, Equatable, CustomStringConvertible {
    let description: String

    static let tlsNotSupported = UpstreamError(description: "no TLS configuration for an https upstream")
    static let closed = UpstreamError(description: "the upstream closed the connection")
    static let unexpectedUpgrade = UpstreamError(description: "the upstream switched protocols unasked")
}

/// What an upstream connection reports to the client connection that currently owns it.
protocol UpstreamOwner: AnyObject {
    func upstreamRead(_ event: UpstreamResponseParser.Event)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(_ isWritable: Bool)
    func upstreamClosed()
    func upstreamError(_ error: any Error)
    var clientIsWritable: Bool { get }
}

/// The upstream connection's only handler (after TLS): parses responses with ``UpstreamResponseParser``, hands their
/// events to the owner, and withholds reads while the client cannot take more (backpressure). Requests arrive already
/// framed, as bytes.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    weak var owner: (any UpstreamOwner)? {
        willSet { ownerIdentity = newValue.map { ObjectIdentifier($0) } }
    }
    /// Which object `owner` was last set to: compared without reading the weak reference again.
    private var ownerIdentity: ObjectIdentifier?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var parser = UpstreamResponseParser()
    /// Bytes behind a `101`, for whatever the connection is spliced to.
    private var leftover: ByteBuffer?
    /// False once the upstream sent more than the response owed: the connection is never reused.
    private(set) var isReusable = true
    /// Between a read and its read-complete.
    private(set) var isReading = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// A request is about to be written: its response comes next.
    func expectResponse(to method: HTTPMethod) {
        parser.expectResponse(to: method)
    }

    /// Writes request bytes from this handler's place in the pipeline, unflushed (``flush()`` or a read-complete
    /// sends them). Written through the channel, they would pass the tail and this handler first.
    func send(_ bytes: ByteBuffer) {
        // Without a context this handler has left a closed pipeline (or a spliced one, which the data path no longer
        // writes to): a write to the closed channel would be dropped all the same.
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

    /// Flushes what ``send(_:)`` wrote.
    func flush() {
        context?.flush()
    }

    /// Has `batch` flush what ``send(_:)`` wrote: at once for the loop's first flush of a round of I/O, else when the
    /// round is handled.
    func flush(batchedIn batch: FlushBatch) {
        if let context { batch.flushSoon(context) }
    }

    /// Leaves the pipeline (when spliced), handing on the bytes that followed the `101` and a read it was holding back.
    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        if let leftover, leftover.readableBytes > 0 {
            self.leftover = nil
            context.fireChannelRead(wrapInboundOut(leftover))
            context.fireChannelReadComplete()
        }
        if pendingRead {
            pendingRead = false
            context.read()
        }
        context.leavePipeline(removalToken: removalToken)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        isReading = true
        var buffer = unwrapInboundIn(data)
        // The weak reference is read once per read, not once per event (each read of it is an atomic operation);
        // `ownerIdentity` tells when the owner let go of this connection while an event was handed on.
        let owner = self.owner
        do {
            while let event = try parser.next(&buffer) {
                guard let owner, ownerIdentity == ObjectIdentifier(owner) else {
                    // Nobody asked: an idle connection must not talk. Drop it.
                    isReusable = false
                    context.close(promise: nil)
                    return
                }
                if case .end = event {
                    if parser.isUpgraded {
                        leftover = buffer
                        buffer.clear()
                    } else if buffer.readableBytes > 0 {
                        // More than the response: this connection must not carry the next request.
                        isReusable = false
                    }
                }
                owner.upstreamRead(event)
            }
            if !isReusable && buffer.readableBytes > 0 {
                context.close(promise: nil)
            }
        } catch {
            isReusable = false
            let owner = self.owner
            self.owner = nil
            owner?.upstreamError(error)
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        isReading = false
        owner?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        owner?.upstreamWritabilityChanged(context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isReusable = false
        isReading = false
        let event: UpstreamResponseParser.Event?
        do {
            event = try parser.connectionClosed()
        } catch {
            // A response cut short (even a head): an upstream failure, never a stale connection to retry.
            let owner = self.owner
            self.owner = nil
            owner?.upstreamError(error)
            return
        }
        // A body delimited by the close ends here.
        if let event, let owner {
            owner.upstreamRead(event)
            owner.upstreamReadComplete()
        }
        let owner = self.owner
        self.owner = nil
        owner?.upstreamClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        isReusable = false
        let owner = self.owner
        self.owner = nil
        owner?.upstreamError(error)
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if let owner, !owner.clientIsWritable {
            pendingRead = true
        } else {
            context.read()
        }
    }

    /// The client can take more again.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}
