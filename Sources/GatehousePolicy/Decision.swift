/// The answer for one request: allow (with the identity to send upstream) or a local 400/401/403, always with a
/// reason from a closed set.
public struct Decision: Sendable {
    /// 200 for allowed; otherwise the status to answer locally.
    public let status: Int
    /// Why.
    public let reason: DecisionReason
    /// A human explanation; the `error_description` of a local answer. Never contains the token.
    public let detail: String
    /// The route that decided, or `nil` when no route matched (the default applied) or the path was refused.
    public let route: Route?
    /// The normalised target: what is matched and what is forwarded. `nil` when the path was refused.
    public let target: NormalizedTarget?
    /// Identity headers to inject upstream (allowed, authenticated requests only).
    public let identity: [IdentityHeaderValue]
    /// The token's subject, when a token was verified.
    public let subject: String?
    /// The scopes the route asked for, when missing scopes caused a 403.
    public let requiredScopes: [String]
    /// For `key_unknown` and `keys_unavailable`: the issuer and `kid` the token asked for (a key source may refetch).
    public let keyLookup: (issuer: String, kid: String?)?

    /// Whether the request may be relayed.
    public var isAllowed: Bool { status == 200 }

    /// The route id, or `default` when the default rule decided.
    public var routeID: String { route?.id ?? "default" }

    init(
        status: Int, reason: DecisionReason, detail: String, route: Route?, target: NormalizedTarget?,
        identity: [IdentityHeaderValue] = [], subject: String? = nil, requiredScopes: [String] = [],
        keyLookup: (issuer: String, kid: String?)? = nil
    ) {
        self.keyLookup = keyLookup
        self.status = status
        self.reason = reason
        self.detail = detail
        self.route = route
        self.target = target
        self.identity = identity
        self.subject = subject
        self.requiredScopes = requiredScopes
    }
}
