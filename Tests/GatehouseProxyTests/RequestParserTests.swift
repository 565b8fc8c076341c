import GatehouseConfig
import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// The client request parser fed raw bytes, whole or a byte at a time: the heads, bodies and ends it gives, what it
/// gathers for the data path, and everything it refuses.
struct RequestParserTests {
    /// What the parser made of a byte stream.
    struct Outcome {
        var heads: [RequestHead] = []
        var bodies: [String] = []
        var ends = 0
        var error: HeaderPolicy.Refusal?
        /// Bytes the parser left unread (it stopped).
        var leftover = ""

        var refusal: HeaderPolicy.Refusal? { error ?? heads.last?.refusal }
    }

    static func limits(maxHeaders: Int = 100, maxBodyBytes: Int? = nil, maxHeadBytes: Int = 8192) -> ServerSettings.Limits {
        var limits = ServerSettings.Limits()
        limits.maxHeaders = maxHeaders
        limits.maxBodyBytes = maxBodyBytes
        limits.maxHeadBytes = maxHeadBytes
        return limits
    }

    /// Feeds `text` in pieces of `step` bytes (all at once when nil).
    static func parse(_ text: String, step: Int? = nil, limits: ServerSettings.Limits = limits()) -> Outcome {
        var parser = RequestParser(limits: limits)
        var outcome = Outcome()
        let bytes = Array(text.utf8)
        let size = step ?? max(bytes.count, 1)
        var offset = 0
        do {
            while offset < bytes.count {
                var buffer = ByteBuffer(bytes: bytes[offset..<min(offset + size, bytes.count)])
                offset += size
                while let event = try parser.next(&buffer) {
                    switch event {
                    case .head(let head):
                        outcome.heads.append(head)
                        outcome.bodies.append("")
                    case .body(let part):
                        guard !outcome.bodies.isEmpty else {
                            Issue.record("body before any head")
                            continue
                        }
                        outcome.bodies[outcome.bodies.count - 1] += String(buffer: part)
                    case .end: outcome.ends += 1
                    }
                }
                outcome.leftover += String(buffer: buffer)
            }
        } catch {
            outcome.error = error
        }
        return outcome
    }

    static let hostField = "Host: gatehouse.test"
    static let host = hostField + "\r\n"

    /// A GET with `fields` (each a whole line without its CRLF).
    static func request(_ fields: [String], version: String = "HTTP/1.1", line: String = "GET /a") -> String {
        "\(line) \(version)\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    static func refusal(_ fields: [String], version: String = "HTTP/1.1", limits: ServerSettings.Limits = limits()) -> HeaderPolicy.Refusal? {
        parse(request(fields, version: version), limits: limits).refusal
    }

    /// Whether the request reads whole (one head, not refused, and its end) without error.
    static func accepts(_ fields: [String], limits: ServerSettings.Limits = limits()) -> Bool {
        let outcome = parse(request(fields), limits: limits)
        return outcome.error == nil && outcome.heads.count == 1 && outcome.heads[0].refusal == nil && outcome.ends == 1
    }

    static func framing(_ fields: [String], version: String = "HTTP/1.1", limits: ServerSettings.Limits = limits()) -> HeaderPolicy.BodyFraming? {
        let outcome = parse(request(fields, version: version), limits: limits)
        guard outcome.refusal == nil else { return nil }
        return outcome.heads.first?.framing
    }

    // MARK: what a head gives

