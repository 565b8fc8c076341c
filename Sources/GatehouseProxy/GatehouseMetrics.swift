import CoreMetrics
public import GatehousePolicy
import Metrics
import NIOConcurrencyHelpers

/// Every metric Gatehouse records, declared once. Library code records through swift-metrics; the executable
/// chooses the backend (Prometheus text on the admin listener).
///
/// | metric | kind | labels |
/// | --- | --- | --- |
/// | `gatehouse_requests_total` | counter | `route`, `status`, `reason` |
/// | `gatehouse_request_duration_seconds` | histogram | `route` |
/// | `gatehouse_upstream_duration_seconds` | histogram | `upstream` |
/// | `gatehouse_upstream_errors_total` | counter | `upstream`, `kind` (`unavailable`, `timeout`, `aborted`) |
/// | `gatehouse_key_loads_total` | counter | `issuer`, `source`, `outcome` |
/// | `gatehouse_key_age_seconds` | gauge | `issuer` |
/// | `gatehouse_token_cache_hits_total`, `gatehouse_token_cache_misses_total` | counter | |
/// | `gatehouse_token_cache_entries` | gauge | |
/// | `gatehouse_config_reloads_total` | counter | `outcome` (`applied`, `rejected`) |
/// | `gatehouse_config_info` | gauge (1 for the loaded configuration) | `sha256` |
/// | `gatehouse_open_connections` | gauge | |
public enum GatehouseMetrics {
    public static let requests = "gatehouse_requests_total"
    public static let requestDuration = "gatehouse_request_duration_seconds"
    public static let upstreamDuration = "gatehouse_upstream_duration_seconds"
    public static let upstreamErrors = "gatehouse_upstream_errors_total"
    public static let keyLoads = "gatehouse_key_loads_total"
    public static let keyAge = "gatehouse_key_age_seconds"
    public static let cacheHits = "gatehouse_token_cache_hits_total"
    public static let cacheMisses = "gatehouse_token_cache_misses_total"
    public static let cacheEntries = "gatehouse_token_cache_entries"
    public static let configReloads = "gatehouse_config_reloads_total"
    public static let configInfo = "gatehouse_config_info"
    public static let openConnections = "gatehouse_open_connections"

    private struct RequestKey: Hashable {
        let route: String
        let status: Int
        let reason: String
    }

    private struct Handles {
        var requests: [RequestKey: Counter] = [:]
        var durations: [String: Timer] = [:]
        var upstreamDurations: [String: Timer] = [:]
    }

    /// Metric objects are made once per label set: making one goes through the backend's registry.
    private static let handles = NIOLockedValueBox(Handles())
    private static let connections = Meter(label: openConnections)

    /// The counter and duration timer of one label set.
    static func requestHandles(route: String, status: Int, reason: String) -> (Counter, Timer) {
        let key = RequestKey(route: route, status: status, reason: reason)
        return handles.withLockedValue { handles -> (Counter, Timer) in
            let counter = handles.requests[key] ?? {
                let made = Counter(label: requests, dimensions: [("route", route), ("status", String(status)), ("reason", reason)])
                handles.requests[key] = made
                return made
            }()
            let timer = handles.durations[route] ?? {
                let made = Timer(label: requestDuration, dimensions: [("route", route)], preferredDisplayUnit: .seconds)
                handles.durations[route] = made
                return made
            }()
            return (counter, timer)
        }
    }

    /// The response-time timer of one upstream.
    static func upstreamTimer(_ upstream: String) -> Timer {
        handles.withLockedValue { handles -> Timer in
            if let existing = handles.upstreamDurations[upstream] { return existing }
            let made = Timer(label: upstreamDuration, dimensions: [("upstream", upstream)], preferredDisplayUnit: .seconds)
            handles.upstreamDurations[upstream] = made
            return made
        }
    }

    /// Counts an upstream failure.
    static func recordUpstreamError(_ upstream: String, kind: String) {
        Counter(label: upstreamErrors, dimensions: [("upstream", upstream), ("kind", kind)]).increment()
    }

    /// Counts a key load (at start, on reload, or from a key source).
    public static func recordKeyLoad(issuer: String, source: String, outcome: String) {
        Counter(label: keyLoads, dimensions: [("issuer", issuer), ("source", source), ("outcome", outcome)]).increment()
    }

    /// Counts a configuration reload.
    static func recordReload(outcome: String) {
        Counter(label: configReloads, dimensions: [("outcome", outcome)]).increment()
    }

    /// Marks `hash` as the loaded configuration (and `previous`, if any, as no longer loaded).
    public static func recordConfiguration(hash: String, previous: String?) {
        if let previous, previous != hash { Gauge(label: configInfo, dimensions: [("sha256", previous)]).record(0) }
        Gauge(label: configInfo, dimensions: [("sha256", hash)]).record(1)
    }

    private static let cacheSeen = NIOLockedValueBox<(id: ObjectIdentifier?, hits: UInt64, misses: UInt64)>((nil, 0, 0))

    /// Brings the token-cache counters up to date with `cache` (called at scrape time).
    public static func observe(cache: TokenCache) {
        let (entries, hits, misses) = cache.statistics
        let id = ObjectIdentifier(cache)
        let (newHits, newMisses) = cacheSeen.withLockedValue { seen -> (UInt64, UInt64) in
            // A reload brings a new cache whose counts start again from zero.
            if seen.id != id { seen = (id, 0, 0) }
            defer { seen = (id, hits, misses) }
            return (hits &- seen.hits, misses &- seen.misses)
        }
        if newHits > 0 { Counter(label: cacheHits).increment(by: Int64(newHits)) }
        if newMisses > 0 { Counter(label: cacheMisses).increment(by: Int64(newMisses)) }
        Gauge(label: cacheEntries).record(entries)
    }

    /// Sets the age of each issuer's keys (called at scrape time).
    public static func observeKeyAge(issuer: String, seconds: Double) {
        Gauge(label: keyAge, dimensions: [("issuer", issuer)]).record(seconds)
    }

    static func connectionOpened() { connections.increment() }
    static func connectionClosed() { connections.decrement() }
}

/// The metric handles a connection used last: keep-alive traffic repeats its label sets, and reusing the handles
/// keeps the shared registry's lock and lookups off the request path.
struct ConnectionMetrics {
    private var request: (route: String, status: Int, reason: String, counter: Counter, timer: Timer)?
    private var upstream: (name: String, timer: Timer)?

    mutating func recordRequest(route: String, status: Int, reason: String, nanoseconds: Int64) {
        let handles: (counter: Counter, timer: Timer)
        if let last = request, last.status == status, last.route == route, last.reason == reason {
            handles = (last.counter, last.timer)
        } else {
            handles = GatehouseMetrics.requestHandles(route: route, status: status, reason: reason)
            request = (route, status, reason, handles.counter, handles.timer)
        }
        handles.counter.increment()
        handles.timer.recordNanoseconds(nanoseconds)
    }

    mutating func recordUpstream(_ name: String, nanoseconds: Int64) {
        let timer: Timer
        if let last = upstream, last.name == name {
            timer = last.timer
        } else {
            timer = GatehouseMetrics.upstreamTimer(name)
            upstream = (name, timer)
        }
        timer.recordNanoseconds(nanoseconds)
    }
}
