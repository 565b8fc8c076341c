/// The one place that maps a decision to HTTP: status, `WWW-Authenticate` (RFC 6750) and the small JSON body.
extension Decision {
    /// The realm in every challenge.
    public static let realm = "gatehouse"

    /// The `WWW-Authenticate` value for a local answer, or `nil`.
    ///
    /// - 401 without a credential: `Bearer realm="gatehouse"` (no error code, RFC 6750 §3.1).
    /// - 401 with a bad credential: adds `error="invalid_token"` and an `error_description`.
    /// - 403 for a missing role, scope or claim: `error="insufficient_scope"`, with `scope="..."` listing the
    ///   required scopes when scopes are what is missing.
    /// - 400 and `deny` 403s carry none: no token would help.
    public var challenge: String? {
        switch status {
        case 401:
            if reason == .tokenMissing { return "Bearer realm=\"\(Self.realm)\"" }
            return "Bearer realm=\"\(Self.realm)\", error=\"invalid_token\", error_description=\"\(Self.quoted(detail))\""
        case 403 where reason == .missingRole || reason == .missingScope || reason == .claimMismatch:
            var value = "Bearer realm=\"\(Self.realm)\", error=\"insufficient_scope\""
            if !requiredScopes.isEmpty { value += ", scope=\"\(Self.quoted(requiredScopes.joined(separator: " ")))\"" }
            value += ", error_description=\"\(Self.quoted(detail))\""
            return value
        default:
            return nil
        }
    }

    /// The RFC 6749 error code for the body.
    public var errorCode: String {
        switch status {
        case 400: return "invalid_request"
        case 401: return reason == .tokenMissing ? "unauthorized" : "invalid_token"
        case 403: return challenge == nil ? "access_denied" : "insufficient_scope"
        case 503: return "temporarily_unavailable"
        default: return "ok"
        }
    }

    /// The JSON body of a local answer: `{"error": ..., "error_description": ..., "route": ...}`.
    public var responseBody: String {
        Self.errorBody(error: errorCode, detail: detail, reason: reason.label, route: routeID)
    }

    /// The JSON body of every answer Gatehouse gives itself, decisions and transport failures alike
    /// (`route` is left out when no route was involved).
    public static func errorBody(error: String, detail: String, reason: String, route: String?) -> String {
        var body = "{\"error\":"
        JSONValue.writeString(error, to: &body)
        body += ",\"error_description\":"
        JSONValue.writeString(detail, to: &body)
        body += ",\"reason\":"
        JSONValue.writeString(reason, to: &body)
        if let route {
            body += ",\"route\":"
            JSONValue.writeString(route, to: &body)
        }
        body += "}"
        return body
    }

    /// Response headers of a local answer (besides framing).
    public var responseHeaders: [(name: String, value: String)] {
        var headers = [(name: String, value: String)]()
        headers.append(("Content-Type", "application/json"))
        headers.append(("Cache-Control", "no-store"))
        if let challenge { headers.append(("WWW-Authenticate", challenge)) }
        if status == 503 { headers.append(("Retry-After", "5")) }
        return headers
    }

    private static func quoted(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0 != "\"" && $0 != "\\" && $0.value >= 0x20 && $0.value < 0x7F }.map(Character.init))
    }
}
