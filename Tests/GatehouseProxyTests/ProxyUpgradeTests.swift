import Testing

/// WebSocket-style upgrades: authorized like any request, then spliced byte for byte; a denied upgrade never
/// reaches the upstream.
@Suite(.timeLimit(.minutes(2)))
struct ProxyUpgradeTests {
    static func upgradeRequest(_ target: String, authorization: String) -> String {
        rawRequest(
            "GET",
            target,
            headers: authorization + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        )
    }

    @Test func allowedUpgradeIsSplicedBothWays() async throws {
        try await withGatehouse(upstream: .upgradeAndEcho(greeting: "")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(Self.upgradeRequest("/api/socket", authorization: try gatehouse.bearer()))
            let response = try client.readResponse()
            #expect(response.status == 101)
            #expect(response.header("Upgrade") == "websocket")
            #expect(response.header("Connection")?.lowercased() == "upgrade")
            #expect(response.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

            // Raw bytes now, including ones that look like HTTP: they are not parsed any more.
            let frames: [[UInt8]] = [
                [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58],
                Array("GET /admin/secret HTTP/1.1\r\nHost: g\r\n\r\n".utf8),
                (0...255).map { UInt8($0) },
                Pattern.bytes(at: 0, count: 1 << 20),
            ]
            var total = 0
            for frame in frames {
                try client.send(frame)
                #expect(try client.readBytes(frame.count) == frame)
                total += frame.count
            }
            #expect(gatehouse.upstream.echoedBytes == total)

            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.uri == "/api/socket")
            #expect(request.values("Upgrade") == ["websocket"])
            #expect(request.values("Connection") == ["Upgrade"])
            #expect(request.values("Sec-WebSocket-Key") == ["dGhlIHNhbXBsZSBub25jZQ=="])
            #expect(request.values("X-Auth-Subject") == ["alice"])
            #expect(gatehouse.upstream.requests.count == 1)

            // Closing one side closes the other.
            client.shutdownWrite()
            #expect(client.isClosedByPeer())
        }
    }

    @Test func bytesTheUpstreamSendsWithThe101AreRelayed() async throws {
        try await withGatehouse(upstream: .upgradeAndEcho(greeting: "hello from upstream")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(Self.upgradeRequest("/api/socket", authorization: try gatehouse.bearer()))
            #expect(try client.readResponse().status == 101)
            #expect(String(decoding: try client.readBytes(19), as: UTF8.self) == "hello from upstream")
            try client.send("ping")
            #expect(String(decoding: try client.readBytes(4), as: UTF8.self) == "ping")
        }
    }

    @Test func bytesTheClientSendsBeforeThe101AreRelayedAfterIt() async throws {
        try await withGatehouse(upstream: .upgradeAndEcho(greeting: "")) { gatehouse in
            let client = try gatehouse.connect()
            // The first frame rides in the same segment as the upgrade request: it is held, never parsed as HTTP,
            // and reaches the upstream once the connections are spliced.
            let early = "early frame, GET /admin/secret HTTP/1.1\r\n\r\n"
            try client.send(Self.upgradeRequest("/api/socket", authorization: try gatehouse.bearer()) + early)
            #expect(try client.readResponse().status == 101)
            #expect(String(decoding: try client.readBytes(early.utf8.count), as: UTF8.self) == early)
            #expect(gatehouse.upstream.requests.count == 1)
        }
    }

    @Test func deniedUpgradeNeverReachesTheUpstream() async throws {
        try await withGatehouse(upstream: .upgradeAndEcho(greeting: "")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(Self.upgradeRequest("/api/socket", authorization: ""))
            let response = try client.readResponse()
            #expect(response.status == 401)
            #expect(response.header("WWW-Authenticate") == "Bearer realm=\"gatehouse\"")
            #expect(response.header("Upgrade") == nil)
            // An upgrade request ends HTTP on its connection unless it is spliced.
            #expect(response.header("Connection")?.lowercased() == "close")
            #expect(client.isClosedByPeer())
            #expect(gatehouse.upstream.connectionCount == 0)
        }
    }

    @Test func forbiddenUpgradeNeverReachesTheUpstream() async throws {
        try await withGatehouse(upstream: .upgradeAndEcho(greeting: "")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(Self.upgradeRequest("/admin/socket", authorization: try gatehouse.bearer(roles: ["user"])))
            #expect(try client.readResponse().status == 403)
            #expect(gatehouse.upstream.connectionCount == 0)
        }
    }

    @Test func aDeclinedUpgradeEndsTheConnectionWithWhatFollowedItUnread() async throws {
        try await withGatehouse(upstream: .respond(status: 426, body: "upgrade refused")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                Self.upgradeRequest("/api/socket", authorization: try gatehouse.bearer())
                    + rawRequest("GET", "/admin/secret", headers: try gatehouse.bearer()))
            let response = try client.readResponse()
            #expect(response.status == 426)
            #expect(response.header("Connection")?.lowercased() == "close")
            #expect(client.isClosedByPeer())
            #expect(gatehouse.upstream.requests.map(\.uri) == ["/api/socket"])
        }
    }

    @Test func upgradeNotNominatedByConnectionIsAPlainRequest() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/plain", headers: try gatehouse.bearer() + "Upgrade: websocket\r\n"))
            let response = try client.readResponse()
            #expect(response.status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.values("Upgrade").isEmpty)
        }
    }

    @Test(
        "upgrades other than WebSocket are relayed as plain requests and end the connection",
        arguments: [
            "h2c", "HTTP/2.0", "websocket2", "TLS/1.2",
        ]
    )
    func otherUpgradesAreNotSpliced(protocolName: String) async throws {
        try await withGatehouse(upstream: .upgradeAndEcho(greeting: "")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                rawRequest(
                    "GET",
                    "/public/a",
                    headers:
                        "Upgrade: \(protocolName)\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                        + "HTTP2-Settings: AAMAAABkAAQAAP__\r\n"
                )
                    + rawRequest("GET", "/admin/secret")
            )
            let response = try client.readResponse()
            // The upstream was not asked to switch (and its 101 would be refused as unasked).
            #expect(response.status == 502)
            #expect(client.isClosedByPeer())
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.values("Upgrade").isEmpty)
            #expect(request.values("HTTP2-Settings").isEmpty)
            #expect(!gatehouse.upstream.requests.contains { $0.uri.contains("admin") })
        }
    }

    @Test func plainAnswerToAnUnsplicedUpgradeEndsTheConnection() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                rawRequest("GET", "/public/a", headers: "Upgrade: h2c\r\nConnection: Upgrade\r\n")
                    + rawRequest("GET", "/public/b")
            )
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.header("Connection")?.lowercased() == "close")
            #expect(client.isClosedByPeer())
            #expect(gatehouse.upstream.completedRequests.map(\.uri) == ["/public/a"])
        }
    }

    @Test func upstreamRefusingTheUpgradeAnswersNormally() async throws {
        try await withGatehouse(upstream: .respond(status: 426, body: "no")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(Self.upgradeRequest("/api/socket", authorization: try gatehouse.bearer()))
            let response = try client.readResponse()
            #expect(response.status == 426)
            #expect(response.text == "no")
            #expect(client.isClosedByPeer())
        }
    }
}
