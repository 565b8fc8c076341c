/// Everything a request is judged by: the compiled routes, the default, the token rules and the identity headers.
///
/// ``decide(method:target:credential:keys:now:trace:)`` is the one decision function: the proxy, `explain` and
/// `test` all call it. It is pure apart from the token cache, which can only save work, never change an answer.
///
/// A class: every request reaches it through the configuration in force, and a shared instance is not copied field
/// by field on the way.
public final class Policy: Sendable {
    /// The compiled routes.
    public let routes: RouteTable
    /// What unmatched requests get. Default `deny`.
    public let defaultAccess: Access
    /// The token rules.
    public let verifier: TokenVerifier
    /// The headers sent upstream for authenticated requests.
    public let identityHeaders: [IdentityHeader]
    /// Verified tokens, reused until their `exp`.
    public let cache: TokenCache

    /// Creates a policy.
    public init(
        routes: RouteTable, defaultAccess: Access = .deny, verifier: TokenVerifier,
        identityHeaders: [IdentityHeader] = IdentityHeader.defaults, cache: TokenCache = TokenCache()
    ) {
        self.routes = routes
        self.defaultAccess = defaultAccess
        self.verifier = verifier
        self.identityHeaders = identityHeaders
        self.cache = cache
    }

    /// The same policy with a cache of its own that keeps nothing: for judging test requests without touching the
    /// serving policy's cache.
    public func withoutCache() -> Policy {
        Policy(
            routes: routes, defaultAccess: defaultAccess, verifier: verifier, identityHeaders: identityHeaders,
            cache: TokenCache(capacity: 0))
    }

    /// What the request presents.
    public enum Credential: Sendable {
        /// The values of every `Authorization` header of the request.
        case authorization([Substring])
        /// Claims taken as if a valid token of `issuer` carried them (`explain --claims`); nothing is verified.
        case claims(JSONValue, issuer: String?)
    }

    /// Decides one request.
    ///
    /// - Parameters:
    ///   - method: The request method, upper case.
    ///   - target: The raw request-target.
    ///   - credential: The `Authorization` headers (or claims for `explain`).
    ///   - keys: The key snapshot in force.
    ///   - now: Seconds since 1970.
    ///   - trace: Receives every step when not `nil`.
    public func decide(
        method: String, target: String, credential: Credential, keys: KeySet, now: Double,
        trace: DecisionTrace? = nil
    ) -> Decision {
        let normalized: NormalizedTarget
        do {
            normalized = try PathNormalizer.normalize(target)
        } catch {
            trace?.record("path", false, "refused: \(error.detail) [\(error.label)]")
            return Decision(status: 400, reason: .pathUnsafe, detail: error.detail, route: nil, target: nil)
        }
        trace?.record("path", true, "normalised to \(normalized.path)")

        let segments = normalized.segments
        let match = routes.match(segments: segments, method: method)
        let access: Access
        if let match {
            trace?.record("route", true, "matched '\(match.route.id)' (\(match.route.pattern))")
            access = match.route.access
        } else {
            trace?.record("route", nil, "no route matched; the default applies")
            access = defaultAccess
        }
        let route = match?.route

        let requirement: Requirement
        switch access {
        case .public:
            trace?.record("access", true, "public route: no authentication")
            return Decision(status: 200, reason: .publicRoute, detail: "public route", route: route, target: normalized)
        case .deny:
            let reason: DecisionReason = route == nil ? .noRouteMatched : .routeDenied
            let detail = route == nil ? "no route allows this request" : "this route denies every request"
            trace?.record("access", false, detail)
            return Decision(status: 403, reason: reason, detail: detail, route: route, target: normalized)
        case .require(let required):
            requirement = required
        }

        let token: VerifiedToken
        let identity: [IdentityHeaderValue]
        switch authenticate(credential, keys: keys, now: now, trace: trace) {
        case .success(let verified):
            (token, identity) = verified
        case .failure(let error):
            // Missing keys are Gatehouse's problem, not the caller's: 503 (never 2xx), with Retry-After.
            let status = error.reason == .keysUnavailable ? 503 : 401
            return Decision(
                status: status, reason: error.reason, detail: error.detail, route: route, target: normalized,
                keyLookup: error.issuer.map { ($0, error.kid) })
        }

        if let failure = check(requirement, token: token, match: match, trace: trace) {
            return Decision(
                status: 403, reason: failure.reason, detail: failure.detail, route: route, target: normalized,
                subject: token.subject, requiredScopes: failure.reason == .missingScope ? requirement.scopes?.names ?? [] : [])
        }
        trace?.record("decision", true, "authorized")
        return Decision(
            status: 200, reason: .authorized, detail: "authorized", route: route, target: normalized,
            identity: identity, subject: token.subject)
    }

