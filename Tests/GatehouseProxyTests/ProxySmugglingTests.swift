import Testing

/// Request smuggling and framing tricks written as raw bytes, each carrying a valid token so that only the framing
/// can stop it: the answer is 400 (505 for a version), the connection is closed, and the upstream never receives a complete request.
@Suite(.timeLimit(.minutes(2)))
struct ProxySmugglingTests {
    struct Attempt: Sendable, CustomTestStringConvertible {
        let name: String
        /// The bytes; `{AUTH}` becomes an `Authorization: Bearer ...` line.
        let bytes: String
        /// Whether the refusal comes from the head alone (then the upstream is never even contacted).
        var refusedAtHead = true
        var status = 400
        var testDescription: String { name }
    }

    static let attempts: [Attempt] = [
        Attempt(
            name: "CL.TE",
            bytes:
                "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "0\r\n\r\n"
        ),
        Attempt(
            name: "TE.CL with a smuggled request",
            bytes:
                "POST /public/a HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n"
                + "0\r\n\r\n"
                + "GET /admin/secret HTTP/1.1\r\nHost: g\r\n\r\n"
        ),
        Attempt(
            name: "duplicate Content-Length, different",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Content-Length: 4\r\nContent-Length: 5\r\n\r\nhello"
        ),
        Attempt(
            name: "duplicate Content-Length, equal",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
        ),
        Attempt(
            name: "Content-Length list",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Content-Length: 5, 5\r\n\r\nhello"
        ),
        Attempt(
            name: "negative Content-Length",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Content-Length: -1\r\n\r\n"
        ),
        Attempt(
            name: "signed Content-Length",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Content-Length: +5\r\n\r\nhello"
        ),
        Attempt(
            name: "space before colon",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Content-Length : 5\r\n\r\nhello"
        ),
        Attempt(
            name: "Transfer-Encoding: gzip",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n"
        ),
        Attempt(
            name: "Transfer-Encoding: gzip, chunked",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
        ),
        Attempt(
            name: "Transfer-Encoding: chunked, identity",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
        ),
        Attempt(
            name: "two Transfer-Encoding headers",
            bytes:
                "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: chunked\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ),
        Attempt(
            name: "Transfer-Encoding: xchunked",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"
        ),
        Attempt(
            name: "chunked in HTTP/1.0",
            bytes: "POST /api/a HTTP/1.0\r\n{AUTH}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ),
        Attempt(
            name: "obs-fold",
            bytes: "GET /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}X-Note: a\r\n folded\r\n\r\n"
        ),
        Attempt(
            name: "obs-fold on Transfer-Encoding",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"
        ),
        Attempt(name: "bare CR in a value", bytes: "GET /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}X-Note: a\rb\r\n\r\n"),
        Attempt(name: "bare CR ending a header", bytes: "GET /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}X-Note: a\r\r\n\r\n"),
        Attempt(name: "NUL in a value", bytes: "GET /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}X-Note: a\u{0}b\r\n\r\n"),
        Attempt(name: "space in a header name", bytes: "GET /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}X Note: a\r\n\r\n"),
        Attempt(name: "duplicate Host", bytes: "GET /api/a HTTP/1.1\r\nHost: g\r\nHost: evil.test\r\n{AUTH}\r\n"),
        Attempt(name: "missing Host", bytes: "GET /api/a HTTP/1.1\r\n{AUTH}\r\n"),
        Attempt(
            name: "absolute-form for another host",
            bytes: "GET http://evil.test/api/a HTTP/1.1\r\nHost: gatehouse.test\r\n{AUTH}\r\n"
        ),
        Attempt(
            name: "absolute-form for another host on a public route",
            bytes: "GET http://evil.test/public/a HTTP/1.1\r\nHost: gatehouse.test\r\n\r\n"
        ),
        Attempt(
            name: "Content-Length with trailing whitespace",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Content-Length: 5\t\r\n\r\nhello"
        ),
        Attempt(name: "two spaces in the request line", bytes: "GET  /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}\r\n"),
        Attempt(name: "raw UTF-8 in the target", bytes: "GET /api/caf\u{E9} HTTP/1.1\r\nHost: g\r\n{AUTH}\r\n"),
        Attempt(name: "bare LF ending the request line", bytes: "GET /api/a HTTP/1.1\nHost: g\r\n{AUTH}\r\n"),
        Attempt(name: "HTTP/1.2", bytes: "GET /api/a HTTP/1.2\r\nHost: g\r\n{AUTH}\r\n", status: 505),
        Attempt(name: "a lower-case method", bytes: "delete /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}\r\n"),
        Attempt(name: "CONNECT with a path", bytes: "CONNECT /public/a HTTP/1.1\r\nHost: g\r\n\r\n"),
        Attempt(name: "authority-form", bytes: "CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n{AUTH}\r\n"),
        Attempt(name: "asterisk-form", bytes: "OPTIONS * HTTP/1.1\r\nHost: g\r\n{AUTH}\r\n"),
        Attempt(
            name: "invalid chunk size",
            bytes:
                "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            refusedAtHead: false
        ),
        Attempt(
            name: "overflowing chunk size",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: chunked\r\n\r\n"
                + "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
            refusedAtHead: false
        ),
        Attempt(
            name: "whitespace after a chunk size",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
            refusedAtHead: false
        ),
        Attempt(
            name: "a trailer line that is not a field",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: chunked\r\n\r\n0\r\nGET /admin/secret\r\n\r\n",
            refusedAtHead: false
        ),
        Attempt(
            name: "chunk without its CRLF",
            bytes: "POST /api/a HTTP/1.1\r\nHost: g\r\n{AUTH}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
            refusedAtHead: false
        ),
    ]

    @Test(arguments: attempts)
    func refused(_ attempt: Attempt) async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            let bearer = try gatehouse.bearer()
            try client.send(attempt.bytes.replacing("{AUTH}", with: bearer))
            let response = try client.readResponse()
            #expect(response.status == attempt.status)
            #expect(response.header("Connection")?.lowercased() == "close")
            #expect(client.isClosedByPeer())
            // Nothing complete ever reached the upstream, and with a bad head nothing at all.
            #expect(gatehouse.upstream.completedRequests.isEmpty)
            #expect(!gatehouse.upstream.requests.contains { $0.uri.contains("admin") })
            if attempt.refusedAtHead {
                #expect(gatehouse.upstream.connectionCount == 0)
            }
        }
    }

