import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// ``UpstreamHandler`` on an embedded channel: what its owner is told for bytes and closes an upstream sends.
struct UpstreamHandlerTests {
    /// Records what it is told; lets the connection go at the end of a response, as a client connection does.
    final class Owner: UpstreamOwner {
        var events: [String] = []
        weak var handler: UpstreamHandler?
        var clientIsWritable: Bool { true }
        func upstreamRead(_ event: UpstreamResponseParser.Event) {
            switch event {
            case .head(let head): events.append("head \(head.status)")
            case .body(let body): events.append("body \(String(buffer: body))")
            case .end:
                events.append("end")
                handler?.owner = nil
            }
        }
        func upstreamReadComplete() { events.append("complete") }
        func upstreamWritabilityChanged(_ isWritable: Bool) {}
        func upstreamClosed() { events.append("closed") }
        func upstreamError(_ error: any Error) { events.append("error") }
    }

    static func connected() throws -> (EmbeddedChannel, UpstreamHandler, Owner) {
        let handler = UpstreamHandler()
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        let owner = Owner()
        owner.handler = handler
        handler.owner = owner
        handler.expectResponse(to: .GET)
        return (channel, handler, owner)
    }

    @Test func aResponseIsHandedOnAndTheConnectionStaysReusable() throws {
        let (channel, handler, owner) = try Self.connected()
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        // The read-complete after the end goes to nobody: the connection went back to its pool.
        #expect(owner.events == ["head 200", "body ok", "end"])
        #expect(channel.isActive)
        #expect(handler.isReusable)
        #expect(!handler.isReading)
    }

    @Test func aHeadCutShortIsAnErrorNotAStaleConnection() throws {
        // A stale pooled connection closes before any byte (and may be retried); one that dies inside a head is a
        // failing upstream (502), whose request is not sent again.
        let (channel, _, owner) = try Self.connected()
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-"))
        _ = try? channel.close().wait()
        #expect(owner.events == ["complete", "error"])
    }

    @Test func aCloseBeforeAnyByteIsReportedAsAClose() throws {
        let (channel, _, owner) = try Self.connected()
        _ = try? channel.close().wait()
        #expect(owner.events == ["closed"])
    }

    @Test func bytesBeyondTheResponseMakeTheConnectionUnusable() throws {
        let (channel, handler, owner) = try Self.connected()
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"))
        #expect(owner.events == ["head 204", "end"])
        #expect(!handler.isReusable)
        #expect(!channel.isActive)
    }

    @Test func theConnectionIsBusyUntilItsReadCompletes() throws {
        let (channel, handler, owner) = try Self.connected()
        channel.pipeline.syncOperations.fireChannelRead(NIOAny(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n")))
        #expect(owner.events == ["head 204", "end"])
        #expect(handler.isReading)
        channel.pipeline.syncOperations.fireChannelReadComplete()
        #expect(!handler.isReading)
    }
}
