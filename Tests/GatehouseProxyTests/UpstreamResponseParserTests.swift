import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// The upstream response parser fed raw bytes, whole or a byte at a time: what it gives, and what it refuses.
struct UpstreamResponseParserTests {
    /// What the parser made of a byte stream.
    struct Outcome {
        var heads: [UpstreamResponseHead] = []
        var body = ""
        var ends = 0
        var error: UpstreamResponseParser.ParseError?
        var leftover = ""
    }

    /// Feeds `text` in pieces of `step` bytes (all at once when nil) after announcing a `method` request.
    static func parse(_ text: String, method: HTTPMethod = .GET, step: Int? = nil, close: Bool = false) -> Outcome {
        var parser = UpstreamResponseParser(maxHeadBytes: 1024)
        parser.expectResponse(to: method)
        var outcome = Outcome()
        let bytes = Array(text.utf8)
        let size = step ?? max(bytes.count, 1)
        var offset = 0
        var buffer = ByteBuffer()
        func take(_ event: UpstreamResponseParser.Event) {
            switch event {
            case .head(let head): outcome.heads.append(head)
            case .body(let part): outcome.body += String(buffer: part)
            case .end: outcome.ends += 1
            }
        }
        do {
            while offset < bytes.count {
                buffer = ByteBuffer(bytes: bytes[offset..<min(offset + size, bytes.count)])
                offset += size
                while let event = try parser.next(&buffer) { take(event) }
                if parser.isUpgraded {
                    outcome.leftover += String(buffer: buffer)
                }
            }
            if close, let event = try parser.connectionClosed() { take(event) }
        } catch {
            outcome.error = error
        }
        return outcome
    }

    @Test(arguments: [nil, 1, 7])
    func lengthFramedResponse(step: Int?) throws {
        let outcome = Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A:  b \r\n\r\nhello world", step: step)
        #expect(outcome.error == nil)
        let head = try #require(outcome.heads.first)
        #expect(outcome.heads.count == 1)
        #expect(head.status == 200)
        #expect(head.reasonPhrase == "OK")
        #expect(head.version == .http1_1)
        #expect(head.body == .length(11))
        #expect(head.keepAlive)
        #expect(head.values("x-a") == ["b"])
        #expect(outcome.body == "hello world")
        #expect(outcome.ends == 1)
    }

