import NIOCore

/// Joins two connections after a `101 Switching Protocols`: the HTTP handlers leave both pipelines and bytes flow
/// unchanged in both directions, with backpressure.
enum Splicer {
    static func splice(client: any Channel, upstream: any Channel) {
        client.eventLoop.assertInEventLoop()
        let (clientGlue, upstreamGlue) = GlueHandler.matchedPair()
        do {
            let clientOps = client.pipeline.syncOperations
            let upstreamOps = upstream.pipeline.syncOperations
            try clientOps.addHandler(clientGlue)
            try upstreamOps.addHandler(upstreamGlue)
            // The upstream handler hands on the bytes that followed the 101 as it leaves.
            try upstreamOps.removeHandler(context: upstreamOps.context(handlerType: UpstreamHandler.self), promise: nil)
            // The proxy handler hands on what the client sent after its upgrade request as it leaves.
            try clientOps.removeHandler(context: clientOps.context(handlerType: ProxyHandler.self), promise: nil)
        } catch {
            client.close(promise: nil)
            upstream.close(promise: nil)
        }
    }
}

/// One half of a splice: what one channel reads, its partner writes; reads stop while the partner cannot write.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    static func matchedPair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private var partnerIsWritable: Bool { partner?.context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.context?.close(mode: .output, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if partnerIsWritable { context.read() } else { pendingRead = true }
    }

    private func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}
