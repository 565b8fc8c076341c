import GatehousePolicy
import NIOCore
import NIOHTTP1

/// A response head from an upstream, as parsed by ``UpstreamResponseParser``: the bytes of the head and where each
/// part lies in them, so that relaying it to the client copies bytes instead of building strings.
struct UpstreamResponseHead {
    /// How the body that follows is delimited.
    enum Body: Equatable {
        case none
        case length(Int)
        case chunked
        /// Until the upstream closes the connection.
        case untilClose
    }

    typealias Field = HeadField

    /// The head, from the status line to the blank line (reader index 0).
    let bytes: ByteBuffer
    let version: HTTPVersion
    let status: Int
    let reason: Range<Int>
    let fields: [Field]
    /// Whether the connection may carry another exchange after this response.
    let keepAlive: Bool
    /// Whether a `Connection` field names headers to remove (see ``HeaderPolicy/nominatesHeader(_:)``).
    let nominatesHeaders: Bool
    let body: Body

    func name(_ field: Field) -> ByteBufferView { slice(field.name) }
    func value(_ field: Field) -> ByteBufferView { slice(field.value) }

    private func slice(_ range: Range<Int>) -> ByteBufferView {
        bytes.getSlice(at: bytes.readerIndex + range.lowerBound, length: range.count)!.readableBytesView
    }

    /// The values of the fields named `name` (ASCII case-insensitive), as text.
    func values(_ name: String) -> [String] {
        fields.filter { HeaderName.equalsIgnoringCase(String(decoding: self.name($0), as: UTF8.self), name) }.map { String(decoding: value($0), as: UTF8.self) }
    }

    var reasonPhrase: String { String(decoding: slice(reason), as: UTF8.self) }
}

/// A strict, incremental HTTP/1.x response parser for upstream connections (RFC 9112), fed the bytes of one
/// connection and pulled for events one at a time (so that whoever handles an event may send the next request on the
/// same connection). Gatehouse sends one request at a time, so the parser is told which method each response answers
/// (a response to HEAD has no body) and treats any byte that arrives while no response is owed as an error.
///
/// Refused: anything but `HTTP/1.0` and `HTTP/1.1`, a status outside 100–999, bare CR or LF, obsolete line folding,
/// whitespace before a colon, control characters in values, `Transfer-Encoding` other than `chunked`, both
/// `Transfer-Encoding` and `Content-Length`, more than one `Content-Length`, malformed chunks, and heads or trailers
/// over the limit. Interim 1xx responses other than `101` are skipped; chunk extensions and trailers are dropped.
struct UpstreamResponseParser {
    enum Event {
        case head(UpstreamResponseHead)
        case body(ByteBuffer)
        case end
    }

    /// Why a response was refused; `description` is for the log.
    struct ParseError: Error, Equatable, CustomStringConvertible {
        let description: String

        static let unsolicited = ParseError(description: "bytes from the upstream while no response was owed")
        static let truncated = ParseError(description: "the upstream closed the connection inside a response")
        static let failed = ParseError(description: "the upstream connection already failed")
    }

    private enum State {
        /// Between responses.
        case idle
        /// Reading a head; `scanned` bytes of `partial` hold no terminator.
        case head(scanned: Int)
        /// A body framed by a length or chunks.
        case body(BodyDecoder)
        case untilClose
        /// The message is complete: `.end` is the next event.
        case ending(upgrade: Bool)
        /// After a `101`: the bytes belong to another protocol.
        case upgraded
        case failed
    }

    let maxHeadBytes: Int
    private var state = State.idle
    private var partial: ByteBuffer?
    private var method: HTTPMethod?

    init(maxHeadBytes: Int = 64 * 1024) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// A request was sent: its response comes next.
    mutating func expectResponse(to method: HTTPMethod) {
        self.method = method
    }

    /// Whether the connection switched protocols (what follows the `101` is not HTTP).
    var isUpgraded: Bool {
        if case .upgraded = state { return true }
        return false
    }

    /// The next event from the bytes in `buffer` (consuming them), or nil when more bytes are needed. After a `101`
    /// and its `.end`, the bytes that follow stay in `buffer`.
    mutating func next(_ buffer: inout ByteBuffer) throws(ParseError) -> Event? {
        do {
            return try nextUnchecked(&buffer)
        } catch {
            state = .failed
            partial = nil
            throw error
        }
    }