    @Test(arguments: [nil, 1, 5])
    func chunkedResponseDropsExtensionsAndTrailers(step: Int?) {
        let outcome = Self.parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\nA ;x\r\n, chunked!\r\n0\r\nX-Trailer: t\r\n\r\n",
            step: step)
        #expect(outcome.error == nil)
        #expect(outcome.heads.first?.body == .chunked)
        #expect(outcome.body == "hello, chunked!")
        #expect(outcome.ends == 1)
    }

    @Test func headAnd204And304HaveNoBody() {
        let head = Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method: .HEAD)
        #expect(head.heads.first?.body == UpstreamResponseHead.Body.none)
        #expect(head.ends == 1)
        for status in [204, 304] {
            let outcome = Self.parse("HTTP/1.1 \(status) X\r\nContent-Length: 5\r\n\r\n")
            #expect(outcome.heads.first?.body == UpstreamResponseHead.Body.none)
            #expect(outcome.ends == 1)
            #expect(outcome.error == nil)
        }
    }

    @Test func bytesBeyondTheResponseAreRefused() {
        // A body sent for HEAD, or a second response nobody asked for, must not become the next request's answer.
        let afterHead = Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", method: .HEAD)
        #expect(afterHead.ends == 1)
        #expect(afterHead.error == .unsolicited)
        let second = Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(second.heads.count == 1)
        #expect(second.error == .unsolicited)
    }

    @Test func nothingIsExpectedBeforeARequest() {
        var parser = UpstreamResponseParser()
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n")
        #expect(throws: UpstreamResponseParser.ParseError.unsolicited) { try parser.next(&buffer) }
    }

    @Test func closeDelimitedBodyEndsWithTheConnection() {
        let outcome = Self.parse("HTTP/1.0 200 OK\r\n\r\nuntil the end", step: 4, close: true)
        #expect(outcome.heads.first?.body == .untilClose)
        #expect(outcome.heads.first?.keepAlive == false)
        #expect(outcome.body == "until the end")
        #expect(outcome.ends == 1)
    }

    @Test func aResponseCutShortIsAnError() {
        let body = Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close: true)
        #expect(body.error == .truncated)
        let head = Self.parse("HTTP/1.1 200 OK\r\nContent-Le", close: true)
        #expect(head.error == .truncated)
        let chunks = Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", close: true)
        #expect(chunks.error == .truncated)
    }

    @Test func interimResponsesAreSkipped() {
        let outcome = Self.parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", step: 3)
        #expect(outcome.heads.map(\.status) == [201])
        #expect(outcome.body == "ok")
        #expect(outcome.ends == 1)
    }

    @Test func switchingProtocolsLeavesTheRestAlone() {
        let outcome = Self.parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{81}\u{05}hello")
        #expect(outcome.heads.map(\.status) == [101])
        #expect(outcome.ends == 1)
        #expect(outcome.body.isEmpty)
        #expect(outcome.leftover == "\u{81}\u{05}hello")
    }

    @Test(arguments: [
        // No length: the body runs until the upstream closes, so the connection ends with it.
        ("HTTP/1.1 200 OK\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false),
        ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n", true),
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
    ])
    func keepAlive(head: String, keepAlive: Bool) throws {
        let parsed = try UpstreamResponseParser.parseHead(ByteBuffer(string: head), method: .GET)
        #expect(parsed.keepAlive == keepAlive)
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\nX: y\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: a\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\u{0}b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\u{7F}\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 O\u{1}K\r\n\r\n",
        " HTTP/1.1 200 OK\r\n\r\n",
    ])
    func malformedHeadsAreRefused(head: String) {
        let outcome = Self.parse(head)
        #expect(outcome.error != nil, "accepted: \(head.debugDescription)")
        #expect(outcome.heads.isEmpty)
    }

    @Test(arguments: [
        "zz\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        "1000000000000000\r\n",
        "5\r\nhelloXX0\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n",
        "5\r\nhello\n0\r\n\r\n",
        "5 5\r\nhello\r\n0\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",
        "0\r\nX-Trailer t\r\n\r\n",
        "5;a\u{0}b\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\nX: \u{1}\r\n\r\n",
    ])
    func malformedChunksAreRefused(chunks: String) {
        let outcome = Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
        #expect(outcome.error != nil, "accepted: \(chunks.debugDescription)")
        #expect(outcome.ends == 0)
    }

    @Test func garbageIsRefusedBeforeAnyBlankLine() {
        // An upstream that never sends a blank line must not hold the exchange until the timeout.
        for garbage in ["\u{0}\u{1}\u{2}binary", "NOT HTTP", "HTTP/1.1 200 OK\nX", "HTTP/1.1 200 OK\r\nX: \u{1}"] {
            var parser = UpstreamResponseParser()
            parser.expectResponse(to: .GET)
            var buffer = ByteBuffer(string: garbage)
            #expect(throws: UpstreamResponseParser.ParseError.self) { try parser.next(&buffer) }
        }
        // A head still arriving is not garbage.
        var parser = UpstreamResponseParser()
        parser.expectResponse(to: .GET)
        var buffer = ByteBuffer(string: "HTT")
        #expect(throws: Never.self) { _ = try parser.next(&buffer) }
    }

    @Test func chunkSizeLinesAreBounded() {
        // A size line of 4096 bytes with its CRLF is read; one byte more is refused.
        func line(_ length: Int) -> String { "5;" + String(repeating: "x", count: length - 4) + "\r\nhello\r\n0\r\n\r\n" }
        let long = Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + line(4097), step: 512)
        #expect(long.error?.description == "chunk size line too long")
        let longest = Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + line(4096), step: 512)
        #expect(longest.error == nil)
        #expect(longest.body == "hello")
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nA: b", "HTTP/1.1 200 OK\r\nA: b\r\n", "HTTP/1.1 200 OK\r\n\r\nA: b\r\n\r\n",
        "HTTP/1.1 200 OK\nA: b\r\n\r\n", "HTTP/1.1 200 OK\r\nA: \u{1}\r\n\r\n",
    ])
    func aHeadGivenWholeIsCheckedFirst(head: String) {
        #expect(throws: UpstreamResponseParser.ParseError.self) {
            try UpstreamResponseParser.parseHead(ByteBuffer(string: head), method: .GET)
        }
    }

    @Test func headsOverTheLimitAreRefused() {
        let big = "HTTP/1.1 200 OK\r\nX: \(String(repeating: "a", count: 2000))\r\n\r\n"
        #expect(Self.parse(big).error != nil)
        #expect(Self.parse(big, step: 100).error != nil)
        let trailers = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \(String(repeating: "a", count: 2000))\r\n\r\n"
        #expect(Self.parse(trailers).error != nil)
    }
}
