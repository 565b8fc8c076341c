import Crypto
import CryptoExtras
import FoundationEssentials
public import GatehousePolicy
public import JWTKit

/// A typed key as loaded from configuration or generated for tests.
///
/// The kind is fixed when the key is read, so an algorithm can only ever be paired with a key of its own kind: an
/// RSA public key can never become an HMAC secret.
public enum KeyMaterial: Sendable {
    case rsaPublic(JWTKit.Insecure.RSA.PublicKey)
    case rsaPrivate(JWTKit.Insecure.RSA.PrivateKey)
    case p256Public(ES256PublicKey)
    case p256Private(ES256PrivateKey)
    case p384Public(ES384PublicKey)
    case p384Private(ES384PrivateKey)
    case ed25519Public(EdDSA.PublicKey)
    case ed25519Private(EdDSA.PrivateKey)
    case hmac(HMACKey, byteCount: Int)

    /// The kind of key, which decides the algorithms it may serve.
    public var kind: SignatureAlgorithm.KeyKind {
        switch self {
        case .rsaPublic, .rsaPrivate: return .rsa
        case .p256Public, .p256Private: return .p256
        case .p384Public, .p384Private: return .p384
        case .ed25519Public, .ed25519Private: return .ed25519
        case .hmac: return .hmac
        }
    }

    /// Whether this key can sign (private keys and secrets).
    public var canSign: Bool {
        switch self {
        case .rsaPublic, .p256Public, .p384Public, .ed25519Public: return false
        default: return true
        }
    }

    /// A fresh random key of `kind` (RSA 2048 bits, 64-byte HMAC secrets, long enough for HS512).
    public static func generate(_ kind: SignatureAlgorithm.KeyKind) throws -> KeyMaterial {
        switch kind {
        case .rsa: return .rsaPrivate(try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048)))
        case .p256: return .p256Private(ES256PrivateKey())
        case .p384: return .p384Private(ES384PrivateKey())
        case .ed25519: return .ed25519Private(try EdDSA.PrivateKey(curve: .ed25519))
        case .hmac:
            let secret = SymmetricKey(size: .init(bitCount: 512))
            return .hmac(HMACKey(key: secret), byteCount: 64)
        }
    }

    /// Builds jwt-kit's signer/verifier for this key under exactly `algorithm`.
    ///
    /// - Throws: ``KeyError`` when the algorithm does not fit the key's kind.
    public func jwtAlgorithm(for algorithm: SignatureAlgorithm) async throws -> any JWTAlgorithm {
        guard algorithm.keyKind == kind else {
            throw KeyError("algorithm \(algorithm.rawValue) needs a \(algorithm.keyKind.rawValue) key, not \(kind.rawValue)")
        }
        // A collection per key: jwt-kit then has exactly one candidate and no default to fall back to.
        let collection = JWTKeyCollection()
        let kid = JWKIdentifier(string: "k")
        switch (self, algorithm) {
        case (.rsaPublic(let key as any RSAKey), _), (.rsaPrivate(let key as any RSAKey), _):
            switch algorithm {
            case .rs256, .rs384, .rs512: await collection.add(rsa: key, digestAlgorithm: Self.digest(algorithm), kid: kid)
            case .ps256, .ps384, .ps512: await collection.add(pss: key, digestAlgorithm: Self.digest(algorithm), kid: kid)
            default: throw KeyError("algorithm \(algorithm.rawValue) does not fit a \(kind.rawValue) key")
            }
        case (.p256Public(let key), _): await collection.add(ecdsa: key, kid: kid)
        case (.p256Private(let key), _): await collection.add(ecdsa: key, kid: kid)
        case (.p384Public(let key), _): await collection.add(ecdsa: key, kid: kid)
        case (.p384Private(let key), _): await collection.add(ecdsa: key, kid: kid)
        case (.ed25519Public(let key), _): await collection.add(eddsa: key, kid: kid)
        case (.ed25519Private(let key), _): await collection.add(eddsa: key, kid: kid)
        case (.hmac(let key, _), .hs256), (.hmac(let key, _), .hs384), (.hmac(let key, _), .hs512):
            await collection.add(hmac: key, digestAlgorithm: Self.digest(algorithm), kid: kid)
        default: throw KeyError("algorithm \(algorithm.rawValue) does not fit a \(kind.rawValue) key")
        }
        let built = try await collection.getKey(for: kid, alg: algorithm.rawValue)
        guard built.name == algorithm.rawValue else {
            throw KeyError("jwt-kit built \(built.name) where \(algorithm.rawValue) was asked for")
        }
        return built
    }

    /// The SHA-2 digest an RS, PS or HS algorithm names by its number.
    private static func digest(_ algorithm: SignatureAlgorithm) -> DigestAlgorithm {
        switch algorithm {
        case .rs384, .ps384, .hs384: return .sha384
        case .rs512, .ps512, .hs512: return .sha512
        default: return .sha256
        }
    }

    /// One verification key per algorithm in `allowed` that fits this key's kind (only `boundTo`, when the key was
    /// published for one algorithm), all under `kid`.
    public func verificationKeys(
        kid: String?, boundTo: SignatureAlgorithm?, allowed: Set<SignatureAlgorithm>
    ) async throws -> [VerificationKey] {
        var keys = [VerificationKey]()
        for algorithm in SignatureAlgorithm.allCases
        where allowed.contains(algorithm) && algorithm.keyKind == kind && (boundTo == nil || boundTo == algorithm) {
            keys.append(try await verificationKey(kid: kid, algorithm: algorithm))
        }
        return keys
    }

    /// The verification key for `algorithm`, published under `kid`.
    public func verificationKey(kid: String?, algorithm: SignatureAlgorithm) async throws -> VerificationKey {
        VerificationKey(kid: kid, algorithm: algorithm, verifier: try await jwtAlgorithm(for: algorithm))
    }
}

/// A problem with key material, worded for `routes.yaml` diagnostics.
public struct KeyError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let description: String

    /// Creates a key error.
    public init(_ description: String) { self.description = description }
}
