import Testing

/// Connection lifecycles on both sides: pooled upstream connections that die, upstreams that close, idle clients,
/// clients that vanish mid-exchange, many clients at once.
@Suite(.timeLimit(.minutes(2)))
struct ProxyConnectionTests {
    @Test func upstreamClosingPooledConnectionsIsInvisibleToClients() async throws {
        // The upstream advertises keep-alive, then closes right after each response: the proxy must notice a dead
        // pooled connection (or retry a request that met one) rather than answer 502.
        try await withGatehouse(upstream: .raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", thenClose: true)) {
            gatehouse in
            let client = try gatehouse.connect()
            for index in 1...5 {
                try client.send(rawRequest("GET", "/api/\(index)", headers: try gatehouse.bearer()))
                let response = try client.readResponse()
                #expect(response.status == 200, "request \(index)")
                #expect(response.text == "ok")
            }
            #expect(gatehouse.upstream.completedRequests.map(\.uri) == (1...5).map { "/api/\($0)" })
        }
    }

    @Test func aPooledConnectionResetOnReuseIsRetried() async throws {
        // The upstream resets a kept connection when it is used again (no answer, RST): a stale connection, retried
        // once on a fresh one, invisible to the client.
        try await withGatehouse(upstream: .resetAfterFirst) { gatehouse in
            let client = try gatehouse.connect()
            for index in 1...3 {
                try client.send(rawRequest("GET", "/api/\(index)", headers: try gatehouse.bearer()))
                let response = try client.readResponse()
                #expect(response.status == 200, "request \(index)")
                #expect(response.text == "ok")
            }
            #expect(gatehouse.upstream.completedRequests.map(\.uri) == ["/api/1", "/api/2", "/api/2", "/api/3", "/api/3"])
        }
    }

    /// Three requests on one client connection: a keep-alive upstream carries them on one pooled connection; one
    /// that answers `Connection: close` gets a new connection each time. Either way the client's connection stays.
    @Test(arguments: [([String](), 1), (["Connection: close"], 3)])
    func upstreamConnectionsArePooledUnlessTheUpstreamCloses(headers: [String], connections: Int) async throws {
        try await withGatehouse(upstream: .respond(headers: headers)) { gatehouse in
            let client = try gatehouse.connect()
            for index in 1...3 {
                try client.send(rawRequest("GET", "/api/\(index)", headers: try gatehouse.bearer()))
                let response = try client.readResponse()
                #expect(response.status == 200)
                // The upstream's wish concerns its own connection, not the client's.
                #expect(response.header("Connection") == nil)
            }
            let requests = gatehouse.upstream.completedRequests
            #expect(requests.map(\.uri) == ["/api/1", "/api/2", "/api/3"])
            #expect(gatehouse.upstream.connectionCount == connections)
            #expect(Set(requests.map(\.connection)).count == connections)
        }
    }

