import GatehouseConfig
import GatehouseKeys
import GatehousePolicy
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing

@testable import GatehouseProxy

/// TLS on both sides: the listener terminates TLS (and a plaintext client on it gets nowhere), and an `https://`
/// upstream is verified against a configured CA, hostname included.
@Suite(.serialized) struct TLSEndToEndTests {
    static let fixtures: String = {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures"
    }()
    static let certificate = fixtures + "/test-server.cert.pem"
    static let key = fixtures + "/test-server.key.pem"

    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A plain GET of a public route that closes the connection after its answer.
    static let plainGet = Array("GET /public/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)

    /// Gatehouse with `configuration` on an ephemeral loopback port.
    func serve(_ configuration: GatehouseConfiguration, group: any EventLoopGroup) async throws -> (ProxyServer, Int) {
        let server = ProxyServer(
            store: ConfigurationStore(try ConfigurationStore.Snapshot(configuration: configuration)), group: group,
            logger: quiet, accessLogger: quiet)
        return (server, try await server.start(host: "127.0.0.1", port: 0).port ?? 0)
    }

    func yaml(upstream: String, extra: String = "") -> String {
        """
        upstream: \(upstream)
        \(extra)
        tokens:
          issuers:
            - issuer: https://idp.test/
              audience: api
              algorithms: [RS256]
              jwks_url: https://idp.test/jwks.json
        routes:
          - path: /public/**
            public: true
        """
    }

    /// Sends one GET over TLS (trusting the test certificate, verifying `localhost`) and returns the raw response.
    func tlsRequest(port: Int, group: any EventLoopGroup, path: String) async throws -> String {
        var settings = TLSConfiguration.makeClientConfiguration()
        settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(Self.certificate))
        let context = try NIOSSLContext(configuration: settings)
        let collected = NIOLockedValueBox("")
        let done = group.next().makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(Collector(collected: collected, done: done))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(
            channel.allocator.buffer(string: "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
        let timeout = group.next().scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        try? await done.futureResult.get()
        timeout.cancel()
        return collected.withLockedValue { $0 }
    }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let collected: NIOLockedValueBox<String>
        let done: EventLoopPromise<Void>
        init(collected: NIOLockedValueBox<String>, done: EventLoopPromise<Void>) {
            self.collected = collected
            self.done = done
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data))
            collected.withLockedValue { $0 += text }
        }
        func channelInactive(context: ChannelHandlerContext) { done.succeed(()) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            done.succeed(())
            context.close(promise: nil)
        }
    }

    @Test func tlsListenerServesTLSClientsOnly() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = EchoUpstream(group: group)
        let echoPort = try await echo.start().port ?? 0
        let text = yaml(
            upstream: "http://127.0.0.1:\(echoPort)",
            extra: "tls: {cert_file: \(Self.certificate), key_file: \(Self.key)}")
        let configuration = try await ConfigurationLoader().load(yaml: text, file: "routes.yaml")
        let (server, port) = try await serve(configuration, group: group)

        let response = try await tlsRequest(port: port, group: group, path: "/public/hello")
        #expect(response.hasPrefix("HTTP/1.1 200"))
        #expect(echo.received.count == 1)
        #expect(echo.received.first?.values("x-forwarded-proto") == ["https"])

        // Plain HTTP on the TLS port: never an HTTP answer, never reaches the upstream.
        let plain = try await RawSocket.exchange(port: port, bytes: Array("GET /public/hello HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(!plain.hasPrefix("HTTP/"))
        #expect(echo.received.count == 1)

        await server.shutdown(grace: 1)
        await echo.stop()
        try await group.shutdownGracefully()
    }

    @Test func httpsUpstreamIsVerifiedAgainstTheConfiguredCA() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // A TLS upstream with the test certificate (valid for localhost and 127.0.0.1).
        let settings = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(Self.certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: Self.key, format: .pem)))
        let tls = try NIOSSLContext(configuration: settings)
        let echo = EchoUpstream(group: group)
        let upstream = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(TLSUpstreamHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let upstreamPort = upstream.localAddress?.port ?? 0

        // Trusting the test CA: relayed.
        let trusted = try await ConfigurationLoader().load(
            yaml: yaml(upstream: "https://localhost:\(upstreamPort)", extra: "upstream_ca_file: \(Self.certificate)"),
            file: "routes.yaml")
        let (server, port) = try await serve(trusted, group: group)
        let ok = try await RawSocket.exchange(port: port, bytes: Self.plainGet)
        #expect(ok.hasPrefix("HTTP/1.1 200"))
        #expect(ok.hasSuffix("tls-ok"))
        await server.shutdown(grace: 1)

        // The system trust store does not know the test CA: 502, never a plaintext fallback.
        let untrusted = try await ConfigurationLoader().load(
            yaml: yaml(upstream: "https://localhost:\(upstreamPort)"), file: "routes.yaml")
        let (strict, strictPort) = try await serve(untrusted, group: group)
        let refused = try await RawSocket.exchange(port: strictPort, bytes: Self.plainGet)
        #expect(refused.hasPrefix("HTTP/1.1 502"))
        await strict.shutdown(grace: 1)

        try await upstream.close()
        await echo.stop()
        try await group.shutdownGracefully()
    }

    private final class TLSUpstreamHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let headers = HTTPHeaders([("Content-Length", "6")])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: "tls-ok")))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// A blocking loopback exchange: send bytes, read until the peer closes (or 5 s pass).
enum RawSocket {
    static func exchange(port: Int, bytes: [UInt8]) async throws -> String {
        let group = MultiThreadedEventLoopGroup.singleton
        let collected = NIOLockedValueBox("")
        let done = group.next().makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSEndToEndTests.Collector(collected: collected, done: done))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
        let timeout = group.next().scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        try? await done.futureResult.get()
        timeout.cancel()
        return collected.withLockedValue { $0 }
    }
}
