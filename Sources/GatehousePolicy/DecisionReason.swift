/// Why a request got its answer: a closed set whose ``label`` is what logs, metrics, `explain` and tests show.
public struct DecisionReason: Sendable, Hashable, CustomStringConvertible {
    private enum Code: String, Sendable, CaseIterable {
        // allowed
        case publicRoute = "public_route"
        case authorized = "authorized"
        // 400
        case pathUnsafe = "path_unsafe"
        // 403
        case routeDenied = "route_denied"
        case noRouteMatched = "no_route_matched"
        case missingRole = "missing_role"
        case missingScope = "missing_scope"
        case claimMismatch = "claim_mismatch"
        // 401, no credential
        case tokenMissing = "token_missing"
        // 401, invalid credential
        case credentialsMalformed = "credentials_malformed"
        case tokenTooLarge = "token_too_large"
        case tokenMalformed = "token_malformed"
        case algorithmNotAllowed = "algorithm_not_allowed"
        case embeddedKeyRefused = "embedded_key_refused"
        case critUnsupported = "crit_unsupported"
        case issuerUnknown = "issuer_unknown"
        case keyUnknown = "key_unknown"
        case signatureInvalid = "signature_invalid"
        case expMissing = "exp_missing"
        case tokenExpired = "token_expired"
        case tokenNotYetValid = "token_not_yet_valid"
        case issuedInFuture = "issued_in_future"
        case lifetimeTooLong = "lifetime_too_long"
        case audienceMismatch = "audience_mismatch"
        case claimInvalid = "claim_invalid"
        // 503
        case keysUnavailable = "keys_unavailable"
    }

    private let code: Code
    private init(_ code: Code) { self.code = code }

    /// The stable label, e.g. `token_expired`.
    public var label: String { code.rawValue }
    public var description: String { code.rawValue }

    /// Every reason's label.
    public static var allLabels: [String] { Code.allCases.map(\.rawValue) }

    public static let publicRoute = DecisionReason(.publicRoute)
    public static let authorized = DecisionReason(.authorized)
    public static let pathUnsafe = DecisionReason(.pathUnsafe)
    public static let routeDenied = DecisionReason(.routeDenied)
    public static let noRouteMatched = DecisionReason(.noRouteMatched)
    public static let missingRole = DecisionReason(.missingRole)
    public static let missingScope = DecisionReason(.missingScope)
    public static let claimMismatch = DecisionReason(.claimMismatch)
    public static let tokenMissing = DecisionReason(.tokenMissing)
    public static let credentialsMalformed = DecisionReason(.credentialsMalformed)
    public static let tokenTooLarge = DecisionReason(.tokenTooLarge)
    public static let tokenMalformed = DecisionReason(.tokenMalformed)
    public static let algorithmNotAllowed = DecisionReason(.algorithmNotAllowed)
    public static let embeddedKeyRefused = DecisionReason(.embeddedKeyRefused)
    public static let critUnsupported = DecisionReason(.critUnsupported)
    public static let issuerUnknown = DecisionReason(.issuerUnknown)
    public static let keyUnknown = DecisionReason(.keyUnknown)
    public static let signatureInvalid = DecisionReason(.signatureInvalid)
    public static let expMissing = DecisionReason(.expMissing)
    public static let tokenExpired = DecisionReason(.tokenExpired)
    public static let tokenNotYetValid = DecisionReason(.tokenNotYetValid)
    public static let issuedInFuture = DecisionReason(.issuedInFuture)
    public static let lifetimeTooLong = DecisionReason(.lifetimeTooLong)
    public static let audienceMismatch = DecisionReason(.audienceMismatch)
    public static let claimInvalid = DecisionReason(.claimInvalid)
    public static let keysUnavailable = DecisionReason(.keysUnavailable)
}

/// Why a token was refused: a ``DecisionReason`` (answered with 401 `invalid_token`, or 503 while an issuer has no
/// keys yet) and a description safe to send to the client (it never echoes the token).
public struct TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason label.
    public let reason: DecisionReason
    /// The `error_description`.
    public let detail: String
    /// For `key_unknown` and `keys_unavailable`: the issuer and `kid` the token named, so that a key source can
    /// refetch.
    public let issuer: String?
    public let kid: String?

    init(_ reason: DecisionReason, _ detail: String, issuer: String? = nil, kid: String? = nil) {
        self.reason = reason
        self.detail = detail
        self.issuer = issuer
        self.kid = kid
    }

    public var description: String { "\(reason.label): \(detail)" }
}
