import GatehouseKeys
import GatehousePolicy
import Testing

/// Key material as the policy tests rely on it: typed, and fit for every algorithm of its kind.
struct KeyMaterialTests {
    @Test("a generated HMAC secret is long enough for every HS algorithm (RFC 7518 §3.2: at least the hash size)")
    func generatedHMACLength() throws {
        guard case .hmac(_, let byteCount) = try KeyMaterial.generate(.hmac) else {
            Issue.record("expected an HMAC secret")
            return
        }
        // HS512 needs 64 bytes; jwt-kit asserts this in debug builds ("will become a precondition").
        #expect(byteCount >= 64)
    }

    @Test(
        "generated keys have the kind asked for and can sign",
        arguments: [SignatureAlgorithm.KeyKind.p256, .p384, .ed25519, .hmac])
    func generatedKinds(kind: SignatureAlgorithm.KeyKind) throws {
        let material = try KeyMaterial.generate(kind)
        #expect(material.kind == kind)
        #expect(material.canSign)
    }

    @Test("a public key cannot mint tokens")
    func publicKeyCannotSign() async throws {
        guard case .rsaPrivate(let key) = TestKeyMaterial.rsa else {
            Issue.record("expected an RSA private key")
            return
        }
        let publicOnly = KeyMaterial.rsaPublic(key.publicKey)
        #expect(!publicOnly.canSign)
        await #expect(throws: KeyError.self) { try await TokenMinter(key: publicOnly, algorithm: .rs256, kid: nil) }
    }
}
