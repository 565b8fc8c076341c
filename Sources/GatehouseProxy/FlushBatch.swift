import NIOCore

/// Flushes asked for while an event loop handles one round of I/O: the first goes out at once, the rest together once
/// the round is handled.
///
/// Under load one round carries many requests. Flushed one by one, each request's bytes would wake the upstream (and
/// each response the client) while the loop still has the rest of the round to handle; batched, the peers are woken
/// about twice per round and find the round's bytes waiting. The first flush of a round is not held back, so a quiet
/// loop, whose rounds carry one request, answers as soon as it would unbatched.
///
/// One per event loop; used only on it.
final class FlushBatch {
    private let eventLoop: any EventLoop
    /// Whether a flush went out in this round: later ones wait for its end.
    private var roundStarted = false
    private var pending: [ChannelHandlerContext] = []
    /// The list being flushed, kept to reuse its storage.
    private var flushing: [ChannelHandlerContext] = []

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Flushes `context`'s channel now if it is the round's first flush, else once the round of I/O is handled (a
    /// context removed by then is skipped).
    func flushSoon(_ context: ChannelHandlerContext) {
        eventLoop.assertInEventLoop()
        guard roundStarted else {
            roundStarted = true
            // Runs after the rest of this round's I/O.
            eventLoop.assumeIsolatedUnsafeUnchecked().execute { [self] in endRound() }
            context.flush()
            return
        }
        pending.append(context)
    }

    private func endRound() {
        roundStarted = false
        swap(&pending, &flushing)
        for context in flushing { context.flush() }
        flushing.removeAll(keepingCapacity: true)
    }
}
