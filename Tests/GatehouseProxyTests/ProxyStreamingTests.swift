import Testing

/// Large bodies stream through in both directions, byte for byte, without the proxy holding them: the resident
/// memory of the whole test process stays within a bound smaller than the body, and a client that stops reading
/// stops the upstream too.
@Suite(.timeLimit(.minutes(3)))
struct ProxyStreamingTests {
    static let large = 256 << 20
    /// How much the process may grow while a large body passes (generous: tests run in parallel).
    static let growthBoundKiB = 200 << 10

    /// Tracks the largest resident size seen.
    struct PeakMemory {
        let start = residentKiB()
        var peak = residentKiB() ?? 0

        mutating func sample() {
            if let now = residentKiB() { peak = max(peak, now) }
        }

        /// Growth over the start, or nil where /proc is missing.
        var growthKiB: Int? { start.map { peak - $0 } }
    }

    @Test func largeUploadStreamsThrough() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                "POST /orders/upload HTTP/1.1\r\nHost: g\r\n\(try gatehouse.bearer())"
                    + "Content-Length: \(Self.large)\r\n\r\n"
            )
            var memory = PeakMemory()
            var sent = 0
            while sent < Self.large {
                let piece = min(1 << 20, Self.large - sent)
                try client.sendPattern(count: piece, from: sent)
                sent += piece
                memory.sample()
            }
            let response = try client.readResponse()
            memory.sample()
            #expect(response.status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.bodyBytes == Self.large)
            #expect(request.bodyMatchesPattern)
            #expect(request.values("Content-Length") == [String(Self.large)])
            if let growth = memory.growthKiB {
                #expect(growth < Self.growthBoundKiB, "resident memory grew by \(growth) KiB")
            }
        }
    }

    @Test func chunkedUploadStreamsThrough() async throws {
        let total = 8 << 20
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                "PUT /orders/upload HTTP/1.1\r\nHost: g\r\n\(try gatehouse.bearer())Transfer-Encoding: chunked\r\n\r\n"
            )
            var sent = 0
            var size = 1
            while sent < total {
                // Chunk sizes from 1 byte to 256 KiB.
                let piece = min(size, total - sent)
                try client.send(
                    Array("\(String(piece, radix: 16))\r\n".utf8) + Pattern.bytes(at: sent, count: piece) + [13, 10]
                )
                sent += piece
                size = size >= 256 << 10 ? 1 : size * 3 + 1
            }
            try client.send("0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.bodyBytes == total)
            #expect(request.bodyMatchesPattern)
            #expect(request.values("Transfer-Encoding") == ["chunked"])
        }
    }

    @Test(arguments: [false, true])
    func largeDownloadStreamsThrough(chunked: Bool) async throws {
        let download = RecordingUpstream.Behaviour.download(bytes: Self.large, chunked: chunked)
        try await withGatehouse(upstream: download, onlyFor: "/orders/export") { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/orders/export", headers: try gatehouse.bearer()))
            var memory = PeakMemory()
            var nextSample = 0
            let response = try client.readResponse(keepBody: false, checkPattern: true) { received in
                if received >= nextSample {
                    memory.sample()
                    nextSample += 1 << 20
                }
            }
            memory.sample()
            #expect(response.status == 200)
            #expect(response.bodyCount == Self.large)
            #expect(response.bodyMatchesPattern)
            if chunked {
                #expect(response.header("Transfer-Encoding") == "chunked")
            } else {
                #expect(response.header("Content-Length") == String(Self.large))
            }
            if let growth = memory.growthKiB {
                #expect(growth < Self.growthBoundKiB, "resident memory grew by \(growth) KiB")
            }
            // The connection is still good afterwards.
            try client.send(rawRequest("GET", "/orders/small", headers: try gatehouse.bearer()))
            let next = try client.readResponse()
            #expect(next.status == 200)
            #expect(next.text == "upstream-ok")
        }
    }

    @Test func aClientThatStopsReadingStopsTheUpstream() async throws {
        try await withGatehouse(upstream: .download(bytes: Self.large, chunked: false)) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/orders/export", headers: try gatehouse.bearer()))
            // Read nothing and wait until the upstream cannot write any more (socket buffers full all the way).
            var last = -1
            var unchanged = 0
            for _ in 0..<1500 where unchanged < 10 {
                try await Task.sleep(for: .milliseconds(20))
                let now = gatehouse.upstream.downloadedBytes
                unchanged = now == last && now > 0 ? unchanged + 1 : 0
                last = now
            }
            #expect(unchanged >= 10, "the upstream never stopped writing")
            // Kernel buffers on loopback hold a few MiB; anything near the whole body means nobody pushed back.
            #expect(last < 64 << 20, "the upstream wrote \(last) bytes to a client that reads nothing")
            let response = try client.readResponse(keepBody: false, checkPattern: true)
            #expect(response.bodyCount == Self.large)
            #expect(response.bodyMatchesPattern)
        }
    }

    @Test func anUpstreamThatStopsReadingStopsTheClient() async throws {
        try await withGatehouse(upstream: .stallReading) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                "POST /orders/upload HTTP/1.1\r\nHost: g\r\n\(try gatehouse.bearer())"
                    + "Content-Length: \(Self.large)\r\n\r\n"
            )
            // Send without blocking until nothing more is taken (buffers full all the way to the upstream).
            var sent = 0
            var refused = 0
            while sent < Self.large && refused < 25 {
                let taken = try client.trySend(Pattern.bytes(at: sent, count: min(65_536, Self.large - sent)))
                if taken == 0 {
                    refused += 1
                    try await Task.sleep(for: .milliseconds(20))
                } else {
                    refused = 0
                    sent += taken
                }
            }
            #expect(refused >= 25, "the proxy took the whole body from a client whose upstream reads nothing")
            #expect(sent < 64 << 20, "the proxy took \(sent) bytes while its upstream read nothing")
            gatehouse.upstream.release()
            try client.sendPattern(count: Self.large - sent, from: sent)
            let response = try client.readResponse()
            #expect(response.status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.bodyBytes == Self.large)
            #expect(request.bodyMatchesPattern)
        }
    }

    @Test func keepAliveHTTP10ClientGetsACloseDelimitedBody() async throws {
        try await withGatehouse(upstream: .download(bytes: 1 << 20, chunked: true), onlyFor: "/orders/export") {
            gatehouse in
            let client = try gatehouse.connect()
            let headers = try gatehouse.bearer() + "Connection: keep-alive\r\n"
            // With a length, the connection is kept.
            try client.send(rawRequest("GET", "/orders/small", headers: headers, version: "HTTP/1.0", host: nil))
            let small = try client.readResponse()
            #expect(small.text == "upstream-ok")
            #expect(small.header("Connection")?.lowercased() == "keep-alive")
            // Without one, closing is the only way to end the body.
            try client.send(rawRequest("GET", "/orders/export", headers: headers, version: "HTTP/1.0", host: nil))
            let large = try client.readResponse(keepBody: false, checkPattern: true)
            #expect(large.header("Connection")?.lowercased() == "close")
            #expect(large.header("Transfer-Encoding") == nil)
            #expect(large.bodyCount == 1 << 20)
            #expect(large.bodyMatchesPattern)
        }
    }

    @Test func downloadToAnHTTP10ClientEndsWithClose() async throws {
        try await withGatehouse(upstream: .download(bytes: 1 << 20, chunked: true)) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                rawRequest("GET", "/orders/export", headers: try gatehouse.bearer(), version: "HTTP/1.0", host: nil)
            )
            let response = try client.readResponse(keepBody: false, checkPattern: true)
            #expect(response.version == "HTTP/1.0")
            #expect(response.status == 200)
            #expect(response.header("Transfer-Encoding") == nil)
            #expect(response.bodyCount == 1 << 20)
            #expect(response.bodyMatchesPattern)
        }
    }
}
