import Testing

@testable import GatehouseProxy

/// The relay state machine with plain values: every event in every state that matters, and the action it returns.
struct RelayStateMachineTests {
    typealias Machine = RelayStateMachine
    typealias State = RelayStateMachine.State

    /// A machine driven through the public events into `state`.
    static func machine(in state: State) -> Machine {
        var machine = Machine()
        switch state {
        case .idle:
            break
        case .discarding:
            _ = machine.requestHead(allowed: false, hasBody: true)
        case .connecting(let complete):
            _ = machine.requestHead(allowed: true, hasBody: !complete)
            if complete { _ = machine.requestEnd() }
        case .relaying(let complete, let started):
            _ = machine.requestHead(allowed: true, hasBody: !complete)
            if complete { _ = machine.requestEnd() }
            _ = machine.upstreamReady()
            if started { _ = machine.responseHead(switchingProtocols: false) }
        case .upgraded:
            _ = machine.requestHead(allowed: true, hasBody: false)
            _ = machine.requestEnd()
            _ = machine.upstreamReady()
            _ = machine.responseHead(switchingProtocols: true)
        case .closing:
            _ = machine.requestHead(allowed: false, hasBody: true)
            _ = machine.requestEnd()
        }
        return machine
    }

    static let allStates: [State] = [
        .idle, .discarding, .connecting(requestComplete: false), .connecting(requestComplete: true),
        .relaying(requestComplete: false, responseStarted: false),
        .relaying(requestComplete: true, responseStarted: false),
        .relaying(requestComplete: false, responseStarted: true),
        .relaying(requestComplete: true, responseStarted: true),
        .upgraded, .closing,
    ]

    @Test("the fixture reaches every state", arguments: allStates)
    func fixtureReachesState(_ state: State) {
        #expect(Self.machine(in: state).state == state)
    }

    // MARK: request head

    @Test(arguments: [false, true])
    func allowedHeadConnects(hasBody: Bool) {
        var machine = Machine()
        #expect(machine.requestHead(allowed: true, hasBody: hasBody) == .connect)
        #expect(machine.state == .connecting(requestComplete: false))
    }

    @Test func deniedWithoutBodyAnswersAndStaysReusable() {
        var machine = Machine()
        #expect(machine.requestHead(allowed: false, hasBody: false) == .answerLocally(close: false))
        #expect(machine.state == .idle)
        #expect(machine.requestEnd() == .drop)
        #expect(machine.state == .idle)
        // The connection serves the next request.
        #expect(machine.requestHead(allowed: true, hasBody: false) == .connect)
    }

    @Test func deniedWithBodyAnswersDiscardsAndCloses() {
        var machine = Machine()
        #expect(machine.requestHead(allowed: false, hasBody: true) == .answerLocally(close: true))
        #expect(machine.state == .discarding)
        #expect(machine.requestBody() == .drop)
        #expect(machine.requestBody() == .drop)
        #expect(machine.state == .discarding)
        #expect(machine.requestEnd() == .drop)
        #expect(machine.state == .closing)
        // Nothing more is read on this connection.
        #expect(machine.requestBody() == .drop)
        #expect(machine.requestEnd() == .drop)
        #expect(machine.requestHead(allowed: true, hasBody: false) == .abort)
    }

