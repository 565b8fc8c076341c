import Foundation
import GatehouseKeys
import GatehousePolicy
import Testing

/// Tokens forged the ways attackers forge them, each refused with its reason; honest tokens of every algorithm
/// family accepted. All dates are relative to the injected `testNow`.
struct TokenVerifierTests {
    // MARK: honest tokens

    @Test("an honest token of every supported algorithm verifies", arguments: SignatureAlgorithm.allCases)
    func everyAlgorithmVerifies(algorithm: SignatureAlgorithm) async throws {
        let fixture = try await IssuerFixture.make(algorithm: algorithm)
        let token = try fixture.mint(["roles": .array([.string("admin")]), "scope": .string("a b")])
        let verified = try fixture.verifier.verify(Substring(token), keys: fixture.keys, now: testNow)
        #expect(verified.issuer == IssuerFixture.defaultIssuer)
        #expect(verified.subject == "alice")
        #expect(verified.roles == ["admin"])
        #expect(verified.scopes == ["a", "b"])
        #expect(verified.expiresAt == testNow + 300)
    }

    @Test("a token signed by another key of the same type is refused", arguments: SignatureAlgorithm.allCases)
    func foreignKeyRefused(algorithm: SignatureAlgorithm) async throws {
        let fixture = try await IssuerFixture.make(algorithm: algorithm)
        let stranger: KeyMaterial
        switch algorithm.keyKind {
        case .hmac: stranger = TestKeyMaterial.hmacOther
        case .p256: stranger = TestKeyMaterial.p256Other
        case .rsa: stranger = TestKeyMaterial.rsaOther
        default: stranger = try KeyMaterial.generate(algorithm.keyKind)
        }
        let forger = try await TokenMinter(key: stranger, algorithm: algorithm, kid: nil)
        let token = try forger.mint(fixture.claims())
        #expect(fixture.outcome(token) == "signature_invalid")
    }

    // MARK: the token choosing its own verification

