/// Every metadata key of Gatehouse's logs, declared once.
public enum LogKeys {
    public static let requestID = "request.id"
    public static let method = "request.method"
    public static let path = "request.path"
    public static let client = "client.address"
    public static let routeID = "route.id"
    public static let status = "response.status"
    public static let reason = "decision.reason"
    public static let subject = "auth.subject"
    public static let upstream = "upstream.address"
    public static let upstreamStatus = "upstream.status"
    public static let upstreamLatency = "upstream.latency_ms"
    public static let duration = "duration_ms"
    public static let bytesIn = "bytes.in"
    public static let bytesOut = "bytes.out"
    public static let error = "error"
}
