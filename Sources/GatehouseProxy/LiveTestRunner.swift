public import GatehouseConfig
import GatehousePolicy
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Runs the `tests:` of a configuration through the real proxy: Gatehouse on an ephemeral loopback port in front of
/// the embedded echo upstream, each test sent as a real HTTP request. Besides the status (and the route and reason
/// the same decision reports), it checks what reached the upstream: allowed requests arrive exactly once, with the
/// expected path and headers; denied requests never arrive.
public struct LiveTestRunner: Sendable {
    let configuration: GatehouseConfiguration

    /// Creates a runner for `configuration`.
    public init(configuration: GatehouseConfiguration) {
        self.configuration = configuration
    }

    /// Runs every test; `now` is read once per test.
    public func run(now: @escaping @Sendable () -> Double) async throws -> [PolicyTestRunner.Result] {
        let offline = try await PolicyTestRunner(configuration: configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = EchoUpstream(group: group)
        let echoAddress = try await echo.start()
        let snapshot = try ConfigurationStore.Snapshot(
            configuration: configuration, keys: offline.keys.keySet,
            upstreamOverride: "http://127.0.0.1:\(echoAddress.port ?? 0)")
        let quiet = Logger(label: "gatehouse.test", factory: { _ in SwiftLogNoOpLogHandler() })
        let server = ProxyServer(
            store: ConfigurationStore(snapshot), group: group, environment: ProxyEnvironment(now: now),
            logger: quiet, accessLogger: quiet)
        var results = [PolicyTestRunner.Result]()
        do {
            let address = try await server.start(host: "127.0.0.1", port: 0)
            for test in configuration.tests {
                results.append(try await run(test, offline: offline, echo: echo, port: address.port ?? 0, group: group, now: now()))
            }
        } catch {
            await server.shutdown(grace: 1)
            await echo.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        await server.shutdown(grace: 1)
        await echo.stop()
        try? await group.shutdownGracefully()
        return results
    }

    private func run(
        _ test: PolicyTestCase, offline: PolicyTestRunner, echo: EchoUpstream, port: Int, group: any EventLoopGroup,
        now: Double
    ) async throws -> PolicyTestRunner.Result {
        echo.clear()
        let expected = offline.run(test, now: now)
        var headers = HTTPHeaders([("Host", "gatehouse.test")])
        for header in test.headers where header.name.lowercased() != "host" { headers.add(name: header.name, value: header.value) }
        if let authorization = try offline.authorizationHeader(for: test, now: now) {
            headers.add(name: "Authorization", value: authorization)
        }
        let status: Int
        do {
            status = try await OneShotClient.status(
                group: group, port: port, head: HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: test.method), uri: test.target, headers: headers))
        } catch {
            return PolicyTestRunner.Result(test: test, decision: expected.decision, failure: "the request failed: \(error)")
        }
        var problems = [String]()
        if let failure = expected.failure { problems.append(failure) }
        if status != test.expectedStatus { problems.append("the proxy answered \(status), expected \(test.expectedStatus)") }
        let received = echo.received
        if test.expectedStatus == 200 {
            if received.count != 1 {
                problems.append("the upstream received \(received.count) requests, expected 1")
            } else if let expectation = test.expectedUpstream {
                let request = received[0]
                if let path = expectation.path, request.target != path {
                    problems.append("the upstream saw \(request.target), expected \(path)")
                }
                for (name, value) in expectation.headers {
                    let values = request.values(name)
                    if let value, values != [value] {
                        problems.append("the upstream saw \(name): \(values.isEmpty ? "(absent)" : values.joined(separator: ", ")), expected \(value)")
                    } else if value == nil, !values.isEmpty {
                        problems.append("the upstream saw \(name): \(values.joined(separator: ", ")), expected it absent")
                    }
                }
            }
        } else if !received.isEmpty {
            problems.append("a denied request reached the upstream")
        }
        return PolicyTestRunner.Result(
            test: test, decision: expected.decision, failure: problems.isEmpty ? nil : problems.joined(separator: "; "))
    }
}

/// Sends one request on a fresh connection and returns the response status.
///
/// The request is written as raw bytes, exactly as the test spells its target (a policy test may send `/a/../b` or
/// a backslash on purpose); only the status line of the answer is read.
enum OneShotClient {
    static func status(group: any EventLoopGroup, port: Int, head: HTTPRequestHead) async throws -> Int {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StatusLineReader())
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        var text = "\(head.method.rawValue) \(head.uri) HTTP/1.1\r\n"
        for (name, value) in head.headers { text += "\(name): \(value)\r\n" }
        text += "Connection: close\r\n\r\n"
        let request = channel.allocator.buffer(string: text)
        let reader = try await channel.pipeline.handler(type: StatusLineReader.self).get()
        let result = try await channel.eventLoop.submit {
            let future = reader.promise(on: channel.eventLoop)
            channel.writeAndFlush(request).whenFailure { error in reader.fail(error) }
            return future
        }.get()
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        let status = try await result.get()
        try? await channel.close()
        return status
    }

    /// Completes with the status code of the first status line that is not 1xx.
    final class StatusLineReader: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        private var pending: EventLoopPromise<Int>?
        private var received = ByteBuffer()

        func promise(on loop: any EventLoop) -> EventLoopFuture<Int> {
            let promise = loop.makePromise(of: Int.self)
            pending = promise
            return promise.futureResult
        }

        func fail(_ error: any Error) {
            pending?.fail(error)
            pending = nil
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received.writeBuffer(&buffer)
            let text = String(buffer: received)
            for line in text.split(separator: "\r\n", omittingEmptySubsequences: true) where line.hasPrefix("HTTP/1.") {
                let parts = line.split(separator: " ")
                guard parts.count >= 2, let code = Int(parts[1]), code >= 200 else { continue }
                pending?.succeed(code)
                pending = nil
                return
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            fail(ChannelError.eof)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            fail(error)
            context.close(promise: nil)
        }
    }
}
