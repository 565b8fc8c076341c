import Foundation
import GatehouseKeys
import GatehousePolicy

/// The injected clock of every test: tokens are minted relative to it, never with a hard-coded far-future `exp`.
let testNow: Double = 1_760_000_000

/// Keys are generated once per test process (RSA generation is slow); every test builds its own key set from them.
enum TestKeyMaterial {
    static let rsa = try! KeyMaterial.generate(.rsa)
    static let rsaOther = try! KeyMaterial.generate(.rsa)
    static let p256 = try! KeyMaterial.generate(.p256)
    static let p256Other = try! KeyMaterial.generate(.p256)
    static let p384 = try! KeyMaterial.generate(.p384)
    static let ed25519 = try! KeyMaterial.generate(.ed25519)
    // 64 bytes, as `secret_env` would supply them: RFC 7518 §3.2 wants an HMAC key at least as long as the hash
    // output (HS512 too), and jwt-kit asserts it in debug builds.
    static let hmac = hmacSecret()
    static let hmacOther = hmacSecret()

    /// A random 64-byte secret, as `secret_env` would supply it.
    static func hmacSecret(bytes: Int = 64) -> KeyMaterial {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let secret = String((0..<bytes).map { _ in alphabet.randomElement()! })
        return try! KeyFiles.readSecret(env: "SECRET", environment: ["SECRET": secret])
    }

    /// A key of the kind `algorithm` needs.
    static func signing(for algorithm: SignatureAlgorithm) -> KeyMaterial {
        switch algorithm.keyKind {
        case .rsa: return rsa
        case .p256: return p256
        case .p384: return p384
        case .ed25519: return ed25519
        case .hmac: return hmac
        }
    }
}

/// Builds compact JWS strings byte by byte, for tokens no honest minter would produce.
enum Forge {
    /// `base64url(header).base64url(payload).base64url(signature)` with the JSON texts exactly as given.
    static func compact(header: String, payload: String, signature: [UInt8] = []) -> String {
        Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8)) + "."
            + Base64URL.encode(signature)
    }

    /// Signs raw JSON texts (duplicate keys, odd numbers...) with a real key, so that only the oddity can be refused.
    static func signed(
        header: String, payload: String, material: KeyMaterial, algorithm: SignatureAlgorithm
    ) async throws -> String {
        let signer = try await material.jwtAlgorithm(for: algorithm)
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
        let signature = try signer.sign(Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    /// The three parts of a compact token.
    static func parts(_ token: String) -> [String] {
        token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }
}

/// One issuer with one key: a verifier, the key set it trusts and a minter for honest tokens.
struct IssuerFixture: Sendable {
    static let defaultIssuer = "https://id.example.test/"
    static let defaultAudience = "orders-api"

    let policy: IssuerPolicy
    let verifier: TokenVerifier
    let keys: KeySet
    let minter: TokenMinter
    let material: KeyMaterial

    static func make(
        issuer: String = defaultIssuer,
        audiences: [String]? = [defaultAudience],
        algorithm: SignatureAlgorithm = .es256,
        allowed: Set<SignatureAlgorithm>? = nil,
        material: KeyMaterial? = nil,
        kid: String? = nil,
        leeway: Double = 30,
        maxLifetime: Double? = nil,
        maxTokenBytes: Int = 8192,
        rolesClaim: ClaimPath = ClaimPath(keys: ["roles"]),
        scopesClaim: ClaimPath = ClaimPath(keys: ["scope"]),
        generation: UInt64 = 1
    ) async throws -> IssuerFixture {
        let material = material ?? TestKeyMaterial.signing(for: algorithm)
        let policy = IssuerPolicy(
            issuer: issuer, audiences: audiences, algorithms: allowed ?? [algorithm], rolesClaim: rolesClaim,
            scopesClaim: scopesClaim, leeway: leeway, maxLifetime: maxLifetime)
        let key = try await material.verificationKey(kid: kid, algorithm: algorithm)
        return IssuerFixture(
            policy: policy,
            verifier: TokenVerifier(issuers: [policy], maxTokenBytes: maxTokenBytes),
            keys: KeySet(keysByIssuer: [issuer: [key]], generation: generation),
            minter: try await TokenMinter(key: material, algorithm: algorithm, kid: kid),
            material: material)
    }

    /// Valid claims at `now`: `iss`, `aud`, `sub`, `iat = now`, `exp = now + 5 min`; `overrides` replace or add
    /// claims, `removing` drops them.
    func claims(_ overrides: [String: JSONValue] = [:], removing: [String] = [], now: Double = testNow) -> JSONValue {
        var members: [String: JSONValue] = [
            "iss": .string(policy.issuer),
            "sub": .string("alice"),
            "iat": .number(now),
            "exp": .number(now + 300),
        ]
        if let audience = policy.audiences?.first { members["aud"] = .string(audience) }
        members.merge(overrides) { _, new in new }
        for name in removing { members[name] = nil }
        return .object(members)
    }

    /// Claims as JSON text (for tokens signed from raw text).
    func claimsText(_ overrides: [String: JSONValue] = [:], removing: [String] = []) -> String {
        claims(overrides, removing: removing).jsonText
    }

    /// An honest token.
    func mint(
        _ overrides: [String: JSONValue] = [:], removing: [String] = [], header: [String: JSONValue] = [:],
        now: Double = testNow
    ) throws -> String {
        try minter.mint(claims(overrides, removing: removing, now: now), extraHeader: header)
    }

    /// `"accepted"`, or the label of the reason the token was refused.
    func outcome(_ token: String, at now: Double = testNow) -> String {
        do {
            _ = try verifier.verify(Substring(token), keys: keys, now: now)
            return "accepted"
        } catch {
            return error.reason.label
        }
    }
}
