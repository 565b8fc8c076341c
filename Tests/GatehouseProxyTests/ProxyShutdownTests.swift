import Testing

/// Graceful shutdown: the listener closes at once, a request in flight completes, then the server stops.
@Suite(.timeLimit(.minutes(2)))
struct ProxyShutdownTests {
    @Test func inFlightRequestCompletesAndNewConnectionsAreRefused() async throws {
        try await withGatehouse(upstream: .held, onlyFor: "/api/slow") { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/slow", headers: try gatehouse.bearer()))
            #expect(await gatehouse.upstream.wait { $0.requests.count == 1 })

            let server = gatehouse.server
            let shutdown = Task { await server.shutdown(grace: 20) }
            // The listener goes away while the request is still held by the upstream.
            #expect(await eventually(attempts: 500) { !RawClient.canConnect(port: gatehouse.port) })
            #expect(gatehouse.upstream.completedRequests.count == 1)

            gatehouse.upstream.release()
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "released")
            // Once its exchange is over, the draining connection is closed.
            #expect(client.isClosedByPeer())
            await shutdown.value
            #expect(!RawClient.canConnect(port: gatehouse.port))
        }
    }

    @Test func idleConnectionsAreClosedOnShutdown() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/public/a"))
            #expect(try client.readResponse().status == 200)
            await gatehouse.server.shutdown(grace: 20)
            #expect(client.isClosedByPeer())
            #expect(!RawClient.canConnect(port: gatehouse.port))
        }
    }
}