    @Test("alg none is refused in any casing", arguments: ["none", "None", "NONE", "nOnE"])
    func algNone(alg: String) async throws {
        let fixture = try await IssuerFixture.make()
        let payload = fixture.claimsText()
        #expect(fixture.outcome(Forge.compact(header: #"{"alg":"\#(alg)","typ":"JWT"}"#, payload: payload)) == "algorithm_not_allowed")
        // With a signature copied from an honest token, too.
        let honest = Forge.parts(try fixture.mint())
        let withSignature = Forge.compact(header: #"{"alg":"\#(alg)"}"#, payload: payload) + honest[2]
        #expect(fixture.outcome(withSignature) == "algorithm_not_allowed")
    }

    @Test("RS256 to HS256 key confusion: an HMAC signed with the RSA public key's PEM is refused")
    func rsaHmacKeyConfusion() async throws {
        guard case .rsaPrivate(let privateKey) = TestKeyMaterial.rsa else {
            Issue.record("expected an RSA private key")
            return
        }
        let publicPEM = privateKey.publicKey.pemRepresentation
        // The attacker knows the public key and signs with its PEM text (and DER-ish variants) as an HMAC secret.
        for secret in [publicPEM, publicPEM + "\n", publicPEM.trimmingCharacters(in: .whitespacesAndNewlines)] {
            let hmac = try KeyFiles.readSecret(env: "PEM", environment: ["PEM": secret])
            let forger = try await TokenMinter(key: hmac, algorithm: .hs256, kid: nil)

            // The issuer allows RS256 only.
            let fixture = try await IssuerFixture.make(algorithm: .rs256, material: TestKeyMaterial.rsa)
            #expect(fixture.outcome(try forger.mint(fixture.claims())) == "algorithm_not_allowed")

            // Even an issuer that (wrongly) allows both families holds no HMAC key: the RSA key never becomes one.
            let lax = try await IssuerFixture.make(
                algorithm: .rs256, allowed: [.rs256, .hs256], material: TestKeyMaterial.rsa)
            #expect(lax.outcome(try forger.mint(lax.claims())) == "key_unknown")
        }
    }

    @Test(
        "a key can only be bound to an algorithm of its own kind",
        arguments: [
            (SignatureAlgorithm.KeyKind.rsa, SignatureAlgorithm.hs256),
            (.rsa, .es256),
            (.p256, .es384),
            (.p256, .hs256),
            (.ed25519, .es256),
            (.hmac, .rs256),
            (.p384, .eddsa),
        ])
    func keyKindMismatch(kind: SignatureAlgorithm.KeyKind, algorithm: SignatureAlgorithm) async throws {
        let material: KeyMaterial
        switch kind {
        case .rsa: material = TestKeyMaterial.rsa
        case .p256: material = TestKeyMaterial.p256
        case .p384: material = TestKeyMaterial.p384
        case .ed25519: material = TestKeyMaterial.ed25519
        case .hmac: material = TestKeyMaterial.hmac
        }
        let error = await #expect(throws: KeyError.self) { try await material.verificationKey(kid: nil, algorithm: algorithm) }
        // Refused for the key kind, not for anything else that could go wrong building the key.
        #expect(error?.description.contains("needs a \(algorithm.keyKind.rawValue) key") == true)
    }

    @Test("an algorithm outside the issuer's allow-list is refused even when the key could verify it")
    func algorithmNotInAllowList() async throws {
        let fixture = try await IssuerFixture.make(algorithm: .rs256, material: TestKeyMaterial.rsa)
        let ps256 = try await TokenMinter(key: TestKeyMaterial.rsa, algorithm: .ps256, kid: nil)
        #expect(fixture.outcome(try ps256.mint(fixture.claims())) == "algorithm_not_allowed")
        let rs512 = try await TokenMinter(key: TestKeyMaterial.rsa, algorithm: .rs512, kid: nil)
        #expect(fixture.outcome(try rs512.mint(fixture.claims())) == "algorithm_not_allowed")
    }

    @Test("a key bound to one algorithm never verifies another of the same family")
    func keyBoundToAlgorithm() async throws {
        // The issuer allows RS256 and PS256, but its only key is published for PS256 (a JWKS entry with alg PS256).
        let issuer = IssuerFixture.defaultIssuer
        let policy = IssuerPolicy(issuer: issuer, audiences: [IssuerFixture.defaultAudience], algorithms: [.rs256, .ps256])
        let keys = KeySet(keysByIssuer: [issuer: [try await TestKeyMaterial.rsa.verificationKey(kid: "k", algorithm: .ps256)]])
        let verifier = TokenVerifier(issuers: [policy])
        let helper = try await IssuerFixture.make()
        func outcome(_ algorithm: SignatureAlgorithm) async throws -> String {
            let minter = try await TokenMinter(key: TestKeyMaterial.rsa, algorithm: algorithm, kid: "k")
            let token = try minter.mint(helper.claims())
            do {
                _ = try verifier.verify(Substring(token), keys: keys, now: testNow)
                return "accepted"
            } catch {
                return error.reason.label
            }
        }
        #expect(try await outcome(.ps256) == "accepted")
        #expect(try await outcome(.rs256) == "key_unknown")
    }

    @Test("a missing or non-string alg is malformed", arguments: [#"{"typ":"JWT"}"#, #"{"alg":256}"#, #"{"alg":null}"#])
    func missingAlg(header: String) async throws {
        let fixture = try await IssuerFixture.make()
        let token = try await Forge.signed(header: header, payload: fixture.claimsText(), material: fixture.material, algorithm: .es256)
        #expect(fixture.outcome(token) == "token_malformed")
    }

    @Test(
        "a header that carries or points at a key is refused, even on an otherwise valid token",
        arguments: ["jwk", "jku", "x5u", "x5c"])
    func embeddedKey(name: String) async throws {
        let fixture = try await IssuerFixture.make()
        let value: JSONValue =
            switch name {
            case "jwk": .object(["kty": .string("oct"), "k": .string("c2VjcmV0")])
            case "x5c": .array([.string("MIIB")])
            default: .string("https://attacker.example/keys.json")
            }
        let token = try fixture.mint(header: [name: value])
        #expect(fixture.outcome(token) == "embedded_key_refused")
    }

    @Test("crit is refused")
    func crit() async throws {
        let fixture = try await IssuerFixture.make()
        #expect(fixture.outcome(try fixture.mint(header: ["crit": .array([.string("exp")]), "exp": .number(1)])) == "crit_unsupported")
        #expect(fixture.outcome(try fixture.mint(header: ["crit": .array([])])) == "crit_unsupported")
    }

    // MARK: signature

    @Test("a stripped or altered signature is refused")
    func strippedSignature() async throws {
        let fixture = try await IssuerFixture.make(algorithm: .rs256, material: TestKeyMaterial.rsa)
        let parts = Forge.parts(try fixture.mint())
        #expect(fixture.outcome(parts[0] + "." + parts[1] + ".") == "signature_invalid")
        // A payload changed under the original signature.
        let elevated = Base64URL.encode(Array(fixture.claimsText(["roles": .array([.string("admin")])]).utf8))
        #expect(fixture.outcome(parts[0] + "." + elevated + "." + parts[2]) == "signature_invalid")
        // A signature one bit off.
        var signature = try #require(Base64URL.decode(Array(parts[2].utf8)))
        signature[0] ^= 1
        #expect(fixture.outcome(parts[0] + "." + parts[1] + "." + Base64URL.encode(signature)) == "signature_invalid")
        // A truncated signature.
        #expect(fixture.outcome(parts[0] + "." + parts[1] + "." + Base64URL.encode(signature.prefix(32))) == "signature_invalid")
    }

    @Test(
        "tokens of the wrong shape are malformed",
        arguments: ["", "a", "a.b", "a.b.c.d", "a.b.c.d.e", "..", "....", ".", "eyJhbGciOiJIUzI1NiJ9..sig"])
    func wrongShape(token: String) async throws {
        let fixture = try await IssuerFixture.make()
        #expect(fixture.outcome(token) == "token_malformed")
    }

    @Test("a JWE-shaped token (five parts) is refused even when its first parts would verify")
    func jwe() async throws {
        let fixture = try await IssuerFixture.make()
        let honest = try fixture.mint()
        #expect(fixture.outcome(honest + ".AAAA.BBBB") == "token_malformed")
        let jweHeader = Base64URL.encode(Array(#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#.utf8))
        #expect(fixture.outcome(jweHeader + ".a2V5.aXY.Y2lwaGVy.dGFn") == "token_malformed")
    }

    // MARK: kid

    @Test(
        "kid selects among the issuer's keys; an unknown kid never falls back to another key",
        arguments: [
            ("k2", "k2", "accepted"),
            ("k1", "k1", "accepted"),
            // Signed by k2 but claiming k1: k1 is tried and fails.
            ("k2", "k1", "signature_invalid"),
            ("k1", "k3", "key_unknown"),
            ("k1", nil, "key_unknown"),
        ] as [(String, String?, String)])
    func kidSelection(signer: String, headerKid: String?, expected: String) async throws {
        let issuer = IssuerFixture.defaultIssuer
        let policy = IssuerPolicy(issuer: issuer, audiences: [IssuerFixture.defaultAudience], algorithms: [.es256])
        let keys = KeySet(keysByIssuer: [
            issuer: [
                try await TestKeyMaterial.p256.verificationKey(kid: "k1", algorithm: .es256),
                try await TestKeyMaterial.p256Other.verificationKey(kid: "k2", algorithm: .es256),
            ]
        ])
        let material = signer == "k1" ? TestKeyMaterial.p256 : TestKeyMaterial.p256Other
        let minter = try await TokenMinter(key: material, algorithm: .es256, kid: headerKid)
        let helper = try await IssuerFixture.make()
        let token = try minter.mint(helper.claims())
        let verifier = TokenVerifier(issuers: [policy])
        let outcome: String
        do {
            _ = try verifier.verify(Substring(token), keys: keys, now: testNow)
            outcome = "accepted"
        } catch {
            outcome = error.reason.label
        }
        #expect(outcome == expected)
    }

    @Test("a kid on a token for an issuer whose only key has no kid still verifies with that key")
    func kidWithUnnamedKey() async throws {
        let fixture = try await IssuerFixture.make(kid: nil)
        let minter = try await TokenMinter(key: fixture.material, algorithm: .es256, kid: "anything")
        #expect(fixture.outcome(try minter.mint(fixture.claims())) == "accepted")
    }

    @Test("a non-string kid is malformed")
    func kidNotString() async throws {
        let fixture = try await IssuerFixture.make()
        #expect(fixture.outcome(try fixture.mint(header: ["kid": .number(1)])) == "token_malformed")
    }

    // MARK: registered claims

    @Test(
        "exp, nbf and iat are checked against now with the leeway (30 s)",
        arguments: [
            ("expired beyond leeway", ["exp": testNow - 31, "iat": testNow - 600], "token_expired"),
            ("expired an hour ago", ["exp": testNow - 3600, "iat": testNow - 3900], "token_expired"),
            ("expired within leeway", ["exp": testNow - 29, "iat": testNow - 600], "accepted"),
            ("expires now", ["exp": testNow], "accepted"),
            ("nbf beyond leeway", ["nbf": testNow + 31], "token_not_yet_valid"),
            ("nbf within leeway", ["nbf": testNow + 29], "accepted"),
            ("nbf past", ["nbf": testNow - 60], "accepted"),
            ("iat beyond leeway", ["iat": testNow + 31], "issued_in_future"),
            ("iat far future", ["iat": testNow + 86_400, "exp": testNow + 90_000], "issued_in_future"),
            ("iat within leeway", ["iat": testNow + 29], "accepted"),
            ("fractional exp", ["exp": testNow + 0.5], "accepted"),
        ] as [(String, [String: Double], String)])
    func dates(name: String, dates: [String: Double], expected: String) async throws {
        let fixture = try await IssuerFixture.make()
        let token = try fixture.mint(dates.mapValues { .number($0) })
        #expect(fixture.outcome(token) == expected, "\(name)")
    }

    @Test("leeway is the issuer's: with no leeway, one second late is expired")
    func zeroLeeway() async throws {
        let fixture = try await IssuerFixture.make(leeway: 0)
        #expect(fixture.outcome(try fixture.mint(["exp": .number(testNow - 1), "iat": .number(testNow - 60)])) == "token_expired")
        #expect(fixture.outcome(try fixture.mint(["nbf": .number(testNow + 1)])) == "token_not_yet_valid")
    }

    @Test("a token accepted now is refused once its exp (plus leeway) has passed")
    func expiresWithTime() async throws {
        let fixture = try await IssuerFixture.make()
        let token = try fixture.mint()
        #expect(fixture.outcome(token, at: testNow) == "accepted")
        #expect(fixture.outcome(token, at: testNow + 300 + 30) == "accepted")
        #expect(fixture.outcome(token, at: testNow + 300 + 31) == "token_expired")
        // Before it was issued (beyond leeway), it is refused too.
        #expect(fixture.outcome(token, at: testNow - 31) == "issued_in_future")
    }

    @Test("exp is required")
    func expMissing() async throws {
        let fixture = try await IssuerFixture.make()
        #expect(fixture.outcome(try fixture.mint(removing: ["exp"])) == "exp_missing")
    }

    @Test(
        "dates that are not finite, reasonable numbers are malformed, never a crash",
        arguments: [
            #""exp":"9999999999""#,
            #""exp":1e400"#,
            #""exp":-1e400"#,
            #""exp":1e300"#,
            #""exp":18446744073709551616"#,
            #""exp":9223372036854775807"#,
            #""exp":-9223372036854775809"#,
            #""exp":true"#,
            #""exp":null"#,
            #""exp":[1]"#,
            #""exp":{"v":1}"#,
            #""nbf":1e400"#,
            #""iat":"0""#,
            #""iat":-1e400"#,
        ])
    func hostileDates(member: String) async throws {
        let fixture = try await IssuerFixture.make()
        let name = String(member.dropFirst().prefix { $0 != "\"" })
        // Honest claims without the date under test, then the hostile member spliced in as raw JSON.
        var payload = fixture.claimsText(removing: [name])
        payload.removeLast()
        payload += "," + member + "}"
        let token = try await Forge.signed(header: #"{"alg":"ES256"}"#, payload: payload, material: fixture.material, algorithm: .es256)
        #expect(fixture.outcome(token) == "token_malformed")
    }

    @Test(
        "max_lifetime refuses long-lived tokens and tokens without iat",
        arguments: [
            ("lifetime exceeded", ["iat": testNow, "exp": testNow + 3601], [], "lifetime_too_long"),
            ("lifetime exactly the limit", ["iat": testNow, "exp": testNow + 3600], [], "accepted"),
            ("short lived", ["iat": testNow, "exp": testNow + 300], [], "accepted"),
            ("no iat", ["exp": testNow + 300], ["iat"], "lifetime_too_long"),
        ] as [(String, [String: Double], [String], String)])
    func maxLifetime(name: String, dates: [String: Double], removing: [String], expected: String) async throws {
        let fixture = try await IssuerFixture.make(maxLifetime: 3600)
        let token = try fixture.mint(dates.mapValues { .number($0) }, removing: removing)
        #expect(fixture.outcome(token) == expected, "\(name)")
    }

    @Test("without max_lifetime, a token without iat is accepted")
    func noMaxLifetimeNoIat() async throws {
        let fixture = try await IssuerFixture.make()
        #expect(fixture.outcome(try fixture.mint(removing: ["iat"])) == "accepted")
    }

    @Test(
        "iss must be exactly a configured issuer",
        arguments: [
            JSONValue.string("https://evil.example/"),
            .string("https://id.example.test"),
            .string("https://ID.example.test/"),
            .string("https://id.example.test/ "),
            .number(1),
            .array([.string("https://id.example.test/")]),
            .null,
        ])
    func wrongIssuer(iss: JSONValue) async throws {
        let fixture = try await IssuerFixture.make()
        #expect(fixture.outcome(try fixture.mint(["iss": iss])) == "issuer_unknown")
    }

    @Test("a token without iss is refused")
    func missingIssuer() async throws {
        let fixture = try await IssuerFixture.make()
        #expect(fixture.outcome(try fixture.mint(removing: ["iss"])) == "issuer_unknown")
    }

    @Test(
        "aud must contain one of the configured audiences, as a string or in an array",
        arguments: [
            ("string, right", JSONValue.string("orders-api"), "accepted"),
            ("string, wrong", .string("billing-api"), "audience_mismatch"),
            ("string, prefix", .string("orders-api-v2"), "audience_mismatch"),
            ("string, case", .string("Orders-API"), "audience_mismatch"),
            ("array containing it", .array([.string("billing-api"), .string("orders-api")]), "accepted"),
            ("array without it", .array([.string("billing-api"), .string("other")]), "audience_mismatch"),
            ("empty array", .array([]), "audience_mismatch"),
            ("array of a nested array", .array([.array([.string("orders-api")])]), "audience_mismatch"),
            ("number", .number(1), "audience_mismatch"),
            ("object", .object(["orders-api": .bool(true)]), "audience_mismatch"),
            ("space separated", .string("billing-api orders-api"), "audience_mismatch"),
        ] as [(String, JSONValue, String)])
    func audience(name: String, aud: JSONValue, expected: String) async throws {
        let fixture = try await IssuerFixture.make()
        #expect(fixture.outcome(try fixture.mint(["aud": aud])) == expected, "\(name)")
    }

    @Test("a token without aud is refused unless the issuer accepts any audience")
    func missingAudience() async throws {
        let strict = try await IssuerFixture.make()
        #expect(strict.outcome(try strict.mint(removing: ["aud"])) == "audience_mismatch")
        let any = try await IssuerFixture.make(audiences: nil)
        #expect(any.outcome(try any.mint(removing: ["aud"])) == "accepted")
        #expect(any.outcome(try any.mint(["aud": .string("anything")])) == "accepted")
    }

    @Test("any of several configured audiences is accepted")
    func severalAudiences() async throws {
        let fixture = try await IssuerFixture.make(audiences: ["a", "b"])
        #expect(fixture.outcome(try fixture.mint(["aud": .string("b")])) == "accepted")
        #expect(fixture.outcome(try fixture.mint(["aud": .string("c")])) == "audience_mismatch")
    }

    // MARK: exact comparison

    @Test("iss, aud and kid are compared byte for byte, not by Unicode canonical equivalence")
    func canonicallyEquivalentIdentities() async throws {
        let precomposed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(precomposed == decomposed)  // Swift's == would let one stand for the other.

        let issuer = try await IssuerFixture.make(issuer: "https://id.example.test/\(precomposed)/")
        #expect(issuer.outcome(try issuer.mint()) == "accepted")
        #expect(issuer.outcome(try issuer.mint(["iss": .string("https://id.example.test/\(decomposed)/")])) == "issuer_unknown")

        let audience = try await IssuerFixture.make(audiences: [precomposed])
        #expect(audience.outcome(try audience.mint(["aud": .string(precomposed)])) == "accepted")
        #expect(audience.outcome(try audience.mint(["aud": .string(decomposed)])) == "audience_mismatch")

        let kid = try await IssuerFixture.make(kid: precomposed)
        #expect(kid.outcome(try kid.mint()) == "accepted")
        let other = try await TokenMinter(key: kid.material, algorithm: .es256, kid: decomposed)
        #expect(kid.outcome(try other.mint(kid.claims())) == "key_unknown")
    }

    // MARK: bounded parsing

    @Test("tokens larger than maxTokenBytes are refused before parsing")
    func tooLarge() async throws {
        let fixture = try await IssuerFixture.make()
        #expect(fixture.outcome(String(repeating: "a", count: 8193)) == "token_too_large")
        #expect(fixture.outcome(String(repeating: "a", count: 1_000_000)) == "token_too_large")
        let padded = try fixture.mint(["pad": .string(String(repeating: "x", count: 9000))])
        #expect(fixture.outcome(padded) == "token_too_large")
        let small = try await IssuerFixture.make(maxTokenBytes: 100)
        let honest = try small.mint()
        #expect(honest.utf8.count > 100)
        #expect(small.outcome(honest) == "token_too_large")
    }

    @Test("a token just under maxTokenBytes is verified")
    func justUnderLimit() async throws {
        let fixture = try await IssuerFixture.make()
        let token = try fixture.mint(["pad": .string(String(repeating: "x", count: 5000))])
        #expect(token.utf8.count <= 8192)
        #expect(fixture.outcome(token) == "accepted")
    }

    @Test("deeply nested claims are malformed, never a stack overflow")
    func deepClaims() async throws {
        let fixture = try await IssuerFixture.make()
        var payload = fixture.claimsText()
        payload.removeLast()
        payload += #","deep":"# + String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000) + "}"
        let token = try await Forge.signed(header: #"{"alg":"ES256"}"#, payload: payload, material: fixture.material, algorithm: .es256)
        #expect(fixture.outcome(token) == "token_malformed")
    }

    @Test("duplicate JSON keys in the payload are refused, even under a valid signature")
    func duplicatePayloadKeys() async throws {
        let fixture = try await IssuerFixture.make()
        for duplicate in [#""sub":"admin""#, #""roles":["admin"],"roles":[]"#, #""iss":"https://evil.example/""#, #""exp":1"#] {
            var payload = fixture.claimsText(["roles": .array([])])
            payload.removeLast()
            payload += "," + duplicate + "}"
            let token = try await Forge.signed(header: #"{"alg":"ES256"}"#, payload: payload, material: fixture.material, algorithm: .es256)
            #expect(fixture.outcome(token) == "token_malformed", "\(duplicate)")
        }
    }

    @Test(
        "duplicate JSON keys in the header are refused, even under a valid signature",
        arguments: [#"{"alg":"ES256","alg":"ES256"}"#, #"{"alg":"ES256","kid":"a","kid":"b"}"#, #"{"alg":"none","alg":"ES256"}"#])
    func duplicateHeaderKeys(header: String) async throws {
        let fixture = try await IssuerFixture.make()
        let token = try await Forge.signed(header: header, payload: fixture.claimsText(), material: fixture.material, algorithm: .es256)
        #expect(fixture.outcome(token) == "token_malformed")
    }

    @Test("header and payload must be JSON objects", arguments: ["[]", "\"x\"", "1", "null", "{"])
    func notObjects(json: String) async throws {
        let fixture = try await IssuerFixture.make()
        let badHeader = try await Forge.signed(header: json, payload: fixture.claimsText(), material: fixture.material, algorithm: .es256)
        #expect(fixture.outcome(badHeader) == "token_malformed")
        let badPayload = try await Forge.signed(header: #"{"alg":"ES256"}"#, payload: json, material: fixture.material, algorithm: .es256)
        #expect(fixture.outcome(badPayload) == "token_malformed")
    }

    // MARK: canonical base64url

    @Test(
        "a second spelling of an honest token is refused",
        arguments: ["padding", "trailing bits", "standard alphabet", "whitespace"])
    func nonCanonicalBase64(variant: String) async throws {
        // RS256 signatures are 256 bytes: 342 characters with 4 unused trailing bits.
        let fixture = try await IssuerFixture.make(algorithm: .rs256, material: TestKeyMaterial.rsa)
        let token = try fixture.mint()
        #expect(fixture.outcome(token) == "accepted")
        var parts = Forge.parts(token)
        switch variant {
        case "padding":
            parts[2] += "=="
        case "trailing bits":
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            let last = try #require(parts[2].last)
            let value = try #require(alphabet.firstIndex(of: last))
            #expect(value & 0xF == 0)
            parts[2] = String(parts[2].dropLast()) + String(alphabet[value | 1])
            // A lenient decoder would read the very same bytes; the strict one refuses the second spelling.
            #expect(Base64URL.decode(Array(parts[2].utf8)) == nil)
        case "standard alphabet":
            let signature = parts[2]
            let index = try #require(signature.firstIndex { $0 == "-" || $0 == "_" })
            let replacement: Character = signature[index] == "-" ? "+" : "/"
            parts[2] = signature.replacingCharacters(in: index...index, with: String(replacement))
        default:
            parts[1] = String(parts[1].prefix(8)) + " " + String(parts[1].dropFirst(8))
        }
        #expect(fixture.outcome(parts.joined(separator: ".")) == "token_malformed", "\(variant)")
    }

    @Test("a padded header or payload is refused")
    func paddedHeader() async throws {
        let fixture = try await IssuerFixture.make()
        let parts = Forge.parts(try fixture.mint())
        #expect(fixture.outcome(parts[0] + "=." + parts[1] + "." + parts[2]) == "token_malformed")
        #expect(fixture.outcome(parts[0] + "." + parts[1] + "=." + parts[2]) == "token_malformed")
    }
}
