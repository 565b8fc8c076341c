import NIOCore
import NIOHTTP1
import NIOPosix

/// A complete small response (head, body, end) for the servers Gatehouse runs besides the proxy: the admin listener
/// and the embedded echo upstream. No body for HEAD; the connection closes after it unless the request kept it alive.
enum SmallResponse {
    static func write(
        _ body: String, status: HTTPResponseStatus, contentType: String, extraHeaders: [(String, String)] = [],
        answering request: HTTPRequestHead, on context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.utf8.count))])
        headers.add(contentsOf: extraHeaders)
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        if request.method != .HEAD {
            let buffer = context.channel.allocator.buffer(string: body)
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        }
        let keepAlive = request.isKeepAlive
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    /// Binds one of those servers: NIO's HTTP/1 server pipeline and a handler from `makeHandler` per connection.
    static func bind(
        group: any EventLoopGroup, host: String, port: Int,
        makeHandler: @escaping @Sendable () -> any ChannelHandler
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}
