/// Verifies compact JWS tokens against configured issuers and keys.
///
/// Order: size, shape, strict base64url, strict JSON (no duplicate keys), header rules (no `none`, no embedded or
/// remote keys, no `crit`), issuer, algorithm allow-list, key selection by `kid`, signature, then `exp` (required),
/// `nbf`, `iat`, `max_lifetime` and `aud`. Nothing from the token is trusted before its signature is checked except
/// what selects the key, and that can only choose among configured keys.
public struct TokenVerifier: Sendable {
    /// Issuers by their exact `iss`.
    public let issuers: [String: IssuerPolicy]
    /// The issuers' `iss` values in configuration order.
    public let issuerOrder: [String]
    /// Tokens longer than this are refused before any parsing. Default 8 KiB.
    public let maxTokenBytes: Int

    /// Creates a verifier.
    public init(issuers: [IssuerPolicy], maxTokenBytes: Int = 8192) {
        self.issuers = Dictionary(issuers.map { ($0.issuer, $0) }, uniquingKeysWith: { first, _ in first })
        self.issuerOrder = issuers.map(\.issuer)
        self.maxTokenBytes = maxTokenBytes
    }

    /// Header parameters that would let a token bring or point at its own key.
    private static let keyCarryingHeaders = ["jwk", "jku", "x5u", "x5c"]

    /// A NumericDate we can compare safely: finite and within ±10^11 seconds.
    private static func numericDate(_ value: JSONValue?, name: String) throws(TokenError) -> Double? {
        guard let value else { return nil }
        guard case .number(let number) = value, number.isFinite, abs(number) < 1e11 else {
            throw TokenError(.tokenMalformed, "the \(name) claim is not a valid NumericDate")
        }
        return number
    }

    /// Verifies `token` (the bearer credential, without the scheme) at time `now` (seconds since 1970).
    public func verify(_ token: Substring, keys: KeySet, now: Double) throws(TokenError) -> VerifiedToken {
        let bytes = token.utf8
        guard bytes.count <= maxTokenBytes else {
            throw TokenError(.tokenTooLarge, "the token is larger than \(maxTokenBytes) bytes")
        }
        let all = Array(bytes)
        var dots = [Int]()
        for (index, byte) in all.enumerated() where byte == UInt8(ascii: ".") {
            dots.append(index)
            if dots.count > 2 { break }
        }
        guard dots.count == 2 else {
            let why = dots.count > 2 ? "encrypted (JWE) tokens are not accepted" : "the token is not a signed JWT"
            throw TokenError(.tokenMalformed, why)
        }
        let headerPart = all[0..<dots[0]]
        let payloadPart = all[(dots[0] + 1)..<dots[1]]
        let signaturePart = all[(dots[1] + 1)...]

        guard let headerBytes = Base64URL.decode(headerPart), let payloadBytes = Base64URL.decode(payloadPart),
            let signature = Base64URL.decode(signaturePart)
        else {
            throw TokenError(.tokenMalformed, "the token is not canonical base64url")
        }
        let header: JSONValue
        let claims: JSONValue
        do {
            header = try StrictJSONParser.parse(headerBytes)
            claims = try StrictJSONParser.parse(payloadBytes)
        } catch .duplicateKey(let key) {
            throw TokenError(.tokenMalformed, "duplicate JSON key '\(key.prefix(32))' in the token")
        } catch {
            throw TokenError(.tokenMalformed, "the token is not valid JSON")
        }
        guard case .object = header, case .object = claims else {
            throw TokenError(.tokenMalformed, "the token header and payload must be JSON objects")
        }

        guard let algName = header["alg"]?.stringValue else {
            throw TokenError(.tokenMalformed, "the token header has no alg")
        }
        if algName.lowercased() == "none" {
            throw TokenError(.algorithmNotAllowed, "unsigned tokens (alg none) are not accepted")
        }
        for name in Self.keyCarryingHeaders where header[name] != nil {
            throw TokenError(.embeddedKeyRefused, "the token header may not carry or point to a key (\(name))")
        }
        if header["crit"] != nil {
            throw TokenError(.critUnsupported, "critical header extensions (crit) are not supported")
        }
        let kid: String?
        switch header["kid"] {
        case nil: kid = nil
        case .string(let value)?: kid = value
        default: throw TokenError(.tokenMalformed, "the kid header must be a string")
        }

        // Swift compares strings by canonical equivalence; identities are compared byte for byte.
        guard let issuerName = claims["iss"]?.stringValue, let issuer = issuers[issuerName],
            issuer.issuer.isExactly(issuerName)
        else {
            throw TokenError(.issuerUnknown, "the token's issuer is not trusted here")
        }
        guard let algorithm = SignatureAlgorithm(rawValue: algName), issuer.algorithms.contains(algorithm) else {
            throw TokenError(.algorithmNotAllowed, "the algorithm is not allowed for this issuer")
        }
        guard let issuerKeys = keys.keysByIssuer[issuerName], !issuerKeys.isEmpty else {
            throw TokenError(
                .keysUnavailable, "the issuer's keys are not available yet; retry shortly", issuer: issuerName, kid: kid)
        }
        let candidates = keys.candidates(issuer: issuerName, algorithm: algorithm, kid: kid)
        guard !candidates.isEmpty else {
            throw TokenError(.keyUnknown, "no key of this issuer matches the token's kid", issuer: issuerName, kid: kid)
        }
        let signingInput = all[0..<dots[1]]
        guard candidates.contains(where: { $0.verify(signature: signature, input: signingInput) }) else {
            throw TokenError(.signatureInvalid, "the token signature is invalid")
        }

        guard let exp = try Self.numericDate(claims["exp"], name: "exp") else {
            throw TokenError(.expMissing, "the token has no exp claim")
        }
        if now > exp + issuer.leeway {
            throw TokenError(.tokenExpired, "the token expired")
        }
        if let nbf = try Self.numericDate(claims["nbf"], name: "nbf"), nbf > now + issuer.leeway {
            throw TokenError(.tokenNotYetValid, "the token is not valid yet (nbf)")
        }
        let iat = try Self.numericDate(claims["iat"], name: "iat")
        if let iat, iat > now + issuer.leeway {
            throw TokenError(.issuedInFuture, "the token was issued in the future (iat)")
        }
        if let maxLifetime = issuer.maxLifetime {
            guard let iat else {
                throw TokenError(.lifetimeTooLong, "the token has no iat and this issuer limits token lifetime")
            }
            if exp - iat > maxLifetime {
                throw TokenError(.lifetimeTooLong, "the token lives longer than this issuer allows")
            }
        }
        if let audiences = issuer.audiences {
            let tokenAudiences: [String]
            switch claims["aud"] {
            case .string(let value)?: tokenAudiences = [value]
            case .array(let values)?: tokenAudiences = values.compactMap(\.stringValue)
            default: tokenAudiences = []
            }
            guard tokenAudiences.contains(where: { audience in audiences.contains { $0.isExactly(audience) } }) else {
                throw TokenError(.audienceMismatch, "the token is not meant for this audience")
            }
        }
        return VerifiedToken(claims: claims, issuer: issuer, expiresAt: exp)
    }
}
