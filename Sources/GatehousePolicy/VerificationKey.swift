public import JWTKit

/// One configured key, bound to one algorithm and (optionally) one `kid`.
///
/// Keys come only from configuration (a PEM file, a JWKS, an environment secret); a token's header can select among
/// them by `kid` but never supply one.
public struct VerificationKey: Sendable {
    /// The key id a token selects this key with; `nil` for a key that is not published under an id.
    public let kid: String?
    /// The one algorithm this key verifies.
    public let algorithm: SignatureAlgorithm
    /// The signature check, from jwt-kit, bound to `algorithm` at load time.
    let verifier: any JWTAlgorithm

    /// Binds a jwt-kit algorithm to a configured key.
    public init(kid: String?, algorithm: SignatureAlgorithm, verifier: any JWTAlgorithm) {
        self.kid = kid
        self.algorithm = algorithm
        self.verifier = verifier
    }

    /// Whether `signature` signs `input` under this key.
    @inline(__always)
    func verify(signature: [UInt8], input: ArraySlice<UInt8>) -> Bool {
        (try? verifier.verify(signature, signs: input)) ?? false
    }
}

/// The keys in force for every issuer at one moment: an immutable snapshot, replaced whole when keys change.
public struct KeySet: Sendable {
    /// Issuer (`iss`) → its keys.
    public let keysByIssuer: [String: [VerificationKey]]
    /// Changes whenever the keys change, so that cached verifications made under older keys are not reused.
    public let generation: UInt64

    /// Creates a snapshot.
    public init(keysByIssuer: [String: [VerificationKey]], generation: UInt64 = 0) {
        self.keysByIssuer = keysByIssuer
        self.generation = generation
    }

    /// The keys for `issuer` that verify `algorithm` and answer to `kid`.
    ///
    /// A token with a `kid` selects the keys published under that id, or failing that the keys configured without
    /// one (a single PEM or secret); a token without `kid` selects the keys without one, or the issuer's only key.
    func candidates(issuer: String, algorithm: SignatureAlgorithm, kid: String?) -> [VerificationKey] {
        guard let keys = keysByIssuer[issuer] else { return [] }
        let forAlgorithm = keys.filter { $0.algorithm == algorithm }
        if let kid {
            let named = forAlgorithm.filter { $0.kid?.isExactly(kid) ?? false }
            if !named.isEmpty { return named }
        }
        let unnamed = forAlgorithm.filter { $0.kid == nil }
        if !unnamed.isEmpty { return unnamed }
        if kid == nil, forAlgorithm.count == 1 { return forAlgorithm }
        return []
    }
}
