import NIOCore

/// Flushes asked for while an event loop handles one round of I/O, made together once that round is handled.
///
/// Under load one round carries many requests. Flushed one by one, each request's bytes would wake the upstream (and
/// each response the client) as soon as they were written, while the loop still has the rest of the round to handle;
/// flushed together, the peers are woken once per round and find the whole round's bytes waiting. A quiet loop loses
/// nothing: the flush runs as soon as the round that asked for it is handled, before the loop waits again.
///
/// One per event loop; used only on it.
final class FlushBatch {
    private let eventLoop: any EventLoop
    private var pending: [ChannelHandlerContext] = []
    /// The list being flushed, kept to reuse its storage.
    private var flushing: [ChannelHandlerContext] = []

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Flushes `context`'s channel once this round of I/O is handled (a context removed by then is skipped).
    func flushSoon(_ context: ChannelHandlerContext) {
        eventLoop.assertInEventLoop()
        pending.append(context)
        guard pending.count == 1 else { return }
        eventLoop.assumeIsolatedUnsafeUnchecked().execute { [self] in flushAll() }
    }

    private func flushAll() {
        swap(&pending, &flushing)
        for context in flushing { context.flush() }
        flushing.removeAll(keepingCapacity: true)
    }
}
