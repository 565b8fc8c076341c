import FoundationEssentials
public import GatehousePolicy
import JWTKit

/// Reads keys from the files and environment variables that `routes.yaml` names.
public enum KeyFiles {
    /// Reads a PEM file holding one public key (RSA, EC P-256/P-384 or Ed25519), a certificate, or a private key
    /// (whose public half is used).
    public static func readPEM(at path: String) throws -> KeyMaterial {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KeyError("cannot read PEM file \(path)")
        }
        if let key = parsePEM(text) { return key }
        throw KeyError("\(path) holds no RSA (2048 bits or more), EC P-256/P-384 or Ed25519 key in PEM form")
    }

    /// Parses PEM text; `nil` when no supported key is in it.
    public static func parsePEM(_ text: String) -> KeyMaterial? {
        if text.contains("CERTIFICATE") {
            if let key = try? JWTKit.Insecure.RSA.PublicKey(certificatePEM: text) { return .rsaPublic(key) }
            if let key = try? ES256PublicKey(certificate: text) { return .p256Public(key) }
            if let key = try? ES384PublicKey(certificate: text) { return .p384Public(key) }
            return nil
        }
        if text.contains("PRIVATE KEY") {
            if let key = try? JWTKit.Insecure.RSA.PrivateKey(pem: text) { return .rsaPrivate(key) }
            if let key = try? ES256PrivateKey(pem: text) { return .p256Private(key) }
            if let key = try? ES384PrivateKey(pem: text) { return .p384Private(key) }
            if let key = try? EdDSA.PrivateKey(pem: text) { return .ed25519Private(key) }
            return nil
        }
        if let key = try? JWTKit.Insecure.RSA.PublicKey(pem: text) { return .rsaPublic(key) }
        if let key = try? ES256PublicKey(pem: text) { return .p256Public(key) }
        if let key = try? ES384PublicKey(pem: text) { return .p384Public(key) }
        if let key = try? EdDSA.PublicKey(pem: text) { return .ed25519Public(key) }
        return nil
    }

    /// Reads an HMAC secret from the environment variable `name`.
    public static func readSecret(env name: String, environment: [String: String]) throws -> KeyMaterial {
        guard let value = environment[name], !value.isEmpty else {
            throw KeyError("environment variable \(name) (the HMAC secret) is not set")
        }
        return .hmac(HMACKey(from: value), byteCount: value.utf8.count)
    }

    /// One key of a JWKS, with what it was published as.
    public struct JWKSKey: Sendable {
        /// `kid`, if any.
        public let kid: String?
        /// `alg`, when the key names one: it is then bound to that algorithm only.
        public let algorithm: SignatureAlgorithm?
        /// The key.
        public let material: KeyMaterial
    }

    /// Decodes a JWKS document key by key: a key Gatehouse cannot use (symmetric, unknown type, `use` other than
    /// `sig`, an `alg` it does not support) is skipped with a note instead of failing the whole set.
    public static func parseJWKS(_ bytes: [UInt8]) throws -> (keys: [JWKSKey], skipped: [String]) {
        let document: JSONValue
        do {
            document = try StrictJSONParser.parse(bytes, maxDepth: 8)
        } catch {
            throw KeyError("not valid JSON (\(error))")
        }
        guard case .array(let entries)? = document["keys"] else {
            throw KeyError("a JWKS must be an object with a \"keys\" array")
        }
        var keys = [JWKSKey]()
        var skipped = [String]()
        for (index, entry) in entries.enumerated() {
            let kid = entry["kid"]?.stringValue
            let name = kid.map { "key '\($0)'" } ?? "key #\(index + 1)"
            if let use = entry["use"]?.stringValue, use != "sig" {
                skipped.append("\(name): use is '\(use)', not 'sig'")
                continue
            }
            var algorithm: SignatureAlgorithm? = nil
            if let alg = entry["alg"]?.stringValue {
                guard let known = SignatureAlgorithm(rawValue: alg) else {
                    skipped.append("\(name): algorithm '\(alg)' is not supported")
                    continue
                }
                algorithm = known
            }
            do {
                let material = try jwkMaterial(entry)
                if let algorithm, algorithm.keyKind != material.kind {
                    skipped.append("\(name): alg \(algorithm.rawValue) does not fit its \(material.kind.rawValue) key")
                    continue
                }
                keys.append(JWKSKey(kid: kid, algorithm: algorithm, material: material))
            } catch {
                skipped.append("\(name): \(error)")
            }
        }
        return (keys, skipped)
    }

    private static func jwkMaterial(_ entry: JSONValue) throws -> KeyMaterial {
        switch entry["kty"]?.stringValue {
        case "RSA":
            guard let n = entry["n"]?.stringValue, let e = entry["e"]?.stringValue else {
                throw KeyError("RSA key without n or e")
            }
            return .rsaPublic(try JWTKit.Insecure.RSA.PublicKey(modulus: n, exponent: e))
        case "EC":
            guard let x = entry["x"]?.stringValue, let y = entry["y"]?.stringValue else {
                throw KeyError("EC key without x or y")
            }
            switch entry["crv"]?.stringValue {
            case "P-256": return .p256Public(try ES256PublicKey(parameters: (x, y)))
            case "P-384": return .p384Public(try ES384PublicKey(parameters: (x, y)))
            default: throw KeyError("EC curve must be P-256 or P-384")
            }
        case "OKP":
            guard entry["crv"]?.stringValue == "Ed25519", let x = entry["x"]?.stringValue else {
                throw KeyError("OKP key must be Ed25519 with x")
            }
            return .ed25519Public(try EdDSA.PublicKey(x: x, curve: .ed25519))
        case "oct":
            throw KeyError("symmetric (oct) keys do not belong in a JWKS; use secret_env")
        default:
            throw KeyError("unsupported key type")
        }
    }
}