    private func authenticate(
        _ credential: Credential, keys: KeySet, now: Double, trace: DecisionTrace?
    ) -> Result<(VerifiedToken, [IdentityHeaderValue]), TokenError> {
        switch credential {
        case .claims(let claims, let issuerName):
            let named = issuerName ?? claims["iss"]?.stringValue ?? verifier.issuerOrder.first
            let issuer = named.flatMap { verifier.issuers[$0] } ?? IssuerPolicy(issuer: named ?? "", audiences: nil, algorithms: [])
            let token = VerifiedToken(claims: claims, issuer: issuer, expiresAt: .infinity)
            trace?.record("token", true, "claims given (nothing verified), read as issuer '\(issuer.issuer)'")
            return Result { () throws(TokenError) in (token, try identityValues(token)) }
        case .authorization(let headers):
            // A token the cache holds had its shape checked when it was stored: the same bytes need no second scan.
            let candidate = headers.count == 1 ? Self.afterBearerScheme(headers[0]) : nil
            if let candidate, let entry = cache.lookup(candidate, keyGeneration: keys.generation, now: now) {
                trace?.record("token", true, "valid (from the verified-token cache); issuer '\(entry.token.issuer)', subject '\(entry.token.subject ?? "-")'")
                return .success((entry.token, entry.identity))
            }
            let bearer: Substring
            switch Self.bearerToken(headers) {
            case .success(let value): bearer = value
            case .failure(let error):
                trace?.record("token", false, error.detail)
                return .failure(error)
            }
            // The token is the candidate looked up above whenever the scheme was `Bearer` and one space: that lookup
            // missed, and the miss counts now that the credential is a token.
            cache.countMiss()
            do {
                let token = try verifier.verify(bearer, keys: keys, now: now)
                let identity = try identityValues(token)
                cache.store(bearer, TokenCache.Entry(token: token, identity: identity, keyGeneration: keys.generation), now: now)
                trace?.record("token", true, "valid; issuer '\(token.issuer)', subject '\(token.subject ?? "-")'")
                return .success((token, identity))
            } catch {
                trace?.record("token", false, "\(error.detail) [\(error.reason.label)]")
                return .failure(error)
            }
        }
    }

    private func identityValues(_ token: VerifiedToken) throws(TokenError) -> [IdentityHeaderValue] {
        var values = [IdentityHeaderValue]()
        values.reserveCapacity(identityHeaders.count)
        for header in identityHeaders {
            if let value = try header.value(for: token) {
                values.append(IdentityHeaderValue(name: header.name, value: value))
            }
        }
        return values
    }

    /// Extracts the bearer token: exactly one `Authorization` header, scheme `Bearer` in any casing, one space, one
    /// token. Another scheme counts as no bearer credential at all.
    static func bearerToken(_ headers: [Substring]) -> Result<Substring, TokenError> {
        guard !headers.isEmpty else {
            return .failure(TokenError(.tokenMissing, "no bearer token"))
        }
        guard headers.count == 1 else {
            return .failure(TokenError(.credentialsMalformed, "more than one Authorization header"))
        }
        // Byte-level over contiguous UTF-8: a token is hundreds of bytes, and Character iteration would cost
        // microseconds.
        let value = headers[0]
        let shape =
            value.utf8.withContiguousStorageIfAvailable { Self.credentialShape(UnsafeRawBufferPointer($0)) }
            ?? Array(value.utf8).withUnsafeBytes(Self.credentialShape)
        switch shape {
        case .empty:
            return .failure(TokenError(.credentialsMalformed, "the Bearer credential is empty"))
        case .notBearer:
            return .failure(TokenError(.tokenMissing, "no bearer token"))
        case .otherScheme:
            return .failure(TokenError(.tokenMissing, "no bearer token (another authentication scheme was used)"))
        case .notOneToken:
            return .failure(TokenError(.credentialsMalformed, "the Bearer credential must be one token"))
        case .token(let offset):
            let utf8 = value.utf8
            return .success(Substring(utf8[utf8.index(utf8.startIndex, offsetBy: offset)...]))
        }
    }