    @Test func absoluteFormForThisHostIsRelayedInOriginForm() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "http://gatehouse.test/api/a?b=1", headers: try gatehouse.bearer()))
            #expect(try client.readResponse().status == 200)
            #expect(gatehouse.upstream.completedRequests.map(\.uri) == ["/api/a?b=1"])
        }
    }

    @Test func chunkedBodyIsReframedNotCopied() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            // Chunk extensions and odd chunk boundaries must not reach the upstream as they were sent.
            try client.send(
                "POST /api/a HTTP/1.1\r\nHost: g\r\n\(try gatehouse.bearer())Transfer-Encoding: chunked\r\n\r\n"
                    + "3;ext=\"x\"\r\nabc\r\n1\r\nd\r\n0\r\n\r\n"
            )
            #expect(try client.readResponse().status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.body == "abcd")
            #expect(request.values("Transfer-Encoding") == ["chunked"])
            #expect(request.values("Content-Length").isEmpty)
        }
    }

    @Test func requestAfterAContentLengthBodyIsItsOwnRequest() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            // The body looks like a request; it is only a body, and the real second request is judged on its own.
            let body = "GET /admin/secret HTTP/1.1\r\nHost: g\r\n\r\n"
            try client.send(
                rawRequest("POST", "/public/form", body: body) + rawRequest("GET", "/admin/secret")
            )
            #expect(try client.readResponse().status == 200)
            #expect(try client.readResponse().status == 401)
            let requests = gatehouse.upstream.completedRequests
            #expect(requests.map(\.uri) == ["/public/form"])
            #expect(requests.first?.body == body)
        }
    }
}