    /// The upstream closed its side: ends a body delimited by closing (the `.end` returned); a response cut short is
    /// an error.
    mutating func connectionClosed() throws(ParseError) -> Event? {
        switch state {
        case .untilClose, .ending(false):
            state = .idle
            method = nil
            return .end
        case .idle where partial == nil, .upgraded, .failed:
            return nil
        default:
            state = .failed
            throw .truncated
        }
    }

    private mutating func nextUnchecked(_ buffer: inout ByteBuffer) throws(ParseError) -> Event? {
        while true {
            switch state {
            case .failed:
                throw .failed
            case .upgraded:
                return nil
            case .ending(let upgrade):
                state = upgrade ? .upgraded : .idle
                method = nil
                return .end
            default:
                break
            }
            guard buffer.readableBytes > 0 else { return nil }
            switch state {
            case .idle:
                guard method != nil else { throw .unsolicited }
                state = .head(scanned: 0)
            case .head(let scanned):
                guard let head = try readHead(&buffer, scanned: scanned) else { continue }
                return .head(head)
            case .body(var decoder):
                let slice = try decoder.next(&buffer, orFailure: ParseError.init(description:))
                state = decoder.isDone ? .ending(upgrade: false) : .body(decoder)
                if let slice { return .body(slice) }
            case .untilClose:
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .ending, .upgraded, .failed:
                break
            }
        }
    }

    /// Collects the head until its blank line, then parses it; nil when more bytes are needed (all of `buffer` is
    /// then held) or when an interim response was skipped.
    private mutating func readHead(_ buffer: inout ByteBuffer, scanned: Int) throws(ParseError) -> UpstreamResponseHead? {
        var scannedNow = scanned
        guard
            let headBytes = try HeadBytes.collect(
                &buffer, partial: &partial, scanned: &scannedNow, maxBytes: maxHeadBytes,
                tooLarge: ParseError(description: "response head too large"), scan: Self.scanHead)
        else {
            state = .head(scanned: scannedNow)
            return nil
        }
        let head = try Self.parseCheckedHead(headBytes, method: method ?? .GET)
        switch head.status {
        case 101:
            state = .ending(upgrade: true)
        case 100..<200:
            // Interim: the final response follows.
            state = .head(scanned: 0)
            return nil
        default:
            switch head.body {
            case .none, .length(0): state = .ending(upgrade: false)
            case .length(let length): state = .body(BodyDecoder(length: length))
            case .chunked: state = .body(BodyDecoder(chunkedWithTrailersUpTo: maxHeadBytes))
            case .untilClose: state = .untilClose
            }
        }
        return head
    }

    /// The offset just past the head's blank line, or nil when it has not come yet: the status line's start is
    /// checked too (see ``HeadBytes/scan(_:from:)`` for the rest).
    private static func scanHead(_ bytes: UnsafeRawBufferPointer, from scanned: Int) -> Result<Int?, ParseError> {
        let prefix: StaticString = "HTTP/1."
        let prefixOK = prefix.withUTF8Buffer { expected in
            zip(bytes.prefix(expected.count), expected).allSatisfy { $0 == $1 }
        }
        guard prefixOK else { return .failure(ParseError(description: "malformed status line")) }
        return HeadBytes.scan(bytes, from: scanned).end(orFailure: ParseError.init(description:))
    }

    /// Parses a complete head given whole, checking first what ``next(_:)`` checks as bytes arrive: that its blank
    /// line is its end, no bare LF and no control bytes.
    static func parseHead(_ bytes: ByteBuffer, method: HTTPMethod) throws(ParseError) -> UpstreamResponseHead {
        let end = bytes.withUnsafeReadableBytes { Self.scanHead($0, from: 0) }
        guard try end.get() == bytes.readableBytes else { throw ParseError(description: "malformed head") }
        return try parseCheckedHead(bytes, method: method)
    }

