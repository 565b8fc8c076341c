import GatehousePolicy
import NIOCore
import NIOHTTP1

/// A response Gatehouse writes itself: a policy decision (400/401/403) or a transport failure (408, 413, 431,
/// 502, 504...). Decision → status, challenge and body come from `Decision+HTTP`, the one place that maps
/// decisions to HTTP; this type only frames them.
struct LocalAnswer {
    let status: Int
    let headers: [(name: String, value: String)]
    let body: String
    /// The reason label for the access log.
    let reason: String

    init(decision: Decision) {
        self.status = decision.status
        self.headers = decision.responseHeaders
        self.body = decision.responseBody
        self.reason = decision.reason.label
    }

    /// A transport-level answer with the same JSON body shape.
    init(status: Int, reason: String, detail: String) {
        self.status = status
        self.reason = reason
        self.body = Decision.errorBody(error: LocalAnswer.errorCode(status), detail: detail, reason: reason, route: nil)
        self.headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    }

    static func errorCode(_ status: Int) -> String {
        switch status {
        case 400: return "invalid_request"
        case 408: return "request_timeout"
        case 413: return "request_too_large"
        case 431: return "request_header_fields_too_large"
        case 502: return "bad_gateway"
        case 503: return "service_unavailable"
        case 504: return "gateway_timeout"
        case 505: return "http_version_not_supported"
        default: return "error"
        }
    }

    /// Transport failures, with their reason labels.
    static func refused(_ refusal: HeaderPolicy.Refusal) -> LocalAnswer {
        let reason: String
        switch refusal.status {
        case 413: reason = "body_too_large"
        case 431: reason = "head_too_large"
        case 505: reason = "version_unsupported"
        default: reason = "request_invalid"
        }
        return LocalAnswer(status: refusal.status, reason: reason, detail: refusal.detail)
    }

    static let upstreamUnavailable = LocalAnswer(status: 502, reason: "upstream_unavailable", detail: "the upstream could not be reached or failed")
    static let upstreamTimeout = LocalAnswer(status: 504, reason: "upstream_timeout", detail: "the upstream did not answer in time")
    static let bodyTooLarge = LocalAnswer(status: 413, reason: "body_too_large", detail: "the request body is too large")
    static let requestInvalid = LocalAnswer(status: 400, reason: "request_invalid", detail: "malformed HTTP request")
    static let requestTimeout = LocalAnswer(status: 408, reason: "request_timeout", detail: "the request head did not arrive in time")
    static let noUpstream = LocalAnswer(status: 502, reason: "upstream_unavailable", detail: "no upstream is configured for this route")

    /// The whole response as bytes: the head (with `Content-Length`, the request id and the connection's fate),
    /// then the body unless `withBody` is false (a response to HEAD).
    func response(
        version: HTTPVersion, requestID: String, close: Bool, withBody: Bool, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256 + body.utf8.count)
        ResponseWriter.writeStatusLine(version: version, status: HTTPResponseStatus(statusCode: status), into: &buffer)
        for (name, value) in headers { buffer.writeField(name, value) }
        buffer.writeField("Content-Length", String(body.utf8.count))
        ResponseWriter.writeClosingFields(requestID: requestID, version: version, close: close, into: &buffer)
        if withBody { buffer.writeString(body) }
        return buffer
    }
}
