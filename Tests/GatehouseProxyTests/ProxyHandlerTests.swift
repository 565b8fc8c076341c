import GatehouseConfig
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// ``ProxyHandler`` bytes-in, bytes-out on an `EmbeddedChannel` with the server pipeline, for everything that needs
/// no upstream: local answers, parser errors and the timers, with time advanced by hand.
struct ProxyHandlerTests {
    /// The handler on an embedded channel, connected and active.
    final class Fixture {
        let channel = EmbeddedChannel()
        let accessLog = AccessLogRecorder()
        let store: ConfigurationStore

        init(configuration: GatehouseConfiguration) throws {
            // Nothing listens there: these tests never relay.
            let snapshot = try ConfigurationStore.Snapshot(
                configuration: configuration,
                upstreamOverride: "http://127.0.0.1:9"
            )
            let operations = channel.pipeline.syncOperations
            let pool = UpstreamPool(eventLoop: channel.embeddedEventLoop, connectTimeout: .seconds(1))
            store = ConfigurationStore(snapshot)
            try operations.addHandler(
                ProxyHandler(
                    store: store,
                    pool: pool,
                    environment: ProxyEnvironment(now: { 1_700_000_000 }),
                    logger: accessLog.logger(label: "test")
                )
            )
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4000)).wait()
        }

        /// Delivers `text` as one read, then runs what the read queued on the loop, as an event loop does once a
        /// round of I/O is handled (the handler's batched flushes among it).
        func send(_ text: String) throws {
            try channel.writeInbound(channel.allocator.buffer(string: text))
            channel.embeddedEventLoop.run()
        }

        /// Everything written to the client so far.
        func output() throws -> String {
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
                text += String(buffer: buffer)
            }
            return text
        }

        var isOpen: Bool { channel.isActive }

        func advance(seconds: Int64) {
            channel.embeddedEventLoop.advanceTime(by: .seconds(seconds))
        }
    }

    static func fixture(_ extra: String = "") async throws -> Fixture {
        try Fixture(configuration: try await ProxyHarness.loadConfiguration(ProxyHarness.yaml(extra)))
    }

    static func statusLines(_ output: String) -> [String] {
        // "\r\n" is one Character.
        output.ranges(of: "HTTP/1.").map { String(output[$0.lowerBound...].prefix { $0 != "\r\n" }) }
    }

    @Test func deniedRequestIsAnsweredLocallyAndTheConnectionKept() async throws {
        let fixture = try await Self.fixture()
        try fixture.send("GET /orders/1 HTTP/1.1\r\nHost: gatehouse.test\r\nX-Request-Id: abc\r\n\r\n")
        let output = try fixture.output()
        #expect(output.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        #expect(output.contains("\r\nWWW-Authenticate: Bearer realm=\"gatehouse\"\r\n"))
        #expect(output.contains("\r\nX-Request-Id: abc\r\n"))
        #expect(output.hasSuffix("\"reason\":\"token_missing\",\"route\":\"orders-read\"}"))
        #expect(!output.lowercased().contains("connection: close"))
        #expect(fixture.isOpen)
    }

    /// Two requests in one read: both are answered in the same round of I/O.
    static let twoRequests = "GET /orders/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /orders/2 HTTP/1.1\r\nHost: a\r\n\r\n"

    @Test func aRoundsFirstAnswerLeavesAtOnceAndTheNextAtTheRoundsEnd() async throws {
        let fixture = try await Self.fixture()
        try fixture.channel.writeInbound(fixture.channel.allocator.buffer(string: Self.twoRequests))
        #expect(Self.statusLines(try fixture.output()) == ["HTTP/1.1 401 Unauthorized"])
        fixture.channel.embeddedEventLoop.run()
        #expect(Self.statusLines(try fixture.output()) == ["HTTP/1.1 401 Unauthorized"])
    }

    @Test func shutdownBeforeTheRoundEndsStillSendsEveryAnswer() async throws {
        let fixture = try await Self.fixture()
        try fixture.channel.writeInbound(fixture.channel.allocator.buffer(string: Self.twoRequests))
        // The server starts shutting down before the loop ends its round: the idle connection closes, and the
        // answer still waiting for the round's flush goes out first instead of being dropped unflushed.
        fixture.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(Self.statusLines(try fixture.output()) == ["HTTP/1.1 401 Unauthorized", "HTTP/1.1 401 Unauthorized"])
        #expect(!fixture.isOpen)
    }

    @Test func pipelinedLocalAnswersComeInOrder() async throws {
        let fixture = try await Self.fixture()
        try fixture.send(
            "GET /orders/1 HTTP/1.1\r\nHost: g\r\n\r\nGET /internal/x HTTP/1.1\r\nHost: g\r\n\r\n"
                + "GET /public/../x HTTP/1.1\r\nHost: g\r\n\r\n"
        )
        #expect(
            Self.statusLines(try fixture.output()) == [
                "HTTP/1.1 401 Unauthorized", "HTTP/1.1 403 Forbidden", "HTTP/1.1 400 Bad Request",
            ]
        )
        #expect(
            fixture.accessLog.logged.map { $0.metadata["decision.reason"] } == [
                "token_missing", "route_denied", "path_unsafe",
            ]
        )
    }

    @Test func deniedRequestWithBodyClosesTheConnection() async throws {
        let fixture = try await Self.fixture()
        try fixture.send("POST /orders/1 HTTP/1.1\r\nHost: g\r\nContent-Length: 3\r\n\r\nabc")
        let output = try fixture.output()
        #expect(Self.statusLines(output) == ["HTTP/1.1 401 Unauthorized"])
        #expect(output.contains("\r\nConnection: close\r\n"))
        #expect(!fixture.isOpen)
    }

    @Test func aReloadedBodyLimitAppliesToTheNextRequestOfAnOpenConnection() async throws {
        let fixture = try await Self.fixture()
        try fixture.send("GET /orders/1 HTTP/1.1\r\nHost: g\r\n\r\n")
        #expect(Self.statusLines(try fixture.output()) == ["HTTP/1.1 401 Unauthorized"])
        let lowered = try await ProxyHarness.loadConfiguration(ProxyHarness.yaml("limits: {max_body_bytes: 10}"))
        fixture.store.replace(with: try ConfigurationStore.Snapshot(configuration: lowered, upstreamOverride: "http://127.0.0.1:9"))
        try fixture.send("POST /public/form HTTP/1.1\r\nHost: g\r\nContent-Length: 20\r\n\r\n")
        let output = try fixture.output()
        #expect(Self.statusLines(output) == ["HTTP/1.1 413 Payload Too Large"])
        #expect(!fixture.isOpen)
    }

    @Test func malformedRequestIs400AndClose() async throws {
        let fixture = try await Self.fixture()
        try? fixture.send("GET /public/a HTTP/1.1\r\nHost: g\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        let output = try fixture.output()
        #expect(Self.statusLines(output) == ["HTTP/1.1 400 Bad Request"])
        #expect(output.contains("\"reason\":\"request_invalid\""))
        #expect(!fixture.isOpen)
    }

    @Test func slowHeadGets408AndClose() async throws {
        let fixture = try await Self.fixture("timeouts: {head: 5s}")
        try fixture.send("GET /public/a HTTP/1.1\r\nHost: g\r\n")
        fixture.advance(seconds: 4)
        #expect(try fixture.output().isEmpty)
        #expect(fixture.isOpen)
        fixture.advance(seconds: 2)
        let output = try fixture.output()
        #expect(output.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(output.contains("\r\nConnection: close\r\n"))
        #expect(output.hasSuffix("\"reason\":\"request_timeout\"}"))
        #expect(Self.statusLines(output).count == 1)
        #expect(!fixture.isOpen)
        #expect(fixture.accessLog.logged.map { $0.metadata["response.status"] } == ["408"])
    }

    @Test func silentConnectionGets408AndClose() async throws {
        let fixture = try await Self.fixture()
        fixture.advance(seconds: 11)
        #expect(Self.statusLines(try fixture.output()) == ["HTTP/1.1 408 Request Timeout"])
        #expect(!fixture.isOpen)
    }

    @Test func idleKeepAliveConnectionIsClosedWithoutAnAnswer() async throws {
        let fixture = try await Self.fixture("timeouts: {idle: 30s}")
        try fixture.send("GET /orders/1 HTTP/1.1\r\nHost: g\r\n\r\n")
        #expect(Self.statusLines(try fixture.output()) == ["HTTP/1.1 401 Unauthorized"])
        fixture.advance(seconds: 29)
        #expect(fixture.isOpen)
        fixture.advance(seconds: 2)
        #expect(try fixture.output().isEmpty)
        #expect(!fixture.isOpen)
    }

    @Test func oversizedHeadIs431() async throws {
        let fixture = try await Self.fixture("limits: {max_head_bytes: 1024}")
        try? fixture.send("GET /public/a HTTP/1.1\r\nHost: g\r\nX-Big: \(String(repeating: "b", count: 2048))\r\n\r\n")
        let output = try fixture.output()
        #expect(Self.statusLines(output) == ["HTTP/1.1 431 Request Header Fields Too Large"])
        #expect(!fixture.isOpen)
    }
}