    /// What follows `Bearer ` (any casing) in `value`, unchecked; nil for another scheme.
    private static func afterBearerScheme(_ value: Substring) -> Substring? {
        let utf8 = value.utf8
        guard utf8.count > 7 else { return nil }
        func isBearer(_ bytes: UnsafeRawBufferPointer) -> Bool {
            HeaderName.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[..<7]), "bearer ")
        }
        let bearer =
            utf8.withContiguousStorageIfAvailable { isBearer(UnsafeRawBufferPointer($0)) }
            ?? Array(utf8.prefix(7)).withUnsafeBytes(isBearer)
        return bearer ? Substring(utf8[utf8.index(utf8.startIndex, offsetBy: 7)...]) : nil
    }

    private enum CredentialShape {
        case empty, notBearer, otherScheme, notOneToken
        /// The token starts at this UTF-8 offset.
        case token(Int)
    }

    /// What an `Authorization` value holds: `Bearer` (any casing), one space, then a token without blanks.
    private static func credentialShape(_ bytes: UnsafeRawBufferPointer) -> CredentialShape {
        guard let space = bytes.firstIndex(of: UInt8(ascii: " ")) else {
            return HeaderName.equalsIgnoringCase(bytes, "bearer") ? .empty : .notBearer
        }
        guard HeaderName.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[..<space]), "bearer") else {
            return .otherScheme
        }
        let token = bytes[(space + 1)...]
        guard !token.isEmpty, !token.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) else {
            return .notOneToken
        }
        return .token(space + 1)
    }

    private func check(
        _ requirement: Requirement, token: VerifiedToken, match: RouteTable.Match?, trace: DecisionTrace?
    ) -> TokenError? {
        if let roles = requirement.roles {
            let satisfied = roles.isSatisfied(by: token.roles)
            trace?.record("roles", satisfied, "requires \(roles.summary); token has [\(token.roles.sorted().joined(separator: ", "))]")
            guard satisfied else { return TokenError(.missingRole, "requires role \(roles.summary)") }
        }
        if let scopes = requirement.scopes {
            let satisfied = scopes.isSatisfied(by: token.scopes)
            trace?.record("scopes", satisfied, "requires \(scopes.summary); token has [\(token.scopes.sorted().joined(separator: ", "))]")
            guard satisfied else { return TokenError(.missingScope, "requires scope \(scopes.summary)") }
        }
        // Decoded once, when a condition first needs them.
        var parameters: [String: String]?
        for (path, condition) in requirement.claims {
            let actual = path.lookup(in: token.claims)
            let allowed: [String]
            switch condition {
            case .oneOf(let values): allowed = values
            case .pathParameter(let name):
                if parameters == nil { parameters = match?.parameters ?? [:] }
                allowed = parameters?[name].map { [$0] } ?? []
            }
            let candidates: [String]
            switch actual {
            case .array(let values)?: candidates = values.compactMap(\.scalarText)
            case let value?: candidates = value.scalarText.map { [$0] } ?? []
            case nil: candidates = []
            }
            let satisfied = candidates.contains { candidate in allowed.contains { $0.isExactly(candidate) } }
            trace?.record(
                "claim \(path)", satisfied,
                "must be \(Self.describe(condition, allowed)); token has \(actual?.jsonText ?? "absent")")
            guard satisfied else { return TokenError(.claimMismatch, "claim \(path) does not satisfy this route") }
        }
        return nil
    }

    private static func describe(_ condition: Requirement.ClaimCondition, _ allowed: [String]) -> String {
        switch condition {
        case .pathParameter(let name): return "{\(name)} = \(allowed.first.map { "'\($0)'" } ?? "absent")"
        case .oneOf(let values): return values.count == 1 ? "'\(values[0])'" : "one of [\(values.joined(separator: ", "))]"
        }
    }
}
