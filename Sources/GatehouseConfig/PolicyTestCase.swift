public import GatehousePolicy

/// A policy test written under `tests:` in `routes.yaml`.
public struct PolicyTestCase: Sendable {
    /// The token a test presents.
    public enum TokenSpec: Sendable, Equatable {
        /// No `Authorization` header.
        case none
        /// A valid token with these claims (plus valid `iss`, `aud`, `iat` and `exp` unless given).
        case claims(JSONValue)
        /// A token that expired an hour ago.
        case expired
        /// A token minted for another audience.
        case wrongAudience
        /// A token whose signature does not verify.
        case badSignature
        /// An unsigned token (`alg: none`).
        case noneAlgorithm
        /// A raw `Authorization` header value, sent as written.
        case rawHeader(String)
    }

    /// The name shown in reports (defaults to the request).
    public let name: String
    /// The request method.
    public let method: String
    /// The raw request-target.
    public let target: String
    /// The token.
    public let token: TokenSpec
    /// The issuer to mint for; `nil` for the file's first issuer.
    public let issuer: String?
    /// The expected status (200 means allowed).
    public let expectedStatus: Int
    /// The expected route id, when given.
    public let expectedRoute: String?
    /// The expected reason label, when given.
    public let expectedReason: String?
    /// Extra request headers (sent by live runs; offline runs ignore all but `Authorization`).
    public let headers: [(name: String, value: String)]
    /// What the upstream must have received (checked by live runs only).
    public let expectedUpstream: UpstreamExpectation?
    /// Where the test is written.
    public let location: String

    /// What the upstream must have received for an allowed request.
    public struct UpstreamExpectation: Sendable {
        /// The request-target the upstream saw (normalised path and query).
        public let path: String?
        /// Header name → expected value; `nil` means the header must be absent.
        public let headers: [(name: String, value: String?)]
    }
}
