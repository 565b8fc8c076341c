import GatehouseConfig
import GatehouseKeys
import GatehousePolicy
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import GatehouseProxy

/// A local identity provider on loopback: serves a JWKS document that the test swaps (nil: 503, as if down), and
/// counts the requests it answered.
final class MockIdentityProvider: Sendable {
    private let document = NIOLockedValueBox<String?>(nil)
    private let hits = NIOLockedValueBox(0)
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    var requests: Int { hits.withLockedValue { $0 } }

    func serve(_ jwks: String?) { document.withLockedValue { $0 = jwks } }

    func start(group: any EventLoopGroup) async throws -> Int {
        let document = self.document
        let hits = self.hits
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(document: document, hits: hits))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        channel.withLockedValue { $0 = server }
        return server.localAddress?.port ?? 0
    }

    func stop() async { try? await channel.withLockedValue { $0 }?.close() }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let document: NIOLockedValueBox<String?>
        let hits: NIOLockedValueBox<Int>
        init(document: NIOLockedValueBox<String?>, hits: NIOLockedValueBox<Int>) {
            self.document = document
            self.hits = hits
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            hits.withLockedValue { $0 += 1 }
            let body = document.withLockedValue { $0 }
            var headers = HTTPHeaders([("Content-Length", String(body?.utf8.count ?? 0)), ("Connection", "close")])
            headers.add(name: "Content-Type", value: "application/json")
            let status: HTTPResponseStatus = body == nil ? .serviceUnavailable : .ok
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            if let body { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

@Suite(.serialized) struct KeyRefreshEndToEndTests {
    static let issuer = "https://idp.gatehouse.test/"

    func jwks(_ keys: [(String, KeyMaterial)]) throws -> String {
        var entries = [String]()
        for (kid, material) in keys {
            guard case .rsaPrivate(let key) = material else { continue }
            let (n, e) = try key.publicKey.getKeyPrimitives()
            entries.append("{\"kty\":\"RSA\",\"kid\":\"\(kid)\",\"use\":\"sig\",\"n\":\"\(Base64URL.encode(n))\",\"e\":\"\(Base64URL.encode(e))\"}")
        }
        return "{\"keys\":[\(entries.joined(separator: ","))]}"
    }

    func token(_ material: KeyMaterial, kid: String) async throws -> String {
        let now = Double(Int(ProxyEnvironment().now()))
        let minter = try await TokenMinter(key: material, algorithm: .rs256, kid: kid)
        return try minter.mint(.object([
            "iss": .string(Self.issuer), "aud": .string("api"), "sub": .string("alice"),
            "iat": .number(now), "exp": .number(now + 300),
        ]))
    }

    func status(_ port: Int, _ group: any EventLoopGroup, path: String, token: String?) async throws -> Int {
        var headers = HTTPHeaders([("Host", "gatehouse.test")])
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return try await OneShotClient.status(
            group: group, port: port, head: HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))
    }

    /// Gatehouse in front of an echo upstream, with keys from a mock identity provider on loopback.
    struct Running {
        let group: MultiThreadedEventLoopGroup
        let idp: MockIdentityProvider
        let echo: EchoUpstream
        let store: ConfigurationStore
        let keys: KeyRefreshService
        let server: ProxyServer
        let port: Int

        func stop() async throws {
            keys.stopAll()
            await server.shutdown(grace: 1)
            await echo.stop()
            await idp.stop()
            try await group.shutdownGracefully()
        }
    }

    /// Starts everything; `issuerOptions` are extra YAML lines for the issuer (refresh and cooldown).
    func start(issuerOptions: String, serving document: String? = nil) async throws -> Running {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let idp = MockIdentityProvider()
        idp.serve(document)
        let idpPort = try await idp.start(group: group)
        let echo = EchoUpstream(group: group)
        let echoPort = try await echo.start().port ?? 0
        let yaml = """
            upstream: http://127.0.0.1:\(echoPort)
            tokens:
              issuers:
                - issuer: \(Self.issuer)
                  audience: api
                  algorithms: [RS256]
                  jwks_url: http://127.0.0.1:\(idpPort)/jwks.json
            \(issuerOptions)
            routes:
              - path: /public/**
                public: true
              - path: /api/**
                authenticated: true
            """
        let configuration = try await ConfigurationLoader().load(yaml: yaml, file: "routes.yaml")
        let store = ConfigurationStore(try ConfigurationStore.Snapshot(configuration: configuration))
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let keys = KeyRefreshService(store: store, logger: quiet)
        let server = ProxyServer(
            store: store, group: group,
            environment: ProxyEnvironment(onKeyMiss: { keys.keyMiss(issuer: $0, kid: $1) }), logger: quiet,
            accessLogger: quiet)
        let port = try await server.start(host: "127.0.0.1", port: 0).port ?? 0
        keys.sync(with: configuration)
        return Running(group: group, idp: idp, echo: echo, store: store, keys: keys, server: server, port: port)
    }

    @Test func providerDownAtStartThenUpThenRotating() async throws {
        let running = try await start(issuerOptions: "      refresh_interval: 1s\n      unknown_kid_cooldown: 1s")
        let (group, idp, store, port) = (running.group, running.idp, running.store, running.port)
        let first = try KeyMaterial.generate(.rsa)
        let firstToken = try await token(first, kid: "k1")

        // Provider down: protected routes 503 (never 2xx), public routes work.
        #expect(try await status(port, group, path: "/api/x", token: firstToken) == 503)
        #expect(try await status(port, group, path: "/public/x", token: nil) == 200)
        #expect(!store.snapshot.readiness.ready)

        // Provider up: the next refresh brings the keys.
        idp.serve(try jwks([("k1", first)]))
        #expect(try await eventually { try await status(port, group, path: "/api/x", token: firstToken) == 200 })
        #expect(store.snapshot.readiness.ready)

        // Rotation: a token with a new kid triggers a refetch (cooldown permitting) and then passes.
        let second = try KeyMaterial.generate(.rsa)
        let secondToken = try await token(second, kid: "k2")
        idp.serve(try jwks([("k2", second)]))
        #expect(try await eventually { try await status(port, group, path: "/api/x", token: secondToken) == 200 })
        // The old key is gone with the old document.
        #expect(try await eventually { try await status(port, group, path: "/api/x", token: firstToken) == 401 })

        // Provider down later: the last good keys stay in force.
        idp.serve(nil)
        let before = idp.requests
        #expect(await eventually { idp.requests > before })
        #expect(try await status(port, group, path: "/api/x", token: secondToken) == 200)
        try await running.stop()
    }

    @Test func unknownKidStormCausesExactlyOneFetchPerCooldown() async throws {
        let key = try KeyMaterial.generate(.rsa)
        let running = try await start(
            issuerOptions: "      refresh_interval: 1h\n      unknown_kid_cooldown: 1h", serving: try jwks([("k1", key)]))
        let (group, idp, port) = (running.group, running.idp, running.port)
        let good = try await token(key, kid: "k1")
        // Wait for the keys before any request: a request that finds none yet reports a miss too, which would start a
        // refetch and spend the cooldown before the storm. And no fetch in flight when the storm starts: one that is
        // would cover the first miss (by design). Either way the count below would not show whether the proxy's
        // key-miss hook works.
        let source = try #require(running.keys.source(for: Self.issuer))
        #expect(await eventually { !(running.store.snapshot.keys.keysByIssuer[Self.issuer] ?? []).isEmpty })
        #expect(await eventually { !source.isFetching })
        #expect(try await status(port, group, path: "/api/x", token: good) == 200)
        let fetchesBefore = idp.requests

        // A storm of tokens naming random kids (signed by some key the provider never published).
        let stranger = try KeyMaterial.generate(.rsa)
        for index in 0..<60 {
            let forged = try await token(stranger, kid: "random-\(index)-\(UInt32.random(in: 0...UInt32.max))")
            #expect(try await status(port, group, path: "/api/x", token: forged) == 401)
        }
        // The first unknown kid starts one refetch (the proxy's key-miss hook is wired); the other 59 start none.
        #expect(await eventually { idp.requests - fetchesBefore == 1 })
        #expect(await eventually { !source.isFetching })
        #expect(idp.requests - fetchesBefore == 1, "60 random kids cost one fetch per cooldown")
        #expect(try await status(port, group, path: "/api/x", token: good) == 200)
        try await running.stop()
    }
}