    /// Parses a head whose shape ``readHead(_:scanned:)`` checked.
    private static func parseCheckedHead(_ bytes: ByteBuffer, method: HTTPMethod) throws(ParseError) -> UpstreamResponseHead {
        try HeadBytes.parse(bytes) { raw throws(ParseError) in try parseHead(raw, bytes: bytes, method: method) }
    }

    private static func parseHead(
        _ raw: UnsafeRawBufferPointer, bytes: ByteBuffer, method: HTTPMethod
    ) throws(ParseError) -> UpstreamResponseHead {
        HeadBytes.requireBlankLineEnd(raw)
        let count = raw.count
        // "HTTP/1.x SP ddd"
        guard count >= 16, raw[0] == UInt8(ascii: "H"), raw[1] == UInt8(ascii: "T"), raw[2] == UInt8(ascii: "T"),
            raw[3] == UInt8(ascii: "P"), raw[4] == UInt8(ascii: "/"), raw[5] == UInt8(ascii: "1"),
            raw[6] == UInt8(ascii: "."), raw[7] == UInt8(ascii: "0") || raw[7] == UInt8(ascii: "1"),
            raw[8] == UInt8(ascii: " ")
        else { throw ParseError(description: "malformed status line") }
        let minor = Int(raw[7] - UInt8(ascii: "0"))
        var status = 0
        for index in 9..<12 {
            guard raw[index] >= UInt8(ascii: "0") && raw[index] <= UInt8(ascii: "9") else {
                throw ParseError(description: "malformed status code")
            }
            status = status * 10 + Int(raw[index] - UInt8(ascii: "0"))
        }
        guard status >= 100 else { throw ParseError(description: "malformed status code") }
        var index = 12
        var reason = 12..<12
        if raw[index] == UInt8(ascii: " ") {
            index += 1
            let start = index
            while raw[index] != UInt8(ascii: "\r") {
                let byte = raw[index]
                guard byte >= 0x20 && byte != 0x7F || byte == 0x09 else { throw ParseError(description: "control character in the reason phrase") }
                index += 1
            }
            reason = start..<index
        }
        guard raw[index] == UInt8(ascii: "\r"), raw[index + 1] == UInt8(ascii: "\n") else {
            throw ParseError(description: "malformed status line")
        }
        index += 2

        var fields: [HeadField] = []
        fields.reserveCapacity(12)
        var contentLength: Int? = nil
        var lengthCount = 0
        var transferEncodings = 0
        var chunked = false
        var options = HeadBytes.ConnectionOptions()
        while let field = try HeadBytes.field(raw, at: &index, orFailure: ParseError.init(description:)) {
            fields.append(field)
            let kind = field.kind
            let valueBytes = UnsafeRawBufferPointer(rebasing: raw[field.value])
            switch kind {
            case .contentLength:
                lengthCount += 1
                guard let length = HeadBytes.contentLength(valueBytes) else {
                    throw ParseError(description: "invalid Content-Length")
                }
                contentLength = length
            case .transferEncoding:
                transferEncodings += 1
                chunked = HeaderName.equalsIgnoringCase(valueBytes, "chunked")
            case .connection:
                options.read(valueBytes)
            default:
                break
            }
        }

        let body: UpstreamResponseHead.Body
        if transferEncodings > 0 || lengthCount > 0 {
            guard transferEncodings == 0 || lengthCount == 0 else {
                throw ParseError(description: "both Transfer-Encoding and Content-Length")
            }
            guard transferEncodings <= 1, lengthCount <= 1 else { throw ParseError(description: "repeated framing header") }
            guard transferEncodings == 0 || chunked else { throw ParseError(description: "Transfer-Encoding other than chunked") }
        }
        if method.isHEAD || status < 200 || status == 204 || status == 304 {
            body = .none
        } else if chunked {
            body = .chunked
        } else if let contentLength {
            body = .length(contentLength)
        } else {
            body = .untilClose
        }
        let keepAlive = body != .untilClose && !options.close && (minor == 1 || options.keepAlive)
        return UpstreamResponseHead(
            bytes: bytes, version: HTTPVersion(major: 1, minor: minor), status: status, reason: reason,
            fields: fields, keepAlive: keepAlive, nominatesHeaders: options.nominatesHeader, body: body)
    }
}
