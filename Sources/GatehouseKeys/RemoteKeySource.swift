import FoundationEssentials
public import GatehousePolicy
public import Logging
import Synchronization

/// Keys published by an identity provider: a JWKS URL, or OpenID Connect discovery of one.
///
/// - The first fetch happens at start-up; until it succeeds the issuer has no keys and protected routes answer 503
///   (never 2xx), while public routes work.
/// - Refreshes run in the background on an interval that honours `Cache-Control: max-age` within bounds.
/// - A token whose `kid` is unknown may trigger one refetch per cooldown at most, single-flight, and an unknown `kid`
///   is remembered (negative cache) so that random kids cannot turn into fetches.
/// - A failed or garbage fetch (timeout, 5xx, invalid JSON, redirect, oversized, no usable key) keeps the last good
///   keys and retries with exponential backoff; a good key set is never replaced by an empty one.
public final class RemoteKeySource: Sendable {
    /// Where and how often to fetch.
    public struct Settings: Sendable, Equatable {
        /// Where the keys are.
        public enum Location: Sendable, Equatable {
            case jwks(String)
            case discovery(String)
        }

        /// The location.
        public var location: Location
        /// Shortest refresh interval, whatever `max-age` says. Default 60s.
        public var minimumRefresh: Double = 60
        /// Longest refresh interval. Default 1h.
        public var maximumRefresh: Double = 3600
        /// Refresh interval when the response gives no `max-age`. Default 15m.
        public var defaultRefresh: Double = 900
        /// At most one refetch for unknown kids per this many seconds. Default 30s.
        public var unknownKidCooldown: Double = 30
        /// One fetch may take this long. Default 5s.
        public var fetchTimeout: Double = 5
        /// The largest document accepted. Default 1 MiB.
        public var maximumBytes: Int = 1 << 20

        /// Settings for `location` with the defaults.
        public init(location: Location) {
            self.location = location
        }
    }

    private struct State {
        var keys: [VerificationKey] = []
        var consecutiveFailures = 0
        var nextRefresh: Double = 0
        var fetching = false
        var lastUnknownKidFetch: Double = -.infinity
        var unknownKids: [String: Double] = [:]
        var stopped = false
    }

    /// The issuer these keys belong to.
    public let issuer: IssuerPolicy
    /// Where and how often.
    public let settings: Settings
    private let fetcher: any KeyFetcher
    private let logger: Logger
    private let onUpdate: @Sendable ([VerificationKey]) -> Void
    private let onFetch: @Sendable (_ outcome: String) -> Void
    private let clock: @Sendable () -> Double
    private let state = Mutex(State())

    /// Creates a source.
    ///
    /// - Parameters:
    ///   - onUpdate: Receives every new good key set (publish it to the policy).
    ///   - onFetch: Receives the outcome label of every fetch (`ok`, `error`, `garbage`, `empty`), for metrics.
    public init(
        issuer: IssuerPolicy, settings: Settings, fetcher: any KeyFetcher, logger: Logger,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        onFetch: @escaping @Sendable (String) -> Void = { _ in },
        onUpdate: @escaping @Sendable ([VerificationKey]) -> Void
    ) {
        self.issuer = issuer
        self.settings = settings
        self.fetcher = fetcher
        self.logger = logger
        self.clock = clock
        self.onFetch = onFetch
        self.onUpdate = onUpdate
    }

    /// The keys in force (empty until the first good fetch).
    public var keys: [VerificationKey] { state.withLock { $0.keys } }

    /// Whether a fetch is running.
    public var isFetching: Bool { state.withLock { $0.fetching } }

    /// When the next scheduled refresh is due (seconds since 1970).
    public var nextRefresh: Double { state.withLock { $0.nextRefresh } }

