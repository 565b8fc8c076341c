/// How tokens from one issuer are checked and read.
public struct IssuerPolicy: Sendable {
    /// The exact `iss` value.
    public let issuer: String
    /// Accepted audiences: the token's `aud` must contain one. `nil` means `audience: any` was written.
    public let audiences: [String]?
    /// The allow-list of algorithms.
    public let algorithms: Set<SignatureAlgorithm>
    /// Where the roles are. Default `roles`.
    public let rolesClaim: ClaimPath
    /// Where the scopes are. Default `scope`.
    public let scopesClaim: ClaimPath
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. Default 30.
    public let leeway: Double
    /// The longest `exp - iat` accepted, in seconds; `nil` for no limit. When set, `iat` is required.
    public let maxLifetime: Double?

    /// Creates an issuer policy.
    public init(
        issuer: String, audiences: [String]?, algorithms: Set<SignatureAlgorithm>,
        rolesClaim: ClaimPath = ClaimPath(keys: ["roles"]), scopesClaim: ClaimPath = ClaimPath(keys: ["scope"]),
        leeway: Double = 30, maxLifetime: Double? = nil
    ) {
        self.issuer = issuer
        self.audiences = audiences
        self.algorithms = algorithms
        self.rolesClaim = rolesClaim
        self.scopesClaim = scopesClaim
        self.leeway = leeway
        self.maxLifetime = maxLifetime
    }
}
