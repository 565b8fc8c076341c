import Foundation
import GatehouseConfig
import Logging
import NIOPosix
import Testing

@testable import GatehouseProxy

/// Safe hot reload while requests flow: a broken file changes nothing and is reported with file:line:col; a good
/// one takes effect for new requests without dropping the one in flight.
@Suite(.timeLimit(.minutes(2)))
struct ReloadEndToEndTests {
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func yaml(upstreamPort: Int, version: String) -> String {
        """
        upstream: http://127.0.0.1:\(upstreamPort)
        tokens:
          issuers:
            - issuer: https://idp.test/
              audience: api
              algorithms: [HS256]
              secret_env: RELOAD_TEST_SECRET
        routes:
          - path: /slow
            public: true
          - path: /\(version)/**
            public: true
        tests:
          - request: GET /\(version)/x
            expect: 200
        """
    }

    struct Setup {
        let directory: String
        let file: String
        let upstream: RecordingUpstream
        let server: ProxyServer
        let store: ConfigurationStore
        let reloader: ConfigurationReloader
        let port: Int
        let group: MultiThreadedEventLoopGroup
        let upstreamPort: Int

        func write(_ text: String) throws {
            // Written via rename, as editors do.
            let temporary = directory + "/.routes.yaml.tmp"
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
            _ = rename(temporary, file)
        }

        func stop() async {
            await server.shutdown(grace: 1)
            await upstream.stop()
            try? await group.shutdownGracefully()
        }
    }

    func start() async throws -> Setup {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let upstream = RecordingUpstream(group: group) { request in request.uri == "/slow" ? .held : .respond() }
        let upstreamPort = try await upstream.start()
        let directory = NSTemporaryDirectory() + "gatehouse-reload-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/routes.yaml"
        try Self.yaml(upstreamPort: upstreamPort, version: "v1").write(toFile: file, atomically: true, encoding: .utf8)
        let loader = ConfigurationLoader(environment: ["RELOAD_TEST_SECRET": String(repeating: "s", count: 64)])
        let configuration = try await loader.load(path: file)
        let store = ConfigurationStore(try ConfigurationStore.Snapshot(configuration: configuration))
        let server = ProxyServer(store: store, group: group, logger: quiet, accessLogger: quiet)
        let port = try await server.start(host: "127.0.0.1", port: 0).port ?? 0
        let reloader = ConfigurationReloader(path: file, store: store, loader: loader, logger: quiet)
        return Setup(
            directory: directory, file: file, upstream: upstream, server: server, store: store, reloader: reloader,
            port: port, group: group, upstreamPort: upstreamPort)
    }

    func get(_ setup: Setup, _ path: String) throws -> Int {
        let client = try RawClient(port: setup.port)
        try client.send(rawRequest("GET", path))
        return try client.readResponse().status
    }

    @Test func brokenFileChangesNothingAndIsReported() async throws {
        let setup = try await start()
        #expect(try get(setup, "/v1/a") == 200)
        let before = setup.store.snapshot.configuration.contentHash

        try setup.write(Self.yaml(upstreamPort: setup.upstreamPort, version: "v2").replacingOccurrences(
            of: "  - path: /slow\n", with: "  - path: /slow\n    colour: blue\n"))
        let outcome = await setup.reloader.reloadIfChanged()
        guard case .rejected(let problems) = outcome else {
            Issue.record("expected a rejected reload, got \(outcome)")
            await setup.stop()
            return
        }
        #expect(problems.contains { $0.contains(setup.file + ":10:5: error: unknown key 'colour'") })
        #expect(setup.store.snapshot.configuration.contentHash == before)
        #expect(try get(setup, "/v1/a") == 200, "the running configuration still serves")
        #expect(try get(setup, "/v2/a") == 403)
        #expect(setup.reloader.statistics.rejected == 1)
        // The same broken bytes are not reported again on the next poll.
        #expect(await setup.reloader.reloadIfChanged() == .unchanged)
        await setup.stop()
    }

    @Test func fileWhoseTestsFailIsRefused() async throws {
        let setup = try await start()
        let failing = Self.yaml(upstreamPort: setup.upstreamPort, version: "v2").replacingOccurrences(
            of: "expect: 200", with: "expect: 403")
        try setup.write(failing)
        guard case .rejected(let problems) = await setup.reloader.reloadIfChanged() else {
            Issue.record("a file whose tests fail must not be applied")
            await setup.stop()
            return
        }
        #expect(problems.contains { $0.hasPrefix("FAIL") })
        #expect(try get(setup, "/v1/a") == 200)
        await setup.stop()
    }

    @Test func goodFileTakesEffectWithoutDroppingTheRequestInFlight() async throws {
        let setup = try await start()
        let slow = try RawClient(port: setup.port)
        try slow.send(rawRequest("GET", "/slow"))
        #expect(await setup.upstream.wait { $0.requests.contains { $0.uri == "/slow" } })

        try setup.write(Self.yaml(upstreamPort: setup.upstreamPort, version: "v2"))
        let outcome = await setup.reloader.reloadIfChanged()
        guard case .applied(let summary) = outcome else {
            Issue.record("expected an applied reload, got \(outcome)")
            await setup.stop()
            return
        }
        #expect(summary.contains("added: /v2/**"))
        #expect(summary.contains("removed: /v1/**"))
        #expect(try get(setup, "/v2/a") == 200)
        #expect(try get(setup, "/v1/a") == 403)

        setup.upstream.release()
        #expect(try slow.readResponse().status == 200, "the request in flight finished under its configuration")
        await setup.stop()
    }
}
