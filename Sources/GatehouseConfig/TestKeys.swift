public import GatehouseKeys
public import GatehousePolicy

/// Signing keys for minting tokens against a configuration: the configured private key or secret where the file
/// has one, otherwise a freshly generated key of the same kind swapped in for that issuer. Policy tests check the
/// policy, not the key material.
public struct TestKeys: Sendable {
    /// Verification keys matching the minters (use instead of the configuration's keys).
    public let keySet: KeySet
    /// One minter per issuer.
    public let minters: [String: TokenMinter]
    /// Minters whose signatures no issuer accepts, per issuer (for `bad_signature`).
    public let strangers: [String: TokenMinter]

    /// Prepares keys for every issuer of `configuration`.
    public static func make(for configuration: GatehouseConfiguration) async throws -> TestKeys {
        var keysByIssuer = [String: [VerificationKey]]()
        var minters = [String: TokenMinter]()
        var strangers = [String: TokenMinter]()
        for issuer in configuration.issuers {
            // A remote issuer has no keys before run time: stand in a key of its first allowed algorithm's kind.
            let first: IssuerConfiguration.Key
            if let configured = issuer.keys.first {
                first = configured
            } else if let algorithm = SignatureAlgorithm.preferred(for: nil, allowed: issuer.policy.algorithms) {
                first = IssuerConfiguration.Key(kid: "test", algorithm: algorithm, material: try KeyMaterial.generate(algorithm.keyKind))
            } else {
                continue
            }
            let algorithm =
                first.algorithm ?? SignatureAlgorithm.preferred(for: first.material.kind, allowed: issuer.policy.algorithms)
            guard let algorithm else { continue }
            let material = first.material.canSign ? first.material : try KeyMaterial.generate(first.material.kind)
            minters[issuer.policy.issuer] = try await TokenMinter(key: material, algorithm: algorithm, kid: first.kid)
            strangers[issuer.policy.issuer] = try await TokenMinter(
                key: try KeyMaterial.generate(first.material.kind), algorithm: algorithm, kid: first.kid)
            let swapped = IssuerConfiguration(
                policy: issuer.policy, keys: [IssuerConfiguration.Key(kid: first.kid, algorithm: algorithm, material: material)],
                sourceKind: "test")
            keysByIssuer[issuer.policy.issuer] = try await swapped.verificationKeys()
        }
        return TestKeys(keySet: KeySet(keysByIssuer: keysByIssuer, generation: .max), minters: minters, strangers: strangers)
    }

    /// Standard claims for `issuer` at `now`: `iss`, `aud`, `sub`, `iat`, `exp` (five minutes), overridden by `claims`.
    public static func claims(
        _ claims: [String: JSONValue], issuer: IssuerPolicy, now: Double, lifetime: Double = 300
    ) -> JSONValue {
        var members: [String: JSONValue] = [
            "iss": .string(issuer.issuer),
            "sub": .string("test-user"),
            "iat": .number(now.rounded(.down)),
            "exp": .number((now + lifetime).rounded(.down)),
        ]
        if let audience = issuer.audiences?.first { members["aud"] = .string(audience) }
        members.merge(claims) { _, given in given }
        return .object(members)
    }
}
