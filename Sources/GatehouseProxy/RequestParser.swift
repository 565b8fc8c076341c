import GatehouseConfig
import GatehousePolicy
import NIOCore
import NIOHTTP1

/// A strict, incremental HTTP/1.x request parser for client connections (RFC 9112), fed the bytes of one connection
/// and pulled for events one at a time, so that the handler decides when the next request may start: a pipelined
/// request stays unparsed in the caller's buffer until the one before it is answered.
///
/// Refused with 400: a request line other than `method SP request-target SP HTTP/d.d CRLF`, a method with a
/// lower-case letter, `CONNECT`, a target with anything but visible ASCII, bare CR or LF, obsolete line folding,
/// whitespace before a colon, a name that is not a token, control characters in values, `Transfer-Encoding` other
/// than exactly `chunked` (or in HTTP/1.0), both `Transfer-Encoding` and `Content-Length`, more than one of either,
/// a `Content-Length` that is not plain digits (trailing whitespace after either framing value counts against it), a
/// missing (HTTP/1.1) or repeated `Host`, and malformed chunks. A head over the limit, in bytes or fields, gets 431;
/// a declared body over the limit 413; a version other than 1.0 and 1.1 505. Empty lines before a request line are
/// skipped (RFC 9112 §2.2); chunk extensions and trailers are dropped. After an upgrade request, or a request that
/// ends the connection (`Connection: close`, HTTP/1.0 without keep-alive), nothing more is parsed.
struct RequestParser {
    enum Event {
        case head(RequestHead)
        case body(ByteBuffer)
        case end
    }

    private enum State {
        /// Between requests; `sawCR` after a CR that may start an empty line.
        case idle(sawCR: Bool)
        /// Reading a head; `scanned` bytes of `partial` hold no terminator.
        case head(scanned: Int)
        case body(BodyDecoder)
        /// The message is complete: `.end` is the next event.
        case ending
        /// Nothing more is parsed: after an upgrade request, a request that ends the connection, a refused head or a
        /// parse error.
        case stopped
    }

    /// The limits in force; the handler sets them from the configuration before each request.
    var limits: ServerSettings.Limits
    private var state = State.idle(sawCR: false)
    private var partial: ByteBuffer?
    /// Whether the message being read is an upgrade request.
    private var stopsAfterMessage = false

    init(limits: ServerSettings.Limits) {
        self.limits = limits
    }

    /// Whether the next byte starts a new request (no request is partly read).
    var isBetweenRequests: Bool {
        if case .idle(false) = state { return true }
        return false
    }

    /// Whether an event is ready without more bytes (a message's end).
    var hasEventPending: Bool {
        if case .ending = state { return true }
        return false
    }

    /// The next event from the bytes in `buffer` (consuming them), or nil when more bytes are needed. Once parsing
    /// stopped (see ``State/stopped``), nil, with the bytes left in `buffer`.
    mutating func next(_ buffer: inout ByteBuffer) throws(HeaderPolicy.Refusal) -> Event? {
        do {
            return try nextUnchecked(&buffer)
        } catch {
            state = .stopped
            partial = nil
            throw error
        }
    }

    private mutating func nextUnchecked(_ buffer: inout ByteBuffer) throws(HeaderPolicy.Refusal) -> Event? {
        while true {
            switch state {
            case .stopped:
                return nil
            case .ending:
                state = stopsAfterMessage ? .stopped : .idle(sawCR: false)
                return .end
            default:
                break
            }
            guard buffer.readableBytes > 0 else { return nil }
            switch state {
            case .idle(let sawCR):
                // Empty lines before a request line are read past.
                let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!
                if sawCR {
                    guard byte == UInt8(ascii: "\n") else { throw Self.invalid("bare CR before the request line") }
                    buffer.moveReaderIndex(forwardBy: 1)
                    state = .idle(sawCR: false)
                } else if byte == UInt8(ascii: "\r") {
                    buffer.moveReaderIndex(forwardBy: 1)
                    state = .idle(sawCR: true)
                } else {
                    state = .head(scanned: 0)
                }
            case .head(let scanned):
                guard let head = try readHead(&buffer, scanned: scanned) else { continue }
                return .head(head)
            case .body(var decoder):
                let slice = try decoder.next(&buffer, orFailure: Self.invalid)
                state = decoder.isDone ? .ending : .body(decoder)
                if let slice { return .body(slice) }
            case .ending, .stopped:
                break
            }
        }
    }

