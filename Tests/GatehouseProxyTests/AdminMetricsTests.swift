import Logging
import Metrics
import NIOPosix
import Prometheus
import Synchronization
import Testing

@testable import GatehouseProxy

/// The admin listener: health, readiness, and the Prometheus series of the README's table after real traffic.
@Suite(.timeLimit(.minutes(2)))
struct AdminMetricsTests {
    /// The process's metrics backend: bootstrapped once, for this suite.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Route ids of their own: metric handles made by other suites before the bootstrap would be no-ops.
    static let yaml = """
        version: 1
        tokens:
          issuers:
            - issuer: \(ProxyHarness.issuer)
              audience: \(ProxyHarness.audience)
              algorithms: [HS256]
              secret_env: \(ProxyHarness.secretVariable)
        routes:
          - id: metrics-orders
            path: /orders/**
            scopes: [orders:read]
          - id: metrics-internal
            path: /internal/**
            deny: true
        default: deny
        """

    @Test func healthReadinessAndMetricsAfterTraffic() async throws {
        let registry = Self.registry
        try await withGatehouse(yaml: Self.yaml) { gatehouse in
            let store = ConfigurationStore(try ConfigurationStore.Snapshot(configuration: gatehouse.configuration))
            // Not ready at first (as while an issuer's keys have not arrived), then the store's own answer.
            let waitingForKeys = Mutex(true)
            let admin = AdminServer(
                group: gatehouse.group,
                probes: AdminServer.Probes(
                    readiness: {
                        waitingForKeys.withLock { $0 } ? (false, "no keys yet for https://idp.test/") : store.snapshot.readiness
                    },
                    metrics: {
                        GatehouseMetrics.observe(cache: store.snapshot.configuration.policy.cache)
                        return registry.emitToString()
                    }),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let channel = try await admin.start(host: "127.0.0.1", port: 0)
            let adminPort = channel.localAddress?.port ?? 0

            // Traffic: an allowed request, a 401, a 403.
            for (path, headers) in [("/orders/1", try gatehouse.bearer()), ("/orders/1", ""), ("/internal/x", "")] {
                let client = try gatehouse.connect()
                try client.send(rawRequest("GET", path, headers: headers))
                _ = try client.readResponse()
            }
            GatehouseMetrics.recordReload(outcome: "rejected")
            GatehouseMetrics.recordConfiguration(hash: "feedface00000000", previous: nil)

            func fetch(_ path: String) throws -> RawClient.Response {
                let client = try RawClient(port: adminPort)
                try client.send("GET \(path) HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
                return try client.readResponse()
            }
            #expect(try fetch("/healthz").status == 200)
            let notReady = try fetch("/readyz")
            #expect(notReady.status == 503)
            #expect(notReady.text.contains("no keys yet for https://idp.test/"))
            waitingForKeys.withLock { $0 = false }
            let ready = try fetch("/readyz")
            #expect(ready.status == 200)
            #expect(ready.text.contains("\"ready\":true"))
            #expect(try fetch("/nope").status == 404)

            let metrics = try fetch("/metrics")
            #expect(metrics.status == 200)
            let text = metrics.text
            #expect(text.contains(#"gatehouse_requests_total{route="metrics-orders",status="200",reason="authorized"}"#))
            #expect(text.contains(#"gatehouse_requests_total{route="metrics-orders",status="401",reason="token_missing"}"#))
            #expect(text.contains(#"gatehouse_requests_total{route="metrics-internal",status="403",reason="route_denied"}"#))
            #expect(text.contains(#"gatehouse_request_duration_seconds_bucket{route="metrics-orders""#))
            #expect(text.contains("gatehouse_upstream_duration_seconds_count"))
            #expect(text.contains(#"gatehouse_config_reloads_total{outcome="rejected"}"#))
            #expect(text.contains(#"gatehouse_config_info{sha256="feedface00000000"} 1"#))
            #expect(text.contains("gatehouse_token_cache_entries"))
            try await channel.close()
        }
    }
}
