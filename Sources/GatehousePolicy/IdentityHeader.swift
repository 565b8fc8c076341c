/// A header sent upstream for an authenticated request, and where its value comes from.
public struct IdentityHeader: Sendable, Equatable {
    /// Where a value comes from.
    public enum Source: Sendable, Equatable {
        case subject
        case roles
        case scopes
        case issuer
        case claim(ClaimPath)
    }

    /// The header name as configured.
    public let name: String
    /// Where its value comes from.
    public let source: Source

    /// Creates an identity header.
    public init(name: String, source: Source) {
        self.name = name
        self.source = source
    }

    /// The default set: `X-Auth-Subject`, `X-Auth-Roles`, `X-Auth-Scopes`.
    public static let defaults = [
        IdentityHeader(name: "X-Auth-Subject", source: .subject),
        IdentityHeader(name: "X-Auth-Roles", source: .roles),
        IdentityHeader(name: "X-Auth-Scopes", source: .scopes),
    ]

    /// The value for `token`, `nil` when the token has none, or an error when the value could forge a header
    /// (control characters) or a list entry (a `,` inside a role).
    func value(for token: VerifiedToken) throws(TokenError) -> String? {
        let value: String?
        switch source {
        case .subject: value = token.subject
        case .issuer: value = token.issuer
        case .roles: value = try Self.list(token.roles.sorted(), separator: ",")
        case .scopes: value = try Self.list(token.scopes.sorted(), separator: " ")
        case .claim(let path):
            switch path.lookup(in: token.claims) {
            case nil, .null?: value = nil
            case .array(let values)?: value = try Self.list(values.map { $0.scalarText ?? $0.jsonText }, separator: ",")
            case let found?:
                // An object is passed as its JSON text; a scalar as its text.
                if case .object = found { value = found.jsonText } else { value = found.scalarText }
            }
        }
        guard let value else { return nil }
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            throw TokenError(.claimInvalid, "a claim contains control characters")
        }
        return value
    }

    private static func list(_ items: [String], separator: Character) throws(TokenError) -> String? {
        guard !items.isEmpty else { return nil }
        for item in items where item.contains(separator) {
            throw TokenError(.claimInvalid, "a role or scope contains a list separator")
        }
        return items.joined(separator: String(separator))
    }
}

/// A computed identity header: name and validated value.
public struct IdentityHeaderValue: Sendable, Equatable {
    /// The header name.
    public let name: String
    /// The value, free of control characters.
    public let value: String
}
