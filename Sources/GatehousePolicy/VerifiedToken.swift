/// What a token proved, once its signature and registered claims have been checked.
///
/// A class: the verified-token cache hands the same token to every request that presents it, and sharing it costs a
/// reference count instead of copying its claims, roles and scopes.
public final class VerifiedToken: Sendable {
    /// The issuer that vouched for it.
    public let issuer: String
    /// Every claim of the payload.
    public let claims: JSONValue
    /// `sub`, when it is a string.
    public let subject: String?
    /// The roles read from the issuer's roles claim.
    public let roles: Set<String>
    /// The scopes read from the issuer's scopes claim.
    public let scopes: Set<String>
    /// `exp`, seconds since 1970; `.infinity` for claims given to `explain --claims`.
    public let expiresAt: Double

    /// Creates a verified token from claims, reading roles and scopes the way `issuer` says.
    public init(claims: JSONValue, issuer: IssuerPolicy, expiresAt: Double) {
        self.issuer = issuer.issuer
        self.claims = claims
        self.subject = claims["sub"]?.stringValue
        self.roles = VerifiedToken.names(issuer.rolesClaim.lookup(in: claims), splitSpaces: false)
        self.scopes = VerifiedToken.names(issuer.scopesClaim.lookup(in: claims), splitSpaces: true)
        self.expiresAt = expiresAt
    }

    /// A roles claim may be an array or one string (one role, never a substring match); a scopes claim may be a
    /// space-separated string or an array.
    static func names(_ value: JSONValue?, splitSpaces: Bool) -> Set<String> {
        switch value {
        case .string(let text)?:
            if splitSpaces { return Set(text.split(separator: " ").map(String.init)) }
            return text.isEmpty ? [] : [text]
        case .array(let values)?:
            return Set(values.compactMap(\.stringValue))
        default:
            return []
        }
    }
}