    /// Runs until cancelled: the first fetch at once, then refreshes on schedule, backing off after failures.
    public func run() async {
        while !Task.isCancelled {
            let due = state.withLock { $0.nextRefresh }
            let wait = due - clock()
            if wait > 0 {
                do {
                    try await Task.sleep(for: .milliseconds(Int64(min(wait, 3600) * 1000)))
                } catch {
                    return
                }
                continue
            }
            if await !refresh(reason: "scheduled") {
                // Another fetch (an unknown-kid refetch) is running: wait for it instead of spinning.
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Stops publishing: a fetch still in flight when the source is retired lands nowhere.
    public func stop() async {
        state.withLock { $0.stopped = true }
        await fetcher.shutdown()
    }

    /// A token named a `kid` this issuer does not have: refetch now if the cooldown allows and this `kid` was not
    /// already looked for in vain. Returns whether a fetch was started. Never blocks.
    @discardableResult
    public func unknownKey(kid: String?) -> Bool {
        let now = clock()
        let start = state.withLock { state -> Bool in
            state.unknownKids = state.unknownKids.filter { $0.value > now }
            if let kid, state.unknownKids[kid] != nil { return false }
            guard !state.fetching, now - state.lastUnknownKidFetch >= settings.unknownKidCooldown else { return false }
            state.lastUnknownKidFetch = now
            return true
        }
        guard start else { return false }
        Task { [self] in
            await refresh(reason: "unknown kid")
            if let kid, !keys.contains(where: { $0.kid == kid }) {
                // Looked for and not published: do not look again for it until the cooldown passes.
                let until = clock() + settings.unknownKidCooldown
                state.withLock { state in
                    if state.unknownKids.count >= 10_000 { state.unknownKids.removeAll() }
                    state.unknownKids[kid] = until
                }
            }
        }
        return true
    }

    /// Fetches once (single-flight: returns `false` at once if a fetch is running or the source was stopped).
    @discardableResult
    public func refresh(reason: String) async -> Bool {
        let proceed = state.withLock { state -> Bool in
            guard !state.fetching, !state.stopped else { return false }
            state.fetching = true
            return true
        }
        guard proceed else { return false }
        let outcome: (keys: [VerificationKey], maxAge: Double?)?
        var label = "ok"
        do {
            outcome = try await fetchKeys()
        } catch {
            label = (error as? FetchError)?.label ?? "error"
            logger.warning("key fetch failed", metadata: ["issuer": "\(issuer.issuer)", "error": "\(error)", "reason": "\(reason)"])
            outcome = nil
        }
        onFetch(label)
        let now = clock()
        let published: [VerificationKey]? = state.withLock { state in
            state.fetching = false
            guard let outcome else {
                state.consecutiveFailures += 1
                // Exponential backoff from 1s, capped by the normal refresh interval.
                let backoff = min(settings.defaultRefresh, Double(1 << min(state.consecutiveFailures - 1, 16)))
                state.nextRefresh = now + backoff
                return nil
            }
            state.consecutiveFailures = 0
            let interval = min(settings.maximumRefresh, max(settings.minimumRefresh, outcome.maxAge ?? settings.defaultRefresh))
            state.nextRefresh = now + interval
            state.keys = outcome.keys
            return state.stopped ? nil : outcome.keys
        }
        if let published {
            logger.info("keys fetched", metadata: ["issuer": "\(issuer.issuer)", "keys": "\(published.count)", "reason": "\(reason)"])
            onUpdate(published)
        }
        return true
    }

    private func fetchKeys() async throws -> (keys: [VerificationKey], maxAge: Double?) {
        let jwksURL: String
        switch settings.location {
        case .jwks(let url):
            jwksURL = url
        case .discovery(let base):
            let url = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/.well-known/openid-configuration"
            let document = try await get(url)
            guard let json = try? StrictJSONParser.parse(document.body, maxDepth: 8), case .object = json else {
                throw FetchError("the discovery document is not a JSON object", label: "garbage")
            }
            guard let discovered = json["issuer"]?.stringValue, discovered.isExactly(issuer.issuer) else {
                throw FetchError("the discovery document names another issuer", label: "garbage")
            }
            guard let uri = json["jwks_uri"]?.stringValue, Self.isAllowedKeyURL(uri) else {
                throw FetchError("the discovery document has no usable jwks_uri", label: "garbage")
            }
            jwksURL = uri
        }
        let document = try await get(jwksURL)
        let parsed: (keys: [KeyFiles.JWKSKey], skipped: [String])
        do {
            parsed = try KeyFiles.parseJWKS(document.body)
        } catch {
            throw FetchError("the key set is not a valid JWKS: \(error)", label: "garbage")
        }
        var keys = [VerificationKey]()
        for entry in parsed.keys {
            // A key jwt-kit cannot use is skipped like any other unusable entry (parseJWKS never yields secrets).
            keys += (try? await entry.material.verificationKeys(kid: entry.kid, boundTo: entry.algorithm, allowed: issuer.algorithms)) ?? []
        }
        guard !keys.isEmpty else {
            // Never replace good keys with an empty set.
            throw FetchError("the key set holds no usable key for the allowed algorithms", label: "empty")
        }
        return (keys, document.maxAge)
    }

    private func get(_ url: String) async throws -> FetchedDocument {
        let document = try await fetcher.get(url, timeout: settings.fetchTimeout, maxBytes: settings.maximumBytes)
        guard document.status == 200 else {
            throw FetchError("\(url) answered \(document.status)", label: document.status >= 300 && document.status < 400 ? "redirect" : "error")
        }
        return document
    }

    /// Whether keys may be fetched from `url`: `https://`, or `http://` towards loopback only.
    public static func isAllowedKeyURL(_ url: String) -> Bool {
        url.lowercased().hasPrefix("https://") || isLoopbackHTTP(url)
    }

    /// `http://` is accepted only towards loopback (a local test identity provider): the host must be exactly
    /// `127.0.0.1`, `localhost` or `[::1]`.
    public static func isLoopbackHTTP(_ url: String) -> Bool {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") else { return false }
        let authority = lower.dropFirst(7).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@") else { return false }
        let host: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return false }
            host = authority[...close]
            let rest = authority[authority.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isNumber)) else { return false }
        } else {
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = parts[0]
            guard parts.count == 1 || parts[1].allSatisfy(\.isNumber) else { return false }
        }
        return host == "127.0.0.1" || host == "localhost" || host == "[::1]"
    }

    struct FetchError: Error, CustomStringConvertible {
        let description: String
        let label: String
        init(_ description: String, label: String) {
            self.description = description
            self.label = label
        }
    }
}
