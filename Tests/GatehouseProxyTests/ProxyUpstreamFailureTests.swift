import Testing

/// An upstream that is down, silent, dies mid-response or talks nonsense: 502/504 or a closed connection, never a
/// crash, and the proxy keeps serving.
@Suite(.timeLimit(.minutes(2)))
struct ProxyUpstreamFailureTests {
    @Test func connectionRefusedIs502() async throws {
        let dead = try DeadPort()
        try await withGatehouse(routing: .url("http://127.0.0.1:\(dead.port)")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/a", headers: try gatehouse.bearer()))
            let response = try client.readResponse()
            #expect(response.status == 502)
            #expect(response.text.contains("\"reason\":\"upstream_unavailable\""))
            #expect(response.header("X-Request-Id") != nil)
            // A complete request was read, so the client connection is still good.
            try client.send(rawRequest("GET", "/orders/1"))
            #expect(try client.readResponse().status == 401)
            let entry = gatehouse.accessLog.logged.first { $0.metadata["response.status"] == "502" }
            #expect(entry?.metadata["decision.reason"] == "upstream_unavailable")
        }
        withExtendedLifetime(dead) {}
    }

    @Test func connectionRefusedWithABodyStillAnswers502() async throws {
        let dead = try DeadPort()
        try await withGatehouse(routing: .url("http://127.0.0.1:\(dead.port)")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("POST", "/api/a", headers: try gatehouse.bearer(), body: "payload"))
            #expect(try client.readResponse().status == 502)
        }
        withExtendedLifetime(dead) {}
    }

    @Test func silentUpstreamIs504() async throws {
        try await withGatehouse(yaml: ProxyHarness.yaml("timeouts: {upstream: 1s}"), upstream: .silent) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/slow", headers: try gatehouse.bearer()))
            let response = try client.readResponse()
            #expect(response.status == 504)
            #expect(response.text.contains("\"reason\":\"upstream_timeout\""))
            #expect(gatehouse.upstream.completedRequests.map(\.uri) == ["/api/slow"])
            // The silent upstream connection was dropped, not pooled; the next request gets a fresh one.
            try client.send(rawRequest("GET", "/api/again", headers: try gatehouse.bearer()))
            #expect(try client.readResponse().status == 504)
            #expect(gatehouse.upstream.connectionCount == 2)
        }
    }

    @Test func upstreamStallingMidBodyClosesTheClient() async throws {
        try await withGatehouse(
            yaml: ProxyHarness.yaml("timeouts: {upstream: 1s}"),
            upstream: .raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part", thenClose: false)
        ) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/stall", headers: try gatehouse.bearer()))
            let received = String(decoding: try client.readUntilClosed(), as: UTF8.self)
            #expect(received.hasPrefix("HTTP/1.1 200 "))
            #expect(received.hasSuffix("only-part"))
        }
    }

    @Test(arguments: [false, true])
    func upstreamClosingMidResponse(chunked: Bool) async throws {
        let broken =
            chunked
            ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n\(String(repeating: "a", count: 1024))\r\n"
                + "40\r\nabc"
            : "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n\(String(repeating: "a", count: 1000))"
        try await withGatehouse(upstream: .raw(broken, thenClose: true), onlyFor: "/api/broken") { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/broken", headers: try gatehouse.bearer()))
            let received = try client.readUntilClosed()
            let text = String(decoding: received, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200 "))
            #expect(received.count < 100_000)
            // The proxy lives on and serves the next connection.
            let next = try gatehouse.connect()
            try next.send(rawRequest("GET", "/api/fine", headers: try gatehouse.bearer()))
            let response = try next.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "upstream-ok")
        }
    }

    @Test func upstreamClosingWithoutAnsweringIs502() async throws {
        try await withGatehouse(upstream: .raw("", thenClose: true)) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/a", headers: try gatehouse.bearer()))
            #expect(try client.readResponse().status == 502)
        }
    }

    static let malformedResponses = [
        "NOT HTTP AT ALL\r\n\r\n",
        "HTTP/1.1 abc Broken\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Bad: a\u{0}b\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Injected: a\rSet-Cookie: evil\r\nContent-Length: 0\r\n\r\n",
        "\u{0}\u{1}\u{2}binary",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ]

    @Test(arguments: malformedResponses)
    func malformedUpstreamResponseIs502(raw: String) async throws {
        try await withGatehouse(upstream: .raw(raw, thenClose: false)) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/a", headers: try gatehouse.bearer()))
            let response = try client.readResponse()
            #expect(response.status == 502)
            #expect(!response.headers.contains { $0.value.contains("evil") })
            // Still serving.
            let next = try gatehouse.connect()
            try next.send(rawRequest("GET", "/orders/1"))
            #expect(try next.readResponse().status == 401)
        }
    }

    @Test func responseHopByHopHeadersAreNotReturned() async throws {
        let headers = [
            "Connection: X-Internal", "X-Internal: secret", "Keep-Alive: timeout=1", "X-Request-Id: upstream-id",
            "Set-Cookie: a=1",
        ]
        try await withGatehouse(upstream: .respond(headers: headers)) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/public/a", headers: "X-Request-Id: client-id\r\n"))
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.values("X-Internal").isEmpty)
            #expect(response.values("Keep-Alive").isEmpty)
            #expect(response.values("X-Request-Id") == ["client-id"])
            #expect(response.values("Set-Cookie") == ["a=1"])
        }
    }
}