    @Test("a head while an exchange is in progress aborts", arguments: allStates.filter { $0 != .idle })
    func headWhileBusyAborts(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.requestHead(allowed: true, hasBody: false) == .abort)
        #expect(machine.state == .closing)
    }

    // MARK: request body and end

    @Test func bodyIsBufferedWhileConnecting() {
        var machine = Self.machine(in: .connecting(requestComplete: false))
        #expect(machine.requestBody() == .buffer)
        #expect(machine.requestBody() == .buffer)
        #expect(machine.requestEnd() == .buffer)
        #expect(machine.state == .connecting(requestComplete: true))
        // Anything after the end is not part of this request.
        #expect(machine.requestBody() == .drop)
        #expect(machine.requestEnd() == .drop)
        #expect(machine.state == .connecting(requestComplete: true))
    }

    @Test func readyFlushesTheBufferAndRelays() {
        var incomplete = Self.machine(in: .connecting(requestComplete: false))
        #expect(incomplete.upstreamReady() == .flushBuffered)
        #expect(incomplete.state == .relaying(requestComplete: false, responseStarted: false))

        var complete = Self.machine(in: .connecting(requestComplete: true))
        #expect(complete.upstreamReady() == .flushBuffered)
        #expect(complete.state == .relaying(requestComplete: true, responseStarted: false))
    }

    @Test(
        "upstreamReady outside connecting does nothing",
        arguments: allStates.filter {
            if case .connecting = $0 { return false }
            return true
        }
    )
    func readyOutsideConnecting(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.upstreamReady() == .none)
        #expect(machine.state == state)
    }

    @Test func bodyIsForwardedWhileRelaying() {
        var machine = Self.machine(in: .relaying(requestComplete: false, responseStarted: false))
        #expect(machine.requestBody() == .forward)
        #expect(machine.requestEnd() == .forward)
        #expect(machine.state == .relaying(requestComplete: true, responseStarted: false))
        #expect(machine.requestBody() == .drop)
    }

    @Test func requestEndAfterAnEarlyResponseHeadIsStillForwarded() {
        var machine = Self.machine(in: .relaying(requestComplete: false, responseStarted: true))
        #expect(machine.requestBody() == .forward)
        #expect(machine.requestEnd() == .forward)
        #expect(machine.state == .relaying(requestComplete: true, responseStarted: true))
    }

    @Test func bytesFlowBothWaysWhenUpgraded() {
        var machine = Self.machine(in: .upgraded)
        #expect(machine.requestBody() == .forward)
        #expect(machine.state == .upgraded)
    }

    @Test("request parts are dropped where no request is open", arguments: [State.idle, .discarding, .closing])
    func partsDroppedWhenNotRelaying(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.requestBody() == .drop)
    }

    // MARK: response

    @Test func responseStreamsBackAndFinishesReusably() {
        var machine = Self.machine(in: .relaying(requestComplete: true, responseStarted: false))
        #expect(machine.responseBody() == .none)
        #expect(machine.responseHead(switchingProtocols: false) == .forwardResponse)
        #expect(machine.state == .relaying(requestComplete: true, responseStarted: true))
        #expect(machine.responseBody() == .forwardResponse)
        #expect(machine.responseBody() == .forwardResponse)
        #expect(
            machine.responseEnd(upstreamKeepAlive: true, clientKeepAlive: true)
                == .finish(reuseUpstream: true, closeClient: false)
        )
        #expect(machine.state == .idle)
    }

    @Test func upstreamThatClosesIsNotReused() {
        var machine = Self.machine(in: .relaying(requestComplete: true, responseStarted: true))
        #expect(
            machine.responseEnd(upstreamKeepAlive: false, clientKeepAlive: true)
                == .finish(reuseUpstream: false, closeClient: false)
        )
        #expect(machine.state == .idle)
    }

    @Test(arguments: [true, false])
    func clientThatClosesIsClosed(upstreamKeepAlive: Bool) {
        var machine = Self.machine(in: .relaying(requestComplete: true, responseStarted: true))
        #expect(
            machine.responseEnd(upstreamKeepAlive: upstreamKeepAlive, clientKeepAlive: false)
                == .finish(reuseUpstream: upstreamKeepAlive, closeClient: true)
        )
        #expect(machine.state == .closing)
    }

    @Test(arguments: [true, false])
    func earlyResponseBeforeRequestEndClosesBoth(clientKeepAlive: Bool) {
        // The upstream answered (e.g. 413) before it read the whole body: the rest of the body would be read as the
        // next request, so neither connection is reused.
        var machine = Self.machine(in: .relaying(requestComplete: false, responseStarted: false))
        #expect(machine.responseHead(switchingProtocols: false) == .forwardResponse)
        #expect(machine.responseBody() == .forwardResponse)
        #expect(
            machine.responseEnd(upstreamKeepAlive: true, clientKeepAlive: clientKeepAlive)
                == .finish(reuseUpstream: false, closeClient: true)
        )
        #expect(machine.state == .closing)
        #expect(machine.requestBody() == .drop)
        #expect(machine.requestEnd() == .drop)
    }

    @Test func switchingProtocolsSplices() {
        var machine = Self.machine(in: .relaying(requestComplete: true, responseStarted: false))
        #expect(machine.responseHead(switchingProtocols: true) == .splice)
        #expect(machine.state == .upgraded)
        // HTTP response parts make no sense any more.
        #expect(machine.responseBody() == .none)
        #expect(machine.responseEnd(upstreamKeepAlive: true, clientKeepAlive: true) == .none)
        #expect(machine.state == .upgraded)
    }

    @Test(
        "a second response head is ignored",
        arguments: [
            State.relaying(requestComplete: true, responseStarted: true), .idle, .discarding,
            .connecting(requestComplete: true),
            .upgraded, .closing,
        ]
    )
    func unexpectedResponseHead(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.responseHead(switchingProtocols: false) == .none)
        #expect(machine.responseHead(switchingProtocols: true) == .none)
        #expect(machine.state == state)
    }

    @Test(
        "response end without a response head does nothing",
        arguments: [
            State.idle, .discarding, .connecting(requestComplete: true),
            .relaying(requestComplete: true, responseStarted: false),
            .closing,
        ]
    )
    func unexpectedResponseEnd(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.responseEnd(upstreamKeepAlive: true, clientKeepAlive: true) == .none)
        #expect(machine.state == state)
    }

    // MARK: upstream failures

    struct FailureCase: Sendable, CustomTestStringConvertible {
        let state: State
        let timedOut: Bool
        let action: RelayStateMachine.Action
        let after: State
        var testDescription: String { "\(state) timedOut=\(timedOut) → \(action)" }
    }

    static let failureCases: [FailureCase] = [
        // Before the response started: a gateway error, and the client connection survives only when the whole
        // request was read (otherwise the rest of its body would be read as a request).
        FailureCase(
            state: .connecting(requestComplete: true),
            timedOut: false,
            action: .failGateway(status: 502, closeClient: false),
            after: .idle
        ),
        FailureCase(
            state: .connecting(requestComplete: true),
            timedOut: true,
            action: .failGateway(status: 504, closeClient: false),
            after: .idle
        ),
        FailureCase(
            state: .connecting(requestComplete: false),
            timedOut: false,
            action: .failGateway(status: 502, closeClient: true),
            after: .closing
        ),
        FailureCase(
            state: .connecting(requestComplete: false),
            timedOut: true,
            action: .failGateway(status: 504, closeClient: true),
            after: .closing
        ),
        FailureCase(
            state: .relaying(requestComplete: true, responseStarted: false),
            timedOut: false,
            action: .failGateway(status: 502, closeClient: false),
            after: .idle
        ),
        FailureCase(
            state: .relaying(requestComplete: true, responseStarted: false),
            timedOut: true,
            action: .failGateway(status: 504, closeClient: false),
            after: .idle
        ),
        FailureCase(
            state: .relaying(requestComplete: false, responseStarted: false),
            timedOut: false,
            action: .failGateway(status: 502, closeClient: true),
            after: .closing
        ),
        FailureCase(
            state: .relaying(requestComplete: false, responseStarted: false),
            timedOut: true,
            action: .failGateway(status: 504, closeClient: true),
            after: .closing
        ),
        // After the response started, closing is the only honest signal.
        FailureCase(
            state: .relaying(requestComplete: true, responseStarted: true),
            timedOut: false,
            action: .abort,
            after: .closing
        ),
        FailureCase(
            state: .relaying(requestComplete: false, responseStarted: true),
            timedOut: true,
            action: .abort,
            after: .closing
        ),
        FailureCase(state: .upgraded, timedOut: false, action: .abort, after: .closing),
        // Nothing to fail.
        FailureCase(state: .idle, timedOut: false, action: .none, after: .idle),
        FailureCase(state: .discarding, timedOut: true, action: .none, after: .discarding),
        FailureCase(state: .closing, timedOut: false, action: .none, after: .closing),
    ]

    @Test(arguments: failureCases)
    func upstreamFailure(_ failure: FailureCase) {
        var machine = Self.machine(in: failure.state)
        #expect(machine.upstreamFailed(timedOut: failure.timedOut) == failure.action)
        #expect(machine.state == failure.after)
    }

    @Test func aClosingAnswerEndsTheConnectionForLaterRequests() {
        var machine = RelayStateMachine()
        #expect(machine.requestHead(allowed: false, hasBody: false) == .answerLocally(close: false))
        machine.closeAfterAnswer()
        #expect(machine.state == .closing)
        #expect(machine.requestHead(allowed: true, hasBody: false) == .abort)
    }

    @Test func connectionSurvivesAGatewayErrorAfterACompleteRequest() {
        var machine = Self.machine(in: .connecting(requestComplete: true))
        _ = machine.upstreamFailed(timedOut: false)
        #expect(machine.requestHead(allowed: true, hasBody: false) == .connect)
    }

    // MARK: body too large

    @Test(
        "a body over the limit before the response gets 413 and closes",
        arguments: [
            State.connecting(requestComplete: false), .connecting(requestComplete: true),
            .relaying(requestComplete: false, responseStarted: false),
            .relaying(requestComplete: true, responseStarted: false),
        ]
    )
    func bodyTooLargeBeforeResponse(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.bodyTooLarge() == .failGateway(status: 413, closeClient: true))
        #expect(machine.state == .closing)
    }

    @Test(
        "a body over the limit after the response started aborts",
        arguments: [
            State.relaying(requestComplete: false, responseStarted: true),
            .relaying(requestComplete: true, responseStarted: true),
        ]
    )
    func bodyTooLargeAfterResponse(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.bodyTooLarge() == .abort)
        #expect(machine.state == .closing)
    }

    @Test("a body over the limit with no request open is dropped", arguments: [State.idle, .discarding, .closing])
    func bodyTooLargeWhileNotRelaying(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.bodyTooLarge() == .drop)
        #expect(machine.state == state)
    }

    // MARK: request framing broken after the head

    @Test(
        "a bad body before any answer gets 400 and closes",
        arguments: [
            State.connecting(requestComplete: false), .relaying(requestComplete: false, responseStarted: false),
        ]
    )
    func requestInvalidBeforeResponse(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.requestInvalid() == .failGateway(status: 400, closeClient: true))
        #expect(machine.state == .closing)
    }

    @Test("a bad request between exchanges is answered locally")
    func requestInvalidWithoutExchange() {
        var machine = Self.machine(in: .idle)
        #expect(machine.requestInvalid() == .answerLocally(close: true))
        #expect(machine.state == .closing)
    }

    @Test("a bad request after a local answer closes without a second answer")
    func requestInvalidWhileDiscarding() {
        var machine = Self.machine(in: .discarding)
        #expect(machine.requestInvalid() == .abort)
        #expect(machine.state == .closing)
    }

    @Test(
        "a bad body after the response started aborts",
        arguments: [
            State.relaying(requestComplete: false, responseStarted: true), .upgraded, .closing,
        ]
    )
    func requestInvalidAfterResponse(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.requestInvalid() == .abort)
        #expect(machine.state == .closing)
    }

    // MARK: client gone

    @Test(
        "the client closing aborts an exchange in progress",
        arguments: [
            State.connecting(requestComplete: false), .connecting(requestComplete: true),
            .relaying(requestComplete: false, responseStarted: false),
            .relaying(requestComplete: true, responseStarted: true),
            .upgraded,
        ]
    )
    func clientClosedWhileBusy(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.clientClosed() == .abort)
        #expect(machine.state == .closing)
    }

    @Test("the client closing between exchanges needs nothing", arguments: [State.idle, .discarding, .closing])
    func clientClosedWhileQuiet(_ state: State) {
        var machine = Self.machine(in: state)
        #expect(machine.clientClosed() == .none)
        #expect(machine.state == .closing)
    }

    // MARK: whole exchanges

    @Test func twoExchangesOnOneConnection() {
        var machine = Machine()
        var actions: [RelayStateMachine.Action] = []
        for _ in 0..<2 {
            actions.append(machine.requestHead(allowed: true, hasBody: true))
            actions.append(machine.requestBody())
            actions.append(machine.upstreamReady())
            actions.append(machine.requestBody())
            actions.append(machine.requestEnd())
            actions.append(machine.responseHead(switchingProtocols: false))
            actions.append(machine.responseBody())
            actions.append(machine.responseEnd(upstreamKeepAlive: true, clientKeepAlive: true))
        }
        let one: [RelayStateMachine.Action] = [
            .connect, .buffer, .flushBuffered, .forward, .forward, .forwardResponse, .forwardResponse,
            .finish(reuseUpstream: true, closeClient: false),
        ]
        #expect(actions == one + one)
        #expect(machine.state == .idle)
    }

    @Test func deniedThenAllowedOnOneConnection() {
        var machine = Machine()
        #expect(machine.requestHead(allowed: false, hasBody: false) == .answerLocally(close: false))
        #expect(machine.requestEnd() == .drop)
        #expect(machine.requestHead(allowed: true, hasBody: false) == .connect)
        #expect(machine.requestEnd() == .buffer)
        #expect(machine.upstreamReady() == .flushBuffered)
        #expect(machine.responseHead(switchingProtocols: false) == .forwardResponse)
        #expect(
            machine.responseEnd(upstreamKeepAlive: true, clientKeepAlive: true)
                == .finish(reuseUpstream: true, closeClient: false)
        )
    }
}
