public import GatehousePolicy
import JWTKit

/// Signs tokens: for `gatehouse token`, the policy tests and the demo. Never used to verify.
public struct TokenMinter: Sendable {
    /// The algorithm in the header.
    public let algorithm: SignatureAlgorithm
    /// The `kid` in the header, if any.
    public let kid: String?
    private let signer: any JWTAlgorithm

    /// Creates a minter from a signing key.
    public init(key: KeyMaterial, algorithm: SignatureAlgorithm, kid: String?) async throws {
        guard key.canSign else { throw KeyError("a public key cannot sign tokens") }
        self.algorithm = algorithm
        self.kid = kid
        self.signer = try await key.jwtAlgorithm(for: algorithm)
    }

    /// Signs `claims` (a JSON object) into a compact JWS.
    public func mint(_ claims: JSONValue, extraHeader: [String: JSONValue] = [:]) throws -> String {
        var header: [String: JSONValue] = ["alg": .string(algorithm.rawValue), "typ": .string("JWT")]
        if let kid { header["kid"] = .string(kid) }
        header.merge(extraHeader) { _, new in new }
        let input = Base64URL.encode(Array(JSONValue.object(header).jsonText.utf8)) + "."
            + Base64URL.encode(Array(claims.jsonText.utf8))
        let signature = try signer.sign(Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }
}