    @Test func clientAskingToCloseIsClosedAfterTheResponse() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/a", headers: try gatehouse.bearer() + "Connection: close\r\n"))
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.header("Connection")?.lowercased() == "close")
            #expect(client.isClosedByPeer())
            // The upstream connection is still fine for others.
            let other = try gatehouse.connect()
            try other.send(rawRequest("GET", "/api/b", headers: try gatehouse.bearer()))
            #expect(try other.readResponse().status == 200)
            #expect(gatehouse.upstream.connectionCount == 1 || gatehouse.upstream.connectionCount == 2)
            #expect(gatehouse.upstream.requests.first?.values("Connection").isEmpty == true)
        }
    }

    @Test func idleClientConnectionsAreClosed() async throws {
        try await withGatehouse(yaml: ProxyHarness.yaml("timeouts: {idle: 1s}")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/public/a"))
            #expect(try client.readResponse().status == 200)
            #expect(client.isClosedByPeer())
        }
    }

    @Test func clientVanishingMidBodyAbortsTheUpstreamRequest() async throws {
        try await withGatehouse { gatehouse in
            do {
                let client = try gatehouse.connect()
                try client.send(
                    "POST /orders/1 HTTP/1.1\r\nHost: g\r\n\(try gatehouse.bearer())Content-Length: 1048576\r\n\r\n"
                )
                try client.sendPattern(count: 4096)
                #expect(await gatehouse.upstream.wait { $0.requests.first?.bodyBytes == 4096 })
            }
            // The client socket is closed now.
            #expect(await gatehouse.upstream.wait { $0.closedConnectionCount == 1 })
            #expect(gatehouse.upstream.completedRequests.isEmpty)
            let next = try gatehouse.connect()
            try next.send(rawRequest("GET", "/public/a"))
            #expect(try next.readResponse().status == 200)
        }
    }

    @Test func clientVanishingWhileWaitingClosesTheUpstreamConnection() async throws {
        try await withGatehouse(upstream: .held, onlyFor: "/api/slow") { gatehouse in
            do {
                let client = try gatehouse.connect()
                try client.send(rawRequest("GET", "/api/slow", headers: try gatehouse.bearer()))
                #expect(await gatehouse.upstream.wait { $0.completedRequests.count == 1 })
            }
            // Its answer can no longer go anywhere, so the upstream connection is not kept either.
            #expect(await gatehouse.upstream.wait { $0.closedConnectionCount == 1 })
            let next = try gatehouse.connect()
            try next.send(rawRequest("GET", "/api/fast", headers: try gatehouse.bearer()))
            #expect(try next.readResponse().status == 200)
        }
    }

    @Test func manyClientsAtOnce() async throws {
        try await withGatehouse { gatehouse in
            let bearer = try gatehouse.bearer()
            let clients = try (0..<24).map { _ in try gatehouse.connect() }
            for round in 0..<5 {
                for (index, client) in clients.enumerated() {
                    let target = index % 3 == 0 ? "/orders/\(index)" : "/api/\(index)/\(round)"
                    try client.send(rawRequest("GET", target, headers: index % 3 == 0 ? "" : bearer))
                }
                for (index, client) in clients.enumerated() {
                    let response = try client.readResponse()
                    #expect(response.status == (index % 3 == 0 ? 401 : 200))
                }
            }
            #expect(gatehouse.upstream.completedRequests.count == 16 * 5)
            // Keep-alive upstream connections are reused: far fewer than one per request.
            #expect(gatehouse.upstream.connectionCount <= 24)
        }
    }

    @Test func informationalUpstreamResponsesAreNotRelayedAsFinal() async throws {
        let early = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        let final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        try await withGatehouse(upstream: .raw(early + final, thenClose: false)) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/a", headers: try gatehouse.bearer()))
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "ok")
            try client.send(rawRequest("GET", "/api/b", headers: try gatehouse.bearer()))
            #expect(try client.readResponse().status == 200)
        }
    }

    @Test func accessLogHasOneEntryPerExchange() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            let token = try gatehouse.token(subject: "carol", roles: ["admin"])
            try client.send(
                rawRequest("GET", "/admin/a", headers: "Authorization: Bearer \(token)\r\n")
                    + rawRequest("GET", "/orders/1")
                    + rawRequest("GET", "/public/..%2F")
            )
            let statuses = try (0..<3).map { _ in try client.readResponse().status }
            #expect(statuses == [200, 401, 400])
            let entries = gatehouse.accessLog.logged.filter { $0.message == "request" }
            #expect(entries.count == 3)
            #expect(entries.map { $0.metadata["route.id"] } == ["admin", "orders-read", "default"])
            #expect(entries.map { $0.metadata["decision.reason"] } == ["authorized", "token_missing", "path_unsafe"])
            #expect(entries.first?.metadata["auth.subject"] == "carol")
            #expect(entries.first?.metadata["upstream.status"] == "200")
            #expect(entries.first?.metadata["request.path"] == "/admin/a")
            for entry in entries {
                #expect(!entry.metadata.values.contains { $0.contains(token) })
            }
        }
    }
}
