import FoundationEssentials
import GatehouseConfig
import GatehousePolicy
import Logging
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The server side of one client connection: judges each request with the policy, answers locally or relays it
/// to an upstream connection on the same event loop, streaming both ways with backpressure.
///
/// Protocol decisions live in ``RelayStateMachine``; this handler carries out its actions.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamOwner {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What one exchange needs to remember, for relaying and for the access log.
    private struct Exchange {
        var requestID: String
        var method: HTTPMethod
        var version: HTTPVersion
        var path: String
        var routeID: String
        var reason: String
        var subject: String?
        var clientKeepAlive: Bool
        var framing: HeaderPolicy.BodyFraming
        var bodyBytes = 0
        var bytesOut = 0
        var start: NIODeadline
        var upstreamStart: NIODeadline? = nil
        var upstreamStatus: Int? = nil
        var upstream: UpstreamAddress? = nil
        /// The request head as sent upstream (kept to retry on a stale pooled connection).
        var upstreamHead: ByteBuffer? = nil
        var responseStatus = 0
        var responseFraming = ResponseFraming.none
        var upstreamKeepAlive = true
        var upgrade: String? = nil
        var retried = false

        /// Takes in the decision for the access log (one access to the stored exchange instead of one per field).
        mutating func record(_ decision: Decision, framing: HeaderPolicy.BodyFraming) {
            self.framing = framing
            path = decision.target?.path ?? "-"
            routeID = decision.routeID
            reason = decision.reason.label
            subject = decision.subject
        }

        /// Takes in where the request goes and the head sent there.
        mutating func relay(to address: UpstreamAddress, head: ByteBuffer, upgrade: String?) {
            upstream = address
            upstreamHead = head
            self.upgrade = upgrade
        }
    }

    private let store: ConfigurationStore
    private let pool: UpstreamPool
    private let logger: Logger
    private let environment: ProxyEnvironment
    private var machine = RelayStateMachine()
    private var context: ChannelHandlerContext?
    private var exchange: Exchange?
    private var snapshot: ConfigurationStore.Snapshot?
    /// Request bytes for the upstream, framed, while it is being connected.
    private var buffered = CircularBuffer<ByteBuffer>()
    private var upstream: UpstreamConnection?
    private var pendingRead = false
    private var upstreamNeedsFlush = false
    private var clientNeedsFlush = false
    /// The one scheduled task of this connection, and when it fires. Arming a later deadline only moves
    /// `timerDeadline` (no task per request); the task re-checks when it fires.
    private var timer: Scheduled<Void>?
    private var timerFiresAt: NIODeadline?
    private var timerDeadline: NIODeadline?
    private var timerIdle = false
    private var timerLimit: Double = 0
    private var lastUpstreamActivity = NIODeadline.now()
    private var upstreamActiveThisRead = false
    private var peerAddress: String?
    private var peerBytes: [UInt8]?
    /// Counts exchanges, so that a late callback (a connect that completes after its request timed out) is never
    /// taken for the next exchange's.
    private var exchangeSerial = 0
    private var requestIDs = RequestIDGenerator()
    private var metrics = ConnectionMetrics()
    private var parser: RequestParser
    /// What the client sent that is not parsed yet: a pipelined request waiting for the one in flight to be answered,
    /// or what follows an upgrade request. Reads stop while anything waits here.
    private var inbound: ByteBuffer?
    private var parsing = false
    /// Fed to the parser for an event that needs no bytes.
    private let noBytes = ByteBuffer()
    /// Set by a server shutdown: the exchange in flight is the connection's last.
    private var quiescing = false
    /// The relayed response's head, held until its first body bytes (a small body goes out in the same buffer), its
    /// end, or the end of the upstream read.
    private var heldHead: ByteBuffer?
    init(store: ConfigurationStore, pool: UpstreamPool, environment: ProxyEnvironment, logger: Logger) {
        self.store = store
        self.pool = pool
        self.environment = environment
        self.logger = logger
        self.parser = RequestParser(limits: store.snapshot.configuration.server.limits)
    }

    var clientIsWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard peerAddress == nil else { return }
        let remote = context.channel.remoteAddress
        peerAddress = remote?.ipAddress ?? "unknown"
        if let address = remote?.ipAddress { peerBytes = CIDR.addressBytes(address) }
        armTimer(after: store.snapshot.configuration.server.timeouts.head, idle: false)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    /// Leaves the pipeline (when spliced), handing on what the client sent after its upgrade request and a read it was
    /// holding back.
    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        if let leftover = inbound, leftover.readableBytes > 0 {
            inbound = nil
            context.fireChannelRead(wrapInboundOut(leftover))
            context.fireChannelReadComplete()
        }
        if pendingRead {
            pendingRead = false
            context.read()
        }
        context.leavePipeline(removalToken: removalToken)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        inbound = nil
        let action = machine.clientClosed()
        if action == .abort, let upstream {
            upstream.handler.owner = nil
            upstream.channel.close(promise: nil)
            self.upstream = nil
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if inbound == nil {
            inbound = buffer
        } else {
            inbound!.writeBuffer(&buffer)
        }
        parseInbound(context: context)
    }

    /// Whether the request in flight has been read whole while its exchange goes on: what the client sends now
    /// belongs to the next request, which waits.
    private var holdsNextRequest: Bool {
        switch machine.state {
        case .connecting(true), .relaying(true, _), .upgraded: return true
        default: return false
        }
    }

    /// Parses what the client sent and hands on each event, up to the start of a request that must wait for the one
    /// in flight (its bytes stay in `inbound`).
    private func parseInbound(context: ChannelHandlerContext) {
        // Handing on an event may end an exchange, which parses on: this loop then goes on instead.
        guard !parsing else { return }
        parsing = true
        defer { parsing = false }
        while var buffer = inbound ?? (parser.hasEventPending ? noBytes : nil) {
            if machine.state == .closing {
                // Nothing the client sends after an answer that ends the connection is a request.
                inbound = nil
                return
            }
            if parser.isBetweenRequests {
                if holdsNextRequest { return }
                // Each request is read and judged under the configuration in force when it starts (a reload applies
                // to open connections too): one snapshot for its limits and its decision.
                let current = store.snapshot
                snapshot = current
                parser.limits = current.configuration.server.limits
            }
            inbound = nil
            let event: RequestParser.Event?
            do {
                event = try parser.next(&buffer)
            } catch {
                refuse(error)
                return
            }
            if buffer.readableBytes > 0 { inbound = buffer }
            guard let event else { return }
            switch event {
            case .head(let head): receiveHead(head, context: context)
            case .body(let body): receiveBody(body, context: context)
            case .end: receiveEnd(context: context)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if upstreamNeedsFlush, let upstream {
            upstreamNeedsFlush = false
            upstream.handler.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.handler.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        // Nothing more is read while a request waits unparsed (pipelined, or after an upgrade request).
        if let inbound, inbound.readableBytes > 0 {
            pendingRead = true
            return
        }
        switch machine.state {
        case .connecting:
            pendingRead = true
        case .relaying where !(upstream?.channel.isWritable ?? true):
            pendingRead = true
        default:
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        abortBoth()
    }

    /// A request the parser refused: 400 (431 for a head over the limit) while nothing was answered yet, and the
    /// connection is closed.
    private func refuse(_ refusal: HeaderPolicy.Refusal) {
        inbound = nil
        switch machine.requestInvalid() {
        case .answerLocally:
            if exchange == nil { beginExchange(version: .http1_1, method: .GET, path: "-") }
            writeLocal(.refused(refusal), close: true)
        case let action:
            // A bad body after an authorized head: the upstream connection (which may have seen part of the
            // request) is closed, and the client still gets its 400 when no response started.
            carryOut(action)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // The server is shutting down: an idle connection closes now; a busy one after the exchange in flight.
        quiescing = true
        if machine.state == .idle && (inbound?.readableBytes ?? 0) == 0 && (exchange == nil || exchange?.responseStatus != 0) {
            flushAndClose(context)
        } else {
            exchange?.clientKeepAlive = false
        }
    }

    /// Parses on after the exchange that just ended: the next request may have waited behind it.
    private func deliverQueued() {
        guard let context else { return }
        parseInbound(context: context)
        // Parts handed on here were not read from the client: no read-complete will flush them upstream.
        if upstreamNeedsFlush, let upstream {
            upstreamNeedsFlush = false
            upstream.handler.flush()
        }
        if machine.state != .closing { resumeClientReads(context: context) }
    }

    // MARK: request side

    private func beginExchange(version: HTTPVersion, method: HTTPMethod, path: String, requestID: String? = nil) {
        exchangeSerial &+= 1
        exchange = Exchange(
            requestID: requestID ?? requestIDs.make(), method: method, version: version, path: path, routeID: "-",
            reason: "-", subject: nil, clientKeepAlive: false, framing: .none, start: clock)
    }

    private func receiveHead(_ head: RequestHead, context: ChannelHandlerContext) {
        // A pipelined head delivered while this connection is closing is not answered (and must not cut short
        // the response being flushed).
        if machine.state == .closing { return }
        timerDeadline = nil
        let snapshot = self.snapshot ?? store.snapshot
        // A refused request is answered with the client's id too.
        let requestID = head.requestID.flatMap { HeaderPolicy.isSaneRequestID($0) ? $0 : nil }
        beginExchange(version: head.version, method: head.method, path: "-", requestID: requestID)
        exchange!.clientKeepAlive = head.keepAlive && !quiescing

        let target: String
        let nominated: Set<String>
        do throws(HeaderPolicy.Refusal) {
            if let refusal = head.refusal { throw refusal }
            target = try HeaderPolicy.originTarget(head.target, host: head.host)
            nominated = head.connection.isEmpty ? [] : try HeaderPolicy.connectionTokens(head.connection, identityNames: snapshot.identityNames)
        } catch {
            _ = machine.requestHead(allowed: false, hasBody: true)
            writeLocal(.refused(error), close: true)
            return
        }
        let framing = head.framing
        let decision = snapshot.configuration.policy.decide(
            method: head.method.rawValue, target: target, credential: .authorization(head.authorization),
            keys: snapshot.keys, now: environment.now())
        if let lookup = decision.keyLookup { environment.onKeyMiss?(lookup.issuer, lookup.kid) }
        exchange!.record(decision, framing: framing)

        let expectsContinue = head.expect.map { HeaderName.equalsIgnoringCase($0, "100-continue") } ?? false
        let upgrade = head.upgrade
        // Only WebSocket is spliced: other upgrades (h2c above all) would carry requests Gatehouse never judged.
        let wantsUpgrade = head.isUpgrade && upgrade.map { HeaderName.equalsIgnoringCase($0, "websocket") } ?? false
        switch machine.requestHead(allowed: decision.isAllowed, hasBody: framing.hasBody || expectsContinue) {
        case .answerLocally(let close):
            writeLocal(LocalAnswer(decision: decision), close: close || !exchange!.clientKeepAlive)
            return
        case .connect:
            break
        default:
            abortBoth()
            return
        }

        guard let address = snapshot.upstream(for: decision.route), let normalized = decision.target else {
            _ = machine.upstreamFailed(timedOut: false)
            writeLocal(.noUpstream, close: true)
            return
        }
        let forwarding = HeaderPolicy.Forwarding(
            clientAddress: peerAddress, peerIsTrusted: isTrustedPeer(snapshot.configuration.server.trustedProxies),
            proto: snapshot.scheme,
            host: head.host)
        let headBytes = HeaderPolicy.upstreamHead(
            target: normalized.forwardTarget, from: head, nominated: nominated,
            identity: decision.identity, identityNames: snapshot.identityNames, forwarding: forwarding,
            requestID: exchange!.requestID, forwardAuthorization: snapshot.configuration.server.forwardAuthorization,
            upgrade: wantsUpgrade ? upgrade : nil, defaultHost: address.authority, allocator: context.channel.allocator)
        exchange!.relay(to: address, head: headBytes, upgrade: wantsUpgrade ? upgrade : nil)
        buffered.append(headBytes)
        if expectsContinue {
            context.writeAndFlush(wrapOutboundOut(ResponseWriter.continueHead(version: head.version)), promise: nil)
        }
        acquireUpstream(address, fresh: false)
    }

    private func isTrustedPeer(_ trustedProxies: [CIDR]) -> Bool {
        guard let peerBytes, !trustedProxies.isEmpty else { return false }
        return trustedProxies.contains { $0.contains(peerBytes) }
    }

    private func receiveBody(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        if exchange != nil {
            exchange!.bodyBytes += buffer.readableBytes
            if let max = snapshot?.configuration.server.limits.maxBodyBytes, exchange!.bodyBytes > max {
                carryOut(machine.bodyTooLarge())
                return
            }
        }
        switch machine.requestBody() {
        case .buffer:
            frameBody(buffer) { buffered.append($0) }
        case .forward:
            guard let upstream else { return }
            frameBody(buffer) { upstream.handler.send($0) }
            upstreamNeedsFlush = true
        default:
            break
        }
    }

    /// The upstream gets the body as the client framed it: as it comes for a length, re-chunked for chunks (chunk
    /// boundaries and extensions never pass through).
    private func frameBody(_ buffer: ByteBuffer, _ send: (ByteBuffer) -> Void) {
        guard exchange?.framing == .chunked else {
            send(buffer)
            return
        }
        guard let allocator = context?.channel.allocator else { return }
        ResponseWriter.sendChunk(buffer, allocator: allocator, send)
    }

    private func receiveEnd(context: ChannelHandlerContext) {
        let wasDiscarding = machine.state == .discarding
        let chunked = exchange?.framing == .chunked
        switch machine.requestEnd() {
        case .buffer:
            if chunked { buffered.append(ResponseWriter.lastChunk) }
        case .forward:
            // Request trailers are dropped. Without chunks nothing is written here: the parts before were flushed
            // or marked for the read-complete's flush already.
            if chunked {
                upstream?.handler.send(ResponseWriter.lastChunk)
                upstreamNeedsFlush = true
            }
        default:
            if wasDiscarding { flushAndClose(context) }
        }
    }

    // MARK: upstream side

    /// Takes a pooled connection or connects one. The clock is read once for the timer, the upstream's start and its
    /// last activity (a pooled connection is taken at once).
    private func acquireUpstream(_ address: UpstreamAddress, fresh: Bool) {
        let now = clock
        armTimer(after: snapshot?.configuration.server.timeouts.upstream ?? 30, idle: false, now: now)
        let serial = exchangeSerial
        // An idle pooled connection is taken at once, without a callback.
        if !fresh, let connection = pool.takeIdle(address) {
            upstreamAcquired(.success(connection), serial: serial, now: now)
            return
        }
        pool.connect(address, tls: snapshot?.upstreamTLS) { [self] result in
            upstreamAcquired(result, serial: serial)
        }
    }

    private func upstreamAcquired(_ result: Result<UpstreamConnection, any Error>, serial: Int, now: NIODeadline? = nil) {
        guard serial == exchangeSerial else {
            if case .success(let connection) = result { connection.channel.close(promise: nil) }
            return
        }
        switch result {
        case .success(let connection):
            guard case .connecting = machine.state, context != nil else {
                pool.release(connection)
                return
            }
            connection.handler.owner = self
            upstream = connection
            let now = now ?? clock
            exchange?.upstreamStart = now
            lastUpstreamActivity = now
            upstreamActiveThisRead = false
            carryOut(machine.upstreamReady())
        case .failure:
            guard case .connecting = machine.state else { return }
            carryOut(machine.upstreamFailed(timedOut: false))
        }
    }

    func upstreamRead(_ event: UpstreamResponseParser.Event) {
        // A response event is upstream activity; the clock is read once per read, however many events it holds.
        if !upstreamActiveThisRead {
            upstreamActiveThisRead = true
            lastUpstreamActivity = clock
        }
        guard let context else { return }
        switch event {
        case .head(let head):
            let switching = head.status == 101
            if switching && exchange?.upgrade == nil {
                // Switching protocols unasked: that connection no longer speaks HTTP, and the client must not see it.
                upstream?.handler.owner = nil
                upstreamError(UpstreamError.unexpectedUpgrade)
                return
            }
            exchange?.upstreamStatus = head.status
            exchange?.upstreamKeepAlive = head.keepAlive
            let action = machine.responseHead(switchingProtocols: switching)
            guard action == .forwardResponse || action == .splice else { return }
            let version = exchange?.version ?? .http1_1
            // The parser settled whether a body follows (a 101, 1xx, 204, 304 or a response to HEAD has none).
            let withoutLength = head.body == .chunked || head.body == .untilClose
            var keepAlive = exchange?.clientKeepAlive ?? false
            if keepAlive, version.minor == 0, withoutLength {
                // An HTTP/1.0 client cannot take chunks: without a length, only closing ends the body.
                keepAlive = false
                exchange?.clientKeepAlive = false
            }
            let framing: ResponseFraming =
                switch head.body {
                case .none: .none
                case .length: .raw
                // The upstream's chunks or close-delimited body, re-framed as chunks for an HTTP/1.1 client.
                case .chunked, .untilClose: version.minor == 0 ? .raw : .chunked
                }
            exchange?.responseFraming = framing
            exchange?.responseStatus = head.status
            var buffer = context.channel.allocator.buffer(capacity: head.bytes.readableBytes + 96)
            ResponseWriter.writeStatusLine(version: version, head: head, into: &buffer)
            HeaderPolicy.writeResponseFields(of: head, keepUpgrade: switching, into: &buffer)
            if framing == .chunked { buffer.writeStaticString("Transfer-Encoding: chunked\r\n") }
            ResponseWriter.writeClosingFields(
                requestID: exchange?.requestID ?? "-", version: version, close: switching ? nil : !keepAlive, into: &buffer)
            heldHead = buffer
            clientNeedsFlush = true
            // A 101 is spliced at its `.end`, which the parser gives right after the head.
        case .body(let buffer):
            guard machine.responseBody() == .forwardResponse else { return }
            exchange?.bytesOut += buffer.readableBytes
            let framing = exchange?.responseFraming ?? .none
            // An empty chunk would end the body; a body where none may be is not relayed.
            guard framing == .raw || framing == .chunked && buffer.readableBytes > 0 else { return }
            if var head = heldHead, buffer.readableBytes <= Self.coalescedBodyBytes {
                // A small body rides in the head's buffer, which stays held: the end of the exchange (or of this
                // read) writes and flushes it in one operation.
                heldHead = nil
                if framing == .chunked {
                    ResponseWriter.writeChunk(buffer, into: &head)
                } else {
                    head.writeImmutableBuffer(buffer)
                }
                heldHead = head
            } else {
                writeHeldHead(context: context)
                if framing == .chunked {
                    ResponseWriter.sendChunk(buffer, allocator: context.channel.allocator) {
                        context.write(wrapOutboundOut($0), promise: nil)
                    }
                } else {
                    context.write(wrapOutboundOut(buffer), promise: nil)
                }
            }
            clientNeedsFlush = true
        case .end:
            if machine.state == .upgraded {
                splice()
                return
            }
            carryOut(
                machine.responseEnd(
                    upstreamKeepAlive: exchange?.upstreamKeepAlive ?? false,
                    clientKeepAlive: exchange?.clientKeepAlive ?? false))
        }
    }

    func upstreamReadComplete() {
        upstreamActiveThisRead = false
        if clientNeedsFlush, let context {
            clientNeedsFlush = false
            if let head = heldHead {
                heldHead = nil
                context.writeAndFlush(wrapOutboundOut(head), promise: nil)
            } else {
                context.flush()
            }
        }
    }

    /// Body parts up to this size are copied into the held head's buffer. The buffer goes out at the end of the
    /// exchange or of the upstream read, so it holds at most what one read brought.
    private static let coalescedBodyBytes = 4096

    private func writeHeldHead(context: ChannelHandlerContext) {
        if let head = heldHead {
            heldHead = nil
            context.write(wrapOutboundOut(head), promise: nil)
        }
    }

    func upstreamWritabilityChanged(_ isWritable: Bool) {
        if isWritable, let context { resumeClientReads(context: context) }
    }

    func upstreamClosed() {
        guard upstream != nil else { return }
        if retryStaleConnection() { return }
        upstream = nil
        carryOut(machine.upstreamFailed(timedOut: false))
    }

    func upstreamError(_ error: any Error) {
        guard let connection = upstream else { return }
        // A pooled connection the upstream had closed may answer the request with a reset instead of a plain close:
        // the same stale connection, retried the same way.
        if let io = error as? IOError, io.errnoCode == ECONNRESET || io.errnoCode == EPIPE, retryStaleConnection() {
            connection.channel.close(promise: nil)
            return
        }
        upstream = nil
        connection.channel.close(promise: nil)
        logger.debug("upstream error", metadata: [LogKeys.error: "\(error)"])
        carryOut(machine.upstreamFailed(timedOut: false))
    }

    /// A pooled connection the upstream closed just as it was reused: retry once on a fresh connection when
    /// nothing of the response arrived and the request had no body to replay.
    private func retryStaleConnection() -> Bool {
        guard let connection = upstream, connection.reused, var current = exchange, !current.retried,
            current.upstreamStatus == nil, !current.framing.hasBody, let head = current.upstreamHead,
            [.GET, .HEAD, .OPTIONS].contains(current.method),
            let address = current.upstream, case .relaying(true, false) = machine.state
        else { return false }
        current.retried = true
        exchange = current
        upstream = nil
        machine = RelayStateMachine()
        _ = machine.requestHead(allowed: true, hasBody: false)
        _ = machine.requestEnd()
        buffered.removeAll()
        buffered.append(head)
        acquireUpstream(address, fresh: true)
        return true
    }

    // MARK: carrying out actions

    private func carryOut(_ action: RelayStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .none, .buffer, .forward, .drop, .answerLocally, .connect, .forwardResponse:
            break
        case .flushBuffered:
            guard let upstream else { return }
            upstream.handler.expectResponse(to: exchange?.method ?? .GET)
            while let part = buffered.popFirst() { upstream.handler.send(part) }
            upstream.handler.flush(batchedIn: pool.flushes)
            resumeClientReads(context: context)
        case .finish(let reuseUpstream, let closeClient):
            timerDeadline = nil
            if let upstream {
                self.upstream = nil
                if reuseUpstream { pool.release(upstream) } else {
                    upstream.handler.owner = nil
                    upstream.channel.close(promise: nil)
                }
            }
            var last = exchange?.responseFraming == .chunked ? ResponseWriter.lastChunk : ResponseWriter.empty
            if var head = heldHead {
                heldHead = nil
                head.writeImmutableBuffer(last)
                last = head
            }
            let now = clock
            logExchange(now: now)
            clientNeedsFlush = false
            // Idle until the next request; a client that stops reading cannot hold a closing connection open either.
            armTimer(after: snapshot?.configuration.server.timeouts.idle ?? 60, idle: true, now: now)
            if closeClient {
                let promise = context.eventLoop.makePromise(of: Void.self)
                promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                context.writeAndFlush(wrapOutboundOut(last), promise: promise)
            } else {
                if last.readableBytes > 0 { context.write(wrapOutboundOut(last), promise: nil) }
                pool.flushes.flushSoon(context)
                deliverQueued()
            }
        case .failGateway(let status, let closeClient):
            timerDeadline = nil
            if let upstream {
                self.upstream = nil
                upstream.handler.owner = nil
                upstream.channel.close(promise: nil)
            }
            buffered.removeAll()
            if status != 413, let address = exchange?.upstream {
                GatehouseMetrics.recordUpstreamError(address.description, kind: status == 504 ? "timeout" : "unavailable")
            }
            let answer: LocalAnswer =
                switch status {
                case 504: .upstreamTimeout
                case 413: .bodyTooLarge
                case 400: .requestInvalid
                default: .upstreamUnavailable
                }
            let close = closeClient || !(exchange?.clientKeepAlive ?? false)
            writeLocal(answer, close: close)
        case .abort:
            abortBoth()
        case .splice:
            break
        }
    }

    /// Passes on a read held back while the upstream was busy: the exchange is over, and without it the
    /// connection would never read its next request.
    private func resumeClientReads(context: ChannelHandlerContext) {
        guard pendingRead else { return }
        pendingRead = false
        read(context: context)
    }

    private func writeLocal(_ answer: LocalAnswer, close: Bool) {
        guard let context, exchange != nil else { return }
        timerDeadline = nil
        // Changed in place: a copy of the exchange would retain and release each of its strings.
        exchange!.responseStatus = answer.status
        if exchange!.reason == "-" || answer.status >= 500 || answer.status == 413 || answer.status == 408 || answer.status == 431 {
            exchange!.reason = answer.reason
        }
        if close { machine.closeAfterAnswer() }
        let withBody = !exchange!.method.isHEAD
        let bytes = answer.response(
            version: exchange!.version, requestID: exchange!.requestID, close: close,
            withBody: withBody, allocator: context.channel.allocator)
        if withBody { exchange!.bytesOut += answer.body.utf8.count }
        logExchange()
        // Idle until the next request; a client that stops reading cannot hold a closing connection open either.
        armTimer(after: snapshot?.configuration.server.timeouts.idle ?? 60, idle: true)
        if close {
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
        } else {
            context.write(wrapOutboundOut(bytes), promise: nil)
            pool.flushes.flushSoon(context)
            deliverQueued()
        }
    }

    private func abortBoth() {
        timerDeadline = nil
        heldHead = nil
        if let address = exchange?.upstream, upstream != nil {
            GatehouseMetrics.recordUpstreamError(address.description, kind: "aborted")
        }
        if let upstream {
            self.upstream = nil
            upstream.handler.owner = nil
            upstream.channel.close(promise: nil)
        }
        if exchange != nil {
            if exchange?.reason == "-" { exchange?.reason = "aborted" }
            logExchange()
        }
        if let context { flushAndClose(context) }
    }

    /// Closes the client connection once what was written to it is flushed: the flush of an answer may still be
    /// waiting for the end of the loop's round of I/O (see ``FlushBatch``), and closing drops unflushed bytes. An
    /// aborted response's bytes written so far go out too (they did before batching as well, one flush at a time);
    /// the client sees the same cut-short response either way.
    private func flushAndClose(_ context: ChannelHandlerContext) {
        context.flush()
        context.close(promise: nil)
    }

    // MARK: timers

    /// The data path's one clock: the event loop's (a test loop's clock in tests). Read as few times per request as
    /// the timers and the access log allow.
    private var clock: NIODeadline { context?.eventLoop.now ?? .now() }

    private func armTimer(after seconds: Double, idle: Bool, limit: Double? = nil, now: NIODeadline? = nil) {
        guard let context else { return }
        let deadline = (now ?? context.eventLoop.now) + .nanoseconds(Int64(min(seconds, 86_400 * 365) * 1_000_000_000))
        timerDeadline = deadline
        timerIdle = idle
        timerLimit = limit ?? seconds
        // An outstanding task that fires no later than the new deadline will re-check then.
        if let firesAt = timerFiresAt, firesAt <= deadline { return }
        timer?.cancel()
        schedule(at: deadline, on: context)
    }

    private func schedule(at deadline: NIODeadline, on context: ChannelHandlerContext) {
        timerFiresAt = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.timerTaskRan()
        }
    }

    private func timerTaskRan() {
        timerFiresAt = nil
        timer = nil
        guard let deadline = timerDeadline, let context else { return }
        if context.eventLoop.now < deadline {
            schedule(at: deadline, on: context)
            return
        }
        timerDeadline = nil
        timerFired(idle: timerIdle, seconds: timerLimit)
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerFiresAt = nil
        timerDeadline = nil
    }

    /// `seconds` is the configured limit (not the delay this timer happened to be armed with).
    private func timerFired(idle: Bool, seconds: Double) {
        switch machine.state {
        case .idle:
            if idle || exchange != nil && exchange?.responseStatus != 0 {
                if let context { flushAndClose(context) }
            } else {
                beginExchange(version: .http1_1, method: .GET, path: "-")
                // Nothing more is read: the partial head held by the parser must not become a second answer.
                _ = machine.requestInvalid()
                writeLocal(.requestTimeout, close: true)
            }
        case .connecting, .relaying:
            let quietFor = clock - lastUpstreamActivity
            let limit = TimeAmount.nanoseconds(Int64(seconds * 1_000_000_000))
            if case .relaying = machine.state, quietFor < limit {
                armTimer(after: Double((limit - quietFor).nanoseconds) / 1e9, idle: false, limit: seconds)
                return
            }
            carryOut(machine.upstreamFailed(timedOut: true))
        default:
            // Closing or discarding past the idle limit: nothing more is owed to this client.
            abortBoth()
        }
    }

    // MARK: splicing (WebSocket and other upgrades)

    private func splice() {
        guard let context, let upstream else { return }
        logExchange()
        cancelTimer()
        writeHeldHead(context: context)
        context.flush()
        // The request head's flush may still wait for the end of the loop's round (see `FlushBatch`), and the
        // handler that would make it leaves the pipeline now.
        upstream.handler.flush()
        self.upstream = nil
        upstream.handler.owner = nil
        Splicer.splice(client: context.channel, upstream: upstream.channel)
    }

    // MARK: access log

    private func logExchange(now: NIODeadline? = nil) {
        let now = now ?? clock
        // Moved out, not copied: a copy would retain and release each of its strings.
        guard let current = exchange.take() else { return }
        metrics.recordRequest(
            route: current.routeID, status: current.responseStatus, reason: current.reason,
            nanoseconds: (now - current.start).nanoseconds)
        if let start = current.upstreamStart, let address = current.upstream, current.upstreamStatus != nil {
            metrics.recordUpstream(address.description, nanoseconds: (now - start).nanoseconds)
        }
        // The entry is built only when it will be written.
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            LogKeys.requestID: .string(current.requestID),
            LogKeys.method: .string(current.method.rawValue),
            LogKeys.path: .string(current.path),
            LogKeys.routeID: .string(current.routeID),
            LogKeys.status: .stringConvertible(current.responseStatus),
            LogKeys.reason: .string(current.reason),
            LogKeys.client: .string(peerAddress ?? "unknown"),
            LogKeys.duration: .stringConvertible(Double((now - current.start).nanoseconds) / 1e6),
            LogKeys.bytesIn: .stringConvertible(current.bodyBytes),
            LogKeys.bytesOut: .stringConvertible(current.bytesOut),
        ]
        if let subject = current.subject { metadata[LogKeys.subject] = .string(subject) }
        if let status = current.upstreamStatus { metadata[LogKeys.upstreamStatus] = .stringConvertible(status) }
        if let start = current.upstreamStart {
            metadata[LogKeys.upstreamLatency] = .stringConvertible(Double((now - start).nanoseconds) / 1e6)
        }
        if let address = current.upstream { metadata[LogKeys.upstream] = .string(address.description) }
        logger.info("request", metadata: metadata)
    }

}

extension HTTPMethod {
    /// Whether this is `HEAD`, by case: `HTTPMethod`'s `==` compares the methods' names as strings, and the data path
    /// asks this of every relayed response and local answer.
    var isHEAD: Bool {
        if case .HEAD = self { return true }
        return false
    }

    /// Methods whose requests normally carry a body, so an unframed one is sent with `Content-Length: 0`.
    var hasRequestBodyRequired: Bool {
        switch self {
        case .POST, .PUT, .PATCH: return true
        default: return false
        }
    }
}

/// What the data path needs from its surroundings: the clock, and where to report key misses.
public struct ProxyEnvironment: Sendable {
    /// Seconds since 1970.
    public var now: @Sendable () -> Double
    /// Told when a token named a key its issuer does not have (issuer, kid), so that a key source may refetch.
    public var onKeyMiss: (@Sendable (String, String?) -> Void)?

    /// The real clock.
    public init(
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        onKeyMiss: (@Sendable (String, String?) -> Void)? = nil
    ) {
        self.now = now
        self.onKeyMiss = onKeyMiss
    }
}
