/// The JWS algorithms Gatehouse accepts in an issuer's allow-list. `none` is not one of them, in any casing.
public enum SignatureAlgorithm: String, Sendable, CaseIterable, Hashable {
    case hs256 = "HS256", hs384 = "HS384", hs512 = "HS512"
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case es256 = "ES256", es384 = "ES384"
    case eddsa = "EdDSA"

    /// The kind of key an algorithm needs: a token may only use an algorithm matching its key's kind.
    public enum KeyKind: String, Sendable {
        case hmac = "HMAC secret"
        case rsa = "RSA"
        case p256 = "EC P-256"
        case p384 = "EC P-384"
        case ed25519 = "Ed25519"
    }

    /// The shortest HMAC secret this algorithm accepts (the hash size, RFC 7518 §3.2); 0 for public-key algorithms.
    public var minimumSecretBytes: Int {
        switch self {
        case .hs256: return 32
        case .hs384: return 48
        case .hs512: return 64
        default: return 0
        }
    }

    /// The first algorithm, in declaration order, for a key of `kind` (any kind when nil) among `allowed` (any
    /// when nil): how Gatehouse picks an algorithm when minting test and development tokens.
    public static func preferred(for kind: KeyKind?, allowed: Set<SignatureAlgorithm>?) -> SignatureAlgorithm? {
        allCases.first { (kind == nil || $0.keyKind == kind) && (allowed?.contains($0) ?? true) }
    }

    /// The key kind this algorithm verifies with.
    public var keyKind: KeyKind {
        switch self {
        case .hs256, .hs384, .hs512: return .hmac
        case .rs256, .rs384, .rs512, .ps256, .ps384, .ps512: return .rsa
        case .es256: return .p256
        case .es384: return .p384
        case .eddsa: return .ed25519
        }
    }
}