    /// Collects the head until its blank line, then parses it; nil when more bytes are needed (all of `buffer` is
    /// then held).
    private mutating func readHead(_ buffer: inout ByteBuffer, scanned: Int) throws(HeaderPolicy.Refusal) -> RequestHead? {
        var scannedNow = scanned
        guard
            let headBytes = try HeadBytes.collect(
                &buffer, partial: &partial, scanned: &scannedNow, maxBytes: limits.maxHeadBytes,
                tooLarge: Self.headTooLarge, scan: Self.scanHead)
        else {
            state = .head(scanned: scannedNow)
            return nil
        }
        let head = try Self.parseCheckedHead(headBytes, limits: limits)
        // After a request that ends the connection (an upgrade request among them), nothing is parsed.
        stopsAfterMessage = !head.keepAlive
        if head.refusal != nil {
            state = .stopped
            return head
        }
        switch head.framing {
        case .none, .length(0): state = .ending
        case .length(let length): state = .body(BodyDecoder(length: length))
        case .chunked: state = .body(BodyDecoder(chunkedWithTrailersUpTo: limits.maxHeadBytes))
        }
        return head
    }

    private static let headTooLarge = HeaderPolicy.Refusal(status: 431, detail: "the request head is too large")

    private static func invalid(_ detail: String) -> HeaderPolicy.Refusal {
        HeaderPolicy.Refusal(status: 400, detail: detail)
    }

    /// The offset just past the head's blank line, or nil when it has not come yet (see ``HeadBytes/scan(_:from:)``).
    private static func scanHead(_ bytes: UnsafeRawBufferPointer, from scanned: Int) -> Result<Int?, HeaderPolicy.Refusal> {
        HeadBytes.scan(bytes, from: scanned).end(orFailure: invalid)
    }

    /// Parses a complete head given whole, checking first what ``next(_:)`` checks as bytes arrive: that its blank
    /// line is its end, no bare LF and no control bytes.
    static func parseHead(_ bytes: ByteBuffer, limits: ServerSettings.Limits) throws(HeaderPolicy.Refusal) -> RequestHead {
        let end = bytes.withUnsafeReadableBytes { Self.scanHead($0, from: 0) }
        guard try end.get() == bytes.readableBytes else { throw invalid("malformed head") }
        return try parseCheckedHead(bytes, limits: limits)
    }

    /// Parses a head whose shape ``readHead(_:scanned:)`` checked.
    private static func parseCheckedHead(_ bytes: ByteBuffer, limits: ServerSettings.Limits) throws(HeaderPolicy.Refusal) -> RequestHead {
        try HeadBytes.parse(bytes) { raw throws(HeaderPolicy.Refusal) in try parseHead(raw, bytes: bytes, limits: limits) }
    }

