import NIOCore
import NIOEmbedded
import Testing

@testable import GatehouseProxy

/// The event loop's batched flushes: a round's first flush goes at once, the others when the round of I/O is
/// handled, each channel's bytes in the order written.
struct FlushBatchTests {
    /// Records each channel's context, so that a test may ask for its flush.
    final class ContextRecorder: ChannelOutboundHandler, RemovableChannelHandler {
        typealias OutboundIn = ByteBuffer
        var context: ChannelHandlerContext?
        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    }

    static func channel(on loop: EmbeddedEventLoop) throws -> (EmbeddedChannel, ContextRecorder) {
        let recorder = ContextRecorder()
        let channel = EmbeddedChannel(handler: recorder, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, recorder)
    }

    static func written(_ channel: EmbeddedChannel) throws -> [String] {
        var parts: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { parts.append(String(buffer: buffer)) }
        return parts
    }

    @Test func theFirstFlushOfARoundGoesAtOnceAndTheRestAtItsEnd() throws {
        let loop = EmbeddedEventLoop()
        let batch = FlushBatch(eventLoop: loop)
        let (first, firstRecorder) = try Self.channel(on: loop)
        let (second, secondRecorder) = try Self.channel(on: loop)
        let firstContext = try #require(firstRecorder.context)
        let secondContext = try #require(secondRecorder.context)

        first.write(ByteBuffer(string: "a"), promise: nil)
        batch.flushSoon(firstContext)
        #expect(try Self.written(first) == ["a"])
        second.write(ByteBuffer(string: "b"), promise: nil)
        batch.flushSoon(secondContext)
        first.write(ByteBuffer(string: "c"), promise: nil)
        batch.flushSoon(firstContext)
        #expect(try Self.written(first).isEmpty)
        #expect(try Self.written(second).isEmpty)

        loop.run()
        #expect(try Self.written(first) == ["c"])
        #expect(try Self.written(second) == ["b"])

        // The next round starts afresh: its first flush goes at once again.
        second.write(ByteBuffer(string: "d"), promise: nil)
        batch.flushSoon(secondContext)
        #expect(try Self.written(second) == ["d"])
        first.write(ByteBuffer(string: "e"), promise: nil)
        batch.flushSoon(firstContext)
        #expect(try Self.written(first).isEmpty)
        loop.run()
        #expect(try Self.written(first) == ["e"])
    }

    @Test func aContextRemovedBeforeTheFlushIsSkipped() throws {
        let loop = EmbeddedEventLoop()
        let batch = FlushBatch(eventLoop: loop)
        let (_, starterRecorder) = try Self.channel(on: loop)
        let (leaving, leavingRecorder) = try Self.channel(on: loop)
        let (staying, stayingRecorder) = try Self.channel(on: loop)
        // The round's first flush goes at once: the two below wait for the round's end.
        batch.flushSoon(try #require(starterRecorder.context))
        leaving.write(ByteBuffer(string: "unsent"), promise: nil)
        batch.flushSoon(try #require(leavingRecorder.context))
        staying.write(ByteBuffer(string: "kept"), promise: nil)
        batch.flushSoon(try #require(stayingRecorder.context))
        // The handler whose context the batch holds leaves the pipeline before the round ends (a spliced upstream
        // connection, say): its flush does nothing and the rest still go out.
        _ = leaving.pipeline.syncOperations.removeHandler(leavingRecorder)
        loop.run()
        #expect(try Self.written(leaving).isEmpty)
        #expect(try Self.written(staying) == ["kept"])
    }
}