    @Test(arguments: [nil, 1, 7])
    func headGathersWhatTheDataPathReads(step: Int?) throws {
        let outcome = Self.parse(
            Self.request(
                [
                    "HOST: a.test", "authorization: Bearer x", "Authorization:Basic y", "Expect:  100-continue  ",
                    "Upgrade: websocket", "Upgrade: h2c", "X-Request-ID: first", "x-request-id: second",
                    "Connection: close", "connection: X-A, X-B", "X_Odd.Name: v", "Content-Length: 3",
                ], line: "POST /orders/1?x=%2F"),
            step: step)
        let head = try #require(outcome.heads.first)
        #expect(head.method == .POST)
        #expect(head.target == "/orders/1?x=%2F")
        #expect(head.version == .http1_1)
        #expect(head.framing == .length(3))
        #expect(head.host == "a.test")
        #expect(head.authorization == ["Bearer x", "Basic y"])
        #expect(head.expect == "100-continue")
        #expect(head.upgrade == "websocket")
        #expect(head.requestID == "first")
        #expect(head.connection == ["close", "X-A, X-B"])
        #expect(!head.keepAlive)
        #expect(!head.isUpgrade)
        #expect(head.refusal == nil)
        #expect(head.fields.map { head.name($0) } == [
            "HOST", "authorization", "Authorization", "Expect", "Upgrade", "Upgrade", "X-Request-ID", "x-request-id",
            "Connection", "connection", "X_Odd.Name", "Content-Length",
        ])
        #expect(head.fields.map(\.isPlain) == Array(repeating: true, count: 10) + [false, true])
        #expect(head.fields.map(\.kind).prefix(3) == [.host, .authorization, .authorization])
        // The body has not arrived: no end yet.
        #expect(outcome.ends == 0)
    }

    @Test(arguments: [
        ("HTTP/1.1", "", true), ("HTTP/1.1", "Connection: close", false), ("HTTP/1.1", "Connection: Keep-Alive, CLOSE", false),
        ("HTTP/1.0", "", false), ("HTTP/1.0", "Connection: keep-alive", true), ("HTTP/1.0", "Connection: x, Keep-Alive", true),
    ])
    func keepAlive(version: String, field: String, expected: Bool) throws {
        let fields = [Self.hostField] + (field.isEmpty ? [] : [field])
        let head = try #require(Self.parse(Self.request(fields, version: version)).heads.first)
        #expect(head.keepAlive == expected)
        #expect(head.version == (version == "HTTP/1.0" ? .http1_0 : .http1_1))
    }

    @Test func methodsAreKeptAsSent() throws {
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "PURGE", "M-SEARCH"] {
            let head = try #require(Self.parse(Self.request([Self.hostField], line: "\(method) /a")).heads.first)
            #expect(head.method.rawValue == method)
        }
    }

    @Test(arguments: ["get", "Delete", "dELETE", "purge"])
    func methodsWithLowerCaseAreRefused(method: String) {
        #expect(Self.parse(Self.request([Self.hostField], line: "\(method) /a")).error?.detail == "the method must be upper case")
    }

    @Test func connectIsRefused() {
        for target in ["evil.test:443", "/public/a"] {
            #expect(Self.parse(Self.request([Self.hostField], line: "CONNECT \(target)")).refusal?.status == 400)
        }
    }

    // MARK: bodies and sequences

    @Test(arguments: [nil, 1, 2, 5, 13])
    func pipelinedRequestsWithBodiesSurviveAnySplit(step: Int?) {
        let text =
            "\r\nPOST /a HTTP/1.1\r\n\(Self.host)Content-Length: 5\r\n\r\nhello"
            + "POST /b HTTP/1.1\r\n\(Self.host)Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n1 ;e\r\nd\r\n0\r\nX-T: 1\r\nX-U:\r\n\r\n"
            + "\r\nGET /c HTTP/1.1\r\n\(Self.host)\r\n"
        let outcome = Self.parse(text, step: step)
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.target) == ["/a", "/b", "/c"])
        #expect(outcome.bodies == ["hello", "abcd", ""])
        #expect(outcome.ends == 3)
        #expect(outcome.leftover.isEmpty)
    }

    @Test(arguments: [nil, 1])
    func nothingIsParsedAfterAnUpgradeRequest(step: Int?) throws {
        let text = "GET /ws HTTP/1.1\r\n\(Self.host)Connection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
        let outcome = Self.parse(text, step: step)
        #expect(outcome.heads.count == 1)
        let head = try #require(outcome.heads.first)
        #expect(head.isUpgrade)
        #expect(!head.keepAlive)
        #expect(outcome.ends == 1)
        #expect(outcome.leftover == "GET /b HTTP/1.1\r\n\r\n")
    }

    @Test(arguments: ["HTTP/1.1\r\n\(host)Connection: close", "HTTP/1.0\r\nX-A: 1"])
    func nothingIsParsedAfterARequestThatEndsTheConnection(head: String) {
        let next = "GET /b HTTP/1.1\r\n\(Self.host)\r\n"
        let outcome = Self.parse("POST /a \(head)\r\nContent-Length: 2\r\n\r\nok" + next)
        #expect(outcome.heads.count == 1)
        #expect(outcome.bodies == ["ok"])
        #expect(outcome.ends == 1)
        #expect(outcome.leftover == next)
    }

    @Test func anUpgradeFieldNotNominatedIsNoUpgrade() throws {
        let outcome = Self.parse("GET /ws HTTP/1.1\r\n\(Self.host)Upgrade: websocket\r\n\r\nGET /b HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(outcome.heads.map(\.isUpgrade) == [false, false])
        #expect(outcome.ends == 2)
    }

    @Test func nothingIsParsedAfterARefusedHead() {
        let outcome = Self.parse("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(outcome.refusal?.detail == "missing Host header")
        #expect(outcome.heads.count == 1)
        #expect(outcome.ends == 0)
        #expect(outcome.leftover == "GET /b HTTP/1.1\r\n\(Self.host)\r\n")
    }

    @Test(arguments: [
        "5\r\nhelloXX0\r\n\r\n", "zz\r\nhello\r\n0\r\n\r\n", "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", "5\nhello\r\n0\r\n\r\n",
        "5\r\nhello\n0\r\n\r\n", " 5\r\nhello\r\n0\r\n\r\n", "5;a\u{1}\r\nhello\r\n0\r\n\r\n", "0\r\nX-T: a\rb\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n", "0\r\nX-T t\r\n\r\n", "0\r\n: t\r\n\r\n", "0\r\nX T: t\r\n\r\n", "0\r\n folded\r\n\r\n",
    ])
    func malformedChunksAreRefused(body: String) {
        let outcome = Self.parse("POST /a HTTP/1.1\r\n\(Self.host)Transfer-Encoding: chunked\r\n\r\n" + body)
        #expect(outcome.heads.count == 1)
        #expect(outcome.ends == 0)
        #expect(outcome.error?.status == 400)
    }

    // MARK: framing

    @Test func noBody() {
        #expect(Self.framing([Self.hostField]) == HeaderPolicy.BodyFraming.none)
    }

    @Test(arguments: [("0", 0), ("5", 5), ("000", 0), ("1048576", 1_048_576), (" 7", 7), ("\t8", 8)])
    func contentLength(value: String, length: Int) {
        let framing = Self.framing([Self.hostField, "Content-Length:\(value)"])
        #expect(framing == .length(length))
        #expect(framing?.hasBody == (length > 0))
    }

    @Test(arguments: ["chunked", "Chunked", "CHUNKED"])
    func chunked(value: String) {
        let framing = Self.framing([Self.hostField, "Transfer-Encoding: \(value)"])
        #expect(framing == .chunked)
        #expect(framing?.hasBody == true)
    }

    @Test(
        "invalid Content-Length values are refused",
        arguments: [
            "", "-1", "+5", "1e3", "0x10", "1 1", "1,1", "1, 1", "five", "1.0", "9999999999999999999",
            "99999999999999999999999999", "7 ", "7\t",
        ]
    )
    func invalidContentLength(value: String) {
        #expect(Self.refusal([Self.hostField, "Content-Length: \(value)"])?.status == 400)
    }

    @Test("more than one Content-Length is refused, even when equal", arguments: [("5", "5"), ("5", "6"), ("0", "0")])
    func duplicateContentLength(first: String, second: String) {
        #expect(Self.refusal([Self.hostField, "Content-Length: \(first)", "content-length: \(second)"])?.status == 400)
    }

    @Test(
        "Transfer-Encoding other than exactly chunked is refused",
        arguments: [
            "gzip", "gzip, chunked", "chunked, gzip", "identity", "chunked;q=1", "chunked, chunked", "x-chunked", "",
            "deflate", "chunked ", "chunked\t",
        ]
    )
    func unsupportedTransferEncoding(value: String) {
        #expect(Self.refusal([Self.hostField, "Transfer-Encoding: \(value)"])?.status == 400)
    }

    @Test func twoTransferEncodingsAreRefused() {
        #expect(
            Self.refusal([Self.hostField, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"])?.status
                == 400)
    }

    @Test(arguments: [("Content-Length: 4", "Transfer-Encoding: chunked"), ("Transfer-Encoding: chunked", "Content-Length: 4")])
    func contentLengthWithTransferEncoding(first: String, second: String) {
        #expect(Self.refusal([Self.hostField, first, second])?.status == 400)
    }

    @Test func chunkedIsRefusedInHTTP10() {
        #expect(Self.refusal(["Transfer-Encoding: chunked"], version: "HTTP/1.0")?.status == 400)
        #expect(Self.refusal([Self.hostField, "Transfer-Encoding: chunked"], version: "HTTP/1.0")?.status == 400)
    }

    // MARK: Host and version

    @Test func duplicateHostIsRefused() {
        #expect(Self.refusal([Self.hostField, "host: evil.test"])?.status == 400)
        #expect(Self.refusal([Self.hostField, Self.hostField])?.status == 400)
    }

    @Test func missingHostIsRefusedInHTTP11() {
        #expect(Self.refusal([])?.status == 400)
        #expect(Self.refusal(["X-Other: 1"])?.status == 400)
    }

    @Test func missingHostIsAcceptedInHTTP10() {
        #expect(Self.framing([], version: "HTTP/1.0") == HeaderPolicy.BodyFraming.none)
        #expect(Self.framing(["Content-Length: 3"], version: "HTTP/1.0") == .length(3))
    }

    @Test(arguments: ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.1"])
    func onlyHTTP10And11AreServed(version: String) {
        let outcome = Self.parse(Self.request([Self.hostField], version: version))
        #expect(outcome.refusal?.status == 505)
        // Answered in a version the client can read.
        #expect(outcome.heads.first?.version == .http1_1)
    }

    // MARK: syntax

    @Test(
        "malformed request lines are refused",
        arguments: [
            "GET  /a HTTP/1.1", "GET /a  HTTP/1.1", "GET /a HTTP/1.1 ", " GET /a HTTP/1.1", "GET /a", "GET /a HTTP/1",
            "GET /a HTTP/1.10", "GET /a http/1.1", "GET /a HTTP/a.1", "G@T /a HTTP/1.1", "GET\t/a HTTP/1.1",
            "GET /a\u{7F} HTTP/1.1", "GET /caf\u{E9} HTTP/1.1", "GET /a\u{1}b HTTP/1.1", "GET  HTTP/1.1", "/a HTTP/1.1",
        ]
    )
    func malformedRequestLine(line: String) {
        #expect(Self.parse(line + "\r\n" + Self.host + "\r\n").error?.status == 400)
    }

    @Test(
        "control characters in a value are refused",
        arguments: ["a\rb", "a\nb", "a\u{0}b", "a\u{7F}", "\u{1}", "a\u{1B}[31m", "\u{1F}"]
    )
    func controlCharacterInValue(value: String) {
        #expect(Self.refusal([Self.hostField, "X-Note: \(value)"])?.status == 400)
    }

    @Test("tabs and non-ASCII text in a value are accepted", arguments: ["a\tb", "caf\u{E9}", "\t", ""])
    func acceptableValue(value: String) {
        #expect(Self.accepts([Self.hostField, "X-Note: \(value)"]))
    }

    @Test(
        "invalid header names are refused",
        arguments: [
            "X Note", "X\u{0}Note", "X\rNote", "X-N\u{F6}te", "(X)", "X/Note", "X\"Note", "X@Note", "", "X-Note ",
            "X-Note\t",
        ]
    )
    func invalidHeaderName(name: String) {
        #expect(Self.refusal([Self.hostField, "\(name): 1"])?.status == 400)
    }

    @Test("token characters in a name are accepted", arguments: ["X_Note", "X.Note", "x-note", "X!#$%&'*+-.^_`|~9"])
    func validHeaderName(name: String) {
        #expect(Self.accepts([Self.hostField, "\(name): 1"]))
    }

    @Test(arguments: [" folded", "\tfolded"])
    func obsoleteLineFoldingIsRefused(continuation: String) {
        #expect(Self.refusal([Self.hostField, "X-Note: a", continuation])?.detail == "obsolete line folding")
    }

    @Test(arguments: [
        "GET /a HTTP/1.1\n\(host)\r\n", "GET /a HTTP/1.1\r\n\(host)\n", "GET /a HTTP/1.1\r\nHost: g\r\r\n\r\n",
        "\rGET /a HTTP/1.1\r\n\(host)\r\n", "\nGET /a HTTP/1.1\r\n\(host)\r\n",
    ])
    func bareLineEndsAreRefused(text: String) {
        for step in [nil, 1] as [Int?] {
            let outcome = Self.parse(text, step: step)
            #expect(outcome.error?.status == 400)
            #expect(outcome.heads.isEmpty)
        }
    }

    @Test func garbageIsRefusedBeforeAnyBlankLine() {
        // A TLS ClientHello on the plain port: refused at its first bytes, not held until a head limit.
        let outcome = Self.parse("\u{16}\u{3}\u{1}\u{2}\u{0}")
        #expect(outcome.error?.status == 400)
    }

    // MARK: limits

    @Test func contentLengthOverTheLimitIs413() {
        let limits = Self.limits(maxBodyBytes: 1000)
        #expect(Self.refusal([Self.hostField, "Content-Length: 1001"], limits: limits)?.status == 413)
        #expect(Self.framing([Self.hostField, "Content-Length: 1000"], limits: limits) == .length(1000))
        // A chunked body is checked while it streams, not here.
        #expect(Self.framing([Self.hostField, "Transfer-Encoding: chunked"], limits: limits) == .chunked)
    }

    @Test func contentLengthWithoutALimitIsAccepted() {
        #expect(
            Self.framing([Self.hostField, "Content-Length: 999999999999999999"])
                == .length(999_999_999_999_999_999))
    }

    @Test func tooManyHeadersIs431() {
        let limits = Self.limits(maxHeaders: 8)
        let eight = [Self.hostField] + (1...7).map { "X-H\($0): v" }
        #expect(Self.accepts(eight, limits: limits))
        #expect(Self.refusal(eight + ["X-H8: v"], limits: limits)?.status == 431)
    }

    @Test(arguments: [nil, 1, 100])
    func headOverTheLimitIs431EvenUnfinished(step: Int?) {
        let limits = Self.limits(maxHeadBytes: 1024)
        let long = "GET /a HTTP/1.1\r\n\(Self.host)X-Long: \(String(repeating: "a", count: 1100))"
        #expect(Self.parse(long, step: step, limits: limits).error?.status == 431)
        let fits = Self.request([Self.hostField, "X-Long: \(String(repeating: "a", count: 900))"])
        let whole = Self.parse(fits, step: step, limits: limits)
        #expect(whole.error == nil && whole.heads.count == 1 && whole.ends == 1)
    }

    @Test func trailersOverTheHeadLimitAreRefused() {
        let limits = Self.limits(maxHeadBytes: 1024)
        let text =
            "POST /a HTTP/1.1\r\n\(Self.host)Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: \(String(repeating: "t", count: 1100))\r\n\r\n"
        #expect(Self.parse(text, limits: limits).error?.status == 400)
    }
}