    private static func parseHead(
        _ raw: UnsafeRawBufferPointer, bytes: ByteBuffer, limits: ServerSettings.Limits
    ) throws(HeaderPolicy.Refusal) -> RequestHead {
        let count = raw.count
        HeadBytes.requireBlankLineEnd(raw)
        var index = 0
        var lowerCase = false
        while HeaderName.isTokenByte(raw[index]) {
            if raw[index] >= UInt8(ascii: "a") && raw[index] <= UInt8(ascii: "z") { lowerCase = true }
            index += 1
        }
        guard index > 0, raw[index] == UInt8(ascii: " ") else { throw invalid("malformed request line") }
        // Methods are case-sensitive and routes name them in upper case; a server behind Gatehouse that reads
        // `delete` as DELETE would otherwise run a method no route judged.
        guard !lowerCase else { throw invalid("the method must be upper case") }
        let method = Self.method(UnsafeRawBufferPointer(rebasing: raw[0..<index]))
        index += 1
        let targetStart = index
        while raw[index] > 0x20 && raw[index] < 0x7F { index += 1 }
        guard index > targetStart, raw[index] == UInt8(ascii: " ") else { throw invalid("malformed request-target") }
        let target = String(decoding: raw[targetStart..<index], as: UTF8.self)
        index += 1
        // "HTTP/d.d" CRLF
        guard count - index >= 10, raw[index] == UInt8(ascii: "H"), raw[index + 1] == UInt8(ascii: "T"),
            raw[index + 2] == UInt8(ascii: "T"), raw[index + 3] == UInt8(ascii: "P"), raw[index + 4] == UInt8(ascii: "/"),
            Self.isDigit(raw[index + 5]), raw[index + 6] == UInt8(ascii: "."), Self.isDigit(raw[index + 7]),
            raw[index + 8] == UInt8(ascii: "\r"), raw[index + 9] == UInt8(ascii: "\n")
        else { throw invalid("malformed request line") }
        let major = raw[index + 5] - UInt8(ascii: "0")
        let minor = raw[index + 7] - UInt8(ascii: "0")
        // Anything but HTTP/1.0 and HTTP/1.1 is refused with 505, answered in HTTP/1.1.
        let supported = major == 1 && minor <= 1
        let version = supported && minor == 0 ? HTTPVersion.http1_0 : HTTPVersion.http1_1
        index += 10

        var fields: [HeadField] = []
        fields.reserveCapacity(16)
        var contentLength: Int? = nil
        var lengthCount = 0
        var transferEncodings = 0
        var chunked = false
        var hostCount = 0
        var host: String?
        var authorization: [Substring] = []
        var expect: String?
        var upgrade: String?
        var requestID: String?
        var connection: [String] = []
        var options = HeadBytes.ConnectionOptions()
        while let field = try HeadBytes.field(raw, at: &index, orFailure: invalid) {
            guard fields.count < limits.maxHeaders else {
                throw HeaderPolicy.Refusal(status: 431, detail: "too many header fields")
            }
            fields.append(field)
            let kind = field.kind
            let trailingWhitespace = field.trailingWhitespace
            let valueBytes = UnsafeRawBufferPointer(rebasing: raw[field.value])
            func text() -> String { String(decoding: valueBytes, as: UTF8.self) }
            switch kind {
            case .contentLength:
                lengthCount += 1
                // The framing fields are read as strictly as the strictest reader: no trailing whitespace either.
                guard !trailingWhitespace, let length = HeadBytes.contentLength(valueBytes) else {
                    throw invalid("invalid Content-Length")
                }
                contentLength = length
            case .transferEncoding:
                transferEncodings += 1
                chunked = HeaderName.equalsIgnoringCase(valueBytes, "chunked") && !trailingWhitespace
                guard chunked else { throw invalid("only Transfer-Encoding: chunked is accepted") }
            case .host:
                hostCount += 1
                host = text()
            case .authorization:
                authorization.append(Substring(text()))
            case .expect:
                if expect == nil { expect = text() }
            case .upgrade:
                if upgrade == nil { upgrade = text() }
            case .requestID:
                if requestID == nil { requestID = text() }
            case .connection:
                connection.append(text())
                options.read(valueBytes)
            default:
                break
            }
        }

        var refusal: HeaderPolicy.Refusal? = nil
        if !supported {
            refusal = HeaderPolicy.Refusal(status: 505, detail: "only HTTP/1.0 and HTTP/1.1 are served here")
        } else if lengthCount > 1 {
            refusal = invalid("more than one Content-Length")
        } else if transferEncodings > 1 {
            refusal = invalid("more than one Transfer-Encoding")
        } else if lengthCount > 0 && transferEncodings > 0 {
            refusal = invalid("both Content-Length and Transfer-Encoding")
        } else if chunked && version == .http1_0 {
            refusal = invalid("chunked transfer coding is not allowed in HTTP/1.0")
        } else if hostCount > 1 {
            refusal = invalid("more than one Host header")
        } else if hostCount == 0 && version == .http1_1 {
            refusal = invalid("missing Host header")
        } else if case .CONNECT = method {
            // A 2xx to CONNECT turns the upstream connection into a tunnel: never relayed.
            refusal = invalid("CONNECT is not served here")
        } else if let contentLength, let max = limits.maxBodyBytes, contentLength > max {
            refusal = HeaderPolicy.Refusal(status: 413, detail: "the request body is larger than \(max) bytes")
        }
        let framing: HeaderPolicy.BodyFraming =
            if let contentLength { .length(contentLength) } else if chunked { .chunked } else { .none }
        let isUpgrade = upgrade != nil && options.upgrade
        // Nothing after an upgrade request is parsed as HTTP (spliced, refused or relayed as a plain request), so
        // the connection ends with it.
        let keepAlive = !options.close && !isUpgrade && (version == .http1_1 || options.keepAlive)
        return RequestHead(
            bytes: bytes, method: method, target: target, version: version, fields: fields, framing: framing,
            keepAlive: keepAlive, host: host, authorization: authorization, expect: expect, upgrade: upgrade,
            requestID: requestID, connection: connection, isUpgrade: isUpgrade, refusal: refusal)
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// The method named by `bytes` (a token): the common ones without building a string.
    private static func method(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod {
        switch bytes.count {
        case 3:
            if bytes[0] == UInt8(ascii: "G"), bytes[1] == UInt8(ascii: "E"), bytes[2] == UInt8(ascii: "T") { return .GET }
            if bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "U"), bytes[2] == UInt8(ascii: "T") { return .PUT }
        case 4:
            if bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "O"), bytes[2] == UInt8(ascii: "S"),
                bytes[3] == UInt8(ascii: "T")
            {
                return .POST
            }
            if bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "E"), bytes[2] == UInt8(ascii: "A"),
                bytes[3] == UInt8(ascii: "D")
            {
                return .HEAD
            }
        default:
            break
        }
        return HTTPMethod(rawValue: String(decoding: bytes, as: UTF8.self))
    }
}
