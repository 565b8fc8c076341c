/// The life of one request on a client connection, as plain values: the ``ProxyHandler`` feeds it events and
/// carries out the actions it returns.
///
/// One request is in flight at a time (the handler holds pipelined ones back), so the machine returns to
/// `idle` after each exchange, or to `closing` when the connection cannot be reused.
struct RelayStateMachine {
    enum State: Equatable {
        /// Waiting for a request head.
        case idle
        /// Answered locally; the rest of the request body is read and dropped.
        case discarding
        /// Authorized; waiting for an upstream connection. Request parts are buffered meanwhile.
        case connecting(requestComplete: Bool)
        /// Request parts flow to the upstream; the response is awaited or streams back.
        case relaying(requestComplete: Bool, responseStarted: Bool)
        /// Spliced with the upstream after a `101 Switching Protocols`.
        case upgraded
        /// Nothing more will be read or written for a request.
        case closing
    }

    /// What the handler must do.
    enum Action: Equatable {
        case none
        /// Answer locally with the decision's response; close afterwards if `close`.
        case answerLocally(close: Bool)
        /// Open (or take from the pool) an upstream connection.
        case connect
        /// Keep the request part until the upstream is ready.
        case buffer
        /// Send the request part upstream.
        case forward
        /// Drop the request part.
        case drop
        /// Send the buffered request parts upstream.
        case flushBuffered
        /// Send the response part to the client.
        case forwardResponse
        /// The exchange is over: end the response, return the upstream connection if `reuseUpstream`, and close
        /// the client connection if `closeClient`.
        case finish(reuseUpstream: Bool, closeClient: Bool)
        /// Answer with an error (502/504 for the upstream, 400/413 for the request) and close the upstream
        /// connection; close the client connection too if `closeClient`.
        case failGateway(status: Int, closeClient: Bool)
        /// The response already started: the only honest signal left is closing both connections.
        case abort
        /// Splice the two connections.
        case splice
    }

    private(set) var state: State = .idle

    mutating func requestHead(allowed: Bool, hasBody: Bool) -> Action {
        guard state == .idle else {
            state = .closing
            return .abort
        }
        if allowed {
            state = .connecting(requestComplete: false)
            return .connect
        }
        state = hasBody ? .discarding : .idle
        return .answerLocally(close: hasBody)
    }

    mutating func requestBody() -> Action {
        switch state {
        case .connecting(false): return .buffer
        case .relaying(false, _): return .forward
        case .upgraded: return .forward
        default: return .drop
        }
    }

    mutating func requestEnd() -> Action {
        switch state {
        case .connecting(false):
            state = .connecting(requestComplete: true)
            return .buffer
        case .relaying(false, let started):
            state = .relaying(requestComplete: true, responseStarted: started)
            return .forward
        case .discarding:
            state = .closing
            return .drop
        default:
            return .drop
        }
    }

    mutating func upstreamReady() -> Action {
        guard case .connecting(let complete) = state else { return .none }
        state = .relaying(requestComplete: complete, responseStarted: false)
        return .flushBuffered
    }

    /// Connecting failed, the upstream closed, timed out or sent garbage.
    mutating func upstreamFailed(timedOut: Bool) -> Action {
        switch state {
        case .connecting(let complete), .relaying(let complete, false):
            state = complete ? .idle : .closing
            return .failGateway(status: timedOut ? 504 : 502, closeClient: !complete)
        case .relaying(_, true), .upgraded:
            state = .closing
            return .abort
        default:
            return .none
        }
    }

    mutating func responseHead(switchingProtocols: Bool) -> Action {
        guard case .relaying(let complete, false) = state else { return .none }
        if switchingProtocols {
            state = .upgraded
            return .splice
        }
        state = .relaying(requestComplete: complete, responseStarted: true)
        return .forwardResponse
    }

    mutating func responseBody() -> Action {
        guard case .relaying(_, true) = state else { return .none }
        return .forwardResponse
    }

    mutating func responseEnd(upstreamKeepAlive: Bool, clientKeepAlive: Bool) -> Action {
        guard case .relaying(let complete, true) = state else { return .none }
        if complete && clientKeepAlive {
            state = .idle
            return .finish(reuseUpstream: upstreamKeepAlive, closeClient: false)
        }
        // The response ended before the request body did (an early answer), or the client asked to close.
        state = .closing
        return .finish(reuseUpstream: upstreamKeepAlive && complete, closeClient: true)
    }

    /// The request body grew past the configured limit.
    mutating func bodyTooLarge() -> Action {
        switch state {
        case .connecting, .relaying(_, false):
            state = .closing
            return .failGateway(status: 413, closeClient: true)
        case .relaying(_, true):
            state = .closing
            return .abort
        default:
            return .drop
        }
    }

    /// The request's framing broke after its head (a bad chunk, say): 400 while nothing was answered yet,
    /// otherwise closing is the only signal left. Either way the connection cannot be read any further.
    mutating func requestInvalid() -> Action {
        switch state {
        case .idle:
            state = .closing
            return .answerLocally(close: true)
        case .discarding:
            // Already answered: a second answer would be read as the response to a request never sent.
            state = .closing
            return .abort
        case .connecting, .relaying(_, false):
            state = .closing
            return .failGateway(status: 400, closeClient: true)
        case .relaying(_, true), .upgraded, .closing:
            state = .closing
            return .abort
        }
    }

    /// An answer that ends the connection is being written: whatever the client sends after it is not a request.
    mutating func closeAfterAnswer() {
        state = .closing
    }

    /// The client went away.
    mutating func clientClosed() -> Action {
        let wasBusy: Bool
        switch state {
        case .connecting, .relaying, .upgraded: wasBusy = true
        default: wasBusy = false
        }
        state = .closing
        return wasBusy ? .abort : .none
    }
}
