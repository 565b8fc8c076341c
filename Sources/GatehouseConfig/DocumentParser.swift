import FoundationEssentials
import GatehouseKeys
import GatehousePolicy
import Yams

/// Turns the composed YAML tree into validated values, reporting through a ``NodeReader``.
struct DocumentParser {
    let reader: NodeReader
    let directory: String
    let environment: [String: String]

    struct IssuerSpec {
        enum KeySource {
            case pemFile(String)
            case jwksFile(String)
            case secretEnv(String)
            case remote(RemoteKeySource.Settings)

            /// The `routes.yaml` key that names this source.
            var kind: String {
                switch self {
                case .pemFile: return "pem_file"
                case .jwksFile: return "jwks_file"
                case .secretEnv: return "secret_env"
                case .remote(let settings):
                    if case .jwks = settings.location { return "jwks_url" } else { return "discovery" }
                }
            }

            /// The key file read at load time, if any.
            var file: String? {
                switch self {
                case .pemFile(let path), .jwksFile(let path): return path
                case .secretEnv, .remote: return nil
                }
            }
        }
        let policy: IssuerPolicy
        let source: KeySource
        let kid: String?
        let node: Node
        let sourceNode: Node
        let algorithmsNode: Node
        let caFile: String?
    }

    struct Parsed {
        var listen = "127.0.0.1:8080"
        var upstream: String? = nil
        var admin: String? = nil
        var issuers: [IssuerSpec] = []
        var maxTokenBytes = 8192
        var cacheSize = 10_000
        var identityHeaders = IdentityHeader.defaults
        var routes: RouteTable? = nil
        var defaultAccess: Access? = .deny
        var tests: [PolicyTestCase] = []
        var server = ServerSettings()
    }

    static let topLevelKeys: Set<String> = [
        "version", "listen", "upstream", "admin", "tokens", "identity_headers", "routes", "default", "tests",
        "limits", "timeouts", "trusted_proxies", "forward_authorization", "tls", "upstream_ca_file",
    ]

    mutating func parse(_ root: Node) -> Parsed {
        var parsed = Parsed()
        guard let top = reader.mapping(root, "the top level", allowed: Self.topLevelKeys) else { return parsed }
        if let version = top["version"]?.value, reader.int(version, "version", range: 1...1) == nil {}
        if let node = top["listen"]?.value, let value = reader.string(node, "listen") {
            if HostPort.split(value) != nil { parsed.listen = value } else {
                reader.error(node, "listen must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080")
            }
        }
        if let node = top["admin"]?.value, let value = reader.string(node, "admin") {
            if HostPort.split(value) != nil { parsed.admin = value } else {
                reader.error(node, "admin must be host:port, e.g. 127.0.0.1:9090")
            }
        }
        if let node = top["upstream"]?.value {
            parsed.upstream = upstreamURL(node, "upstream")
        }
        if let node = top["tokens"]?.value {
            parseTokens(node, into: &parsed)
        } else {
            reader.error(root, "missing 'tokens': name at least one issuer under tokens.issuers")
        }
        if let node = top["identity_headers"]?.value {
            parsed.identityHeaders = parseIdentityHeaders(node)
        }
        if let node = top["default"]?.value {
            parsed.defaultAccess = parseDefault(node)
        }
        if let node = top["routes"]?.value {
            parsed.routes = parseRoutes(node)
        } else {
            reader.error(root, "missing 'routes': list the paths Gatehouse protects")
        }
        if let node = top["tests"]?.value {
            parsed.tests = parseTests(node, issuers: parsed.issuers)
        }
        parseServerSettings(top, into: &parsed.server)
        return parsed
    }

    func parseServerSettings(_ top: [String: (key: Node, value: Node)], into server: inout ServerSettings) {
        if let node = top["limits"]?.value,
            let limits = reader.mapping(node, "limits", allowed: ["max_head_bytes", "max_headers", "max_body_bytes"])
        {
            if let value = limits["max_head_bytes"]?.value, let number = reader.int(value, "max_head_bytes", range: 1024...1_048_576) {
                server.limits.maxHeadBytes = number
            }
            if let value = limits["max_headers"]?.value, let number = reader.int(value, "max_headers", range: 8...10_000) {
                server.limits.maxHeaders = number
            }
            if let value = limits["max_body_bytes"]?.value, let number = reader.int(value, "max_body_bytes", range: 0...Int.max) {
                server.limits.maxBodyBytes = number
            }
        }
        if let node = top["timeouts"]?.value,
            let timeouts = reader.mapping(node, "timeouts", allowed: ["connect", "upstream", "head", "idle", "shutdown_grace"])
        {
            func read(_ key: String, _ apply: (Double) -> Void) {
                guard let value = timeouts[key]?.value, let seconds = reader.duration(value, "timeouts.\(key)") else { return }
                if seconds <= 0 { reader.error(value, "timeouts.\(key) must be more than zero") } else { apply(seconds) }
            }
            read("connect") { server.timeouts.connect = $0 }
            read("upstream") { server.timeouts.upstream = $0 }
            read("head") { server.timeouts.head = $0 }
            read("idle") { server.timeouts.idle = $0 }
            read("shutdown_grace") { server.timeouts.shutdownGrace = $0 }
        }
        if let node = top["trusted_proxies"]?.value, let entries = reader.stringList(node, "trusted_proxies") {
            for entry in entries {
                if let cidr = CIDR(entry) { server.trustedProxies.append(cidr) } else {
                    reader.error(node, "'\(entry)' is not an IP address or CIDR such as 10.0.0.0/8")
                }
            }
        }
        if let node = top["forward_authorization"]?.value, let value = reader.bool(node, "forward_authorization") {
            server.forwardAuthorization = value
        }
        if let node = top["tls"]?.value, let tls = reader.mapping(node, "tls", allowed: ["cert_file", "key_file"]) {
            let cert = tls["cert_file"].flatMap { existingFile($0.value, "tls.cert_file") }
            let key = tls["key_file"].flatMap { existingFile($0.value, "tls.key_file") }
            if tls["cert_file"] == nil || tls["key_file"] == nil { reader.error(node, "tls needs cert_file and key_file") }
            if let cert, let key { server.tls = (cert, key) }
        }
        if let node = top["upstream_ca_file"]?.value {
            server.upstreamCAFile = existingFile(node, "upstream_ca_file")
        }
    }

    /// A path (resolved against the file's directory) that must exist.
    func existingFile(_ node: Node, _ what: String) -> String? {
        guard let path = reader.string(node, what).map(resolve) else { return nil }
        guard FileManager.default.fileExists(atPath: path) else {
            reader.error(node, "\(what) \(path) does not exist")
            return nil
        }
        return path
    }

    func upstreamURL(_ node: Node, _ what: String) -> String? {
        guard let value = reader.string(node, what) else { return nil }
        for scheme in ["http://", "https://"] where value.lowercased().hasPrefix(scheme) {
            let rest = value.dropFirst(scheme.count)
            let authority = rest.prefix { $0 != "/" }
            let path = rest.dropFirst(authority.count)
            if !authority.isEmpty, !authority.contains("@"), path.isEmpty || path == "/" {
                return value
            }
        }
        reader.error(node, "\(what) must be an http:// or https:// URL with a host and optional port, e.g. http://127.0.0.1:3000")
        return nil
    }

    // MARK: tokens

    static let tokensKeys: Set<String> = ["issuers", "leeway", "max_lifetime", "max_token_bytes", "cache_size"]
    static let issuerKeys: Set<String> = [
        "issuer", "audience", "algorithms", "pem_file", "jwks_file", "secret_env", "jwks_url", "discovery", "kid",
        "roles_claim", "scopes_claim", "leeway", "max_lifetime", "ca_file", "refresh_interval", "unknown_kid_cooldown",
    ]

    mutating func parseTokens(_ node: Node, into parsed: inout Parsed) {
        guard let tokens = reader.mapping(node, "tokens", allowed: Self.tokensKeys) else { return }
        var leeway = 30.0
        var maxLifetime: Double? = nil
        if let node = tokens["leeway"]?.value, let value = reader.duration(node, "leeway") {
            leeway = value
            if value > 300 { reader.warning(node, "a leeway above 5m keeps expired tokens alive for long") }
        }
        if let node = tokens["max_lifetime"]?.value, let value = reader.duration(node, "max_lifetime") {
            maxLifetime = value
        }
        if let node = tokens["max_token_bytes"]?.value, let value = reader.int(node, "max_token_bytes", range: 256...65536) {
            parsed.maxTokenBytes = value
        }
        if let node = tokens["cache_size"]?.value, let value = reader.int(node, "cache_size", range: 0...10_000_000) {
            parsed.cacheSize = value
        }
        guard let issuersNode = tokens["issuers"]?.value else {
            reader.error(node, "missing 'issuers' under tokens")
            return
        }
        guard let entries = reader.sequence(issuersNode, "tokens.issuers") else { return }
        if entries.isEmpty { reader.error(issuersNode, "tokens.issuers must list at least one issuer") }
        var seen = [String: Node]()
        for entry in entries {
            guard let spec = parseIssuer(entry, leeway: leeway, maxLifetime: maxLifetime) else { continue }
            if let first = seen[spec.policy.issuer] {
                reader.error(entry, "issuer '\(spec.policy.issuer)' is configured twice (first at \(reader.location(first)))")
                continue
            }
            seen[spec.policy.issuer] = entry
            parsed.issuers.append(spec)
        }
    }

    func parseIssuer(_ node: Node, leeway defaultLeeway: Double, maxLifetime defaultMaxLifetime: Double?) -> IssuerSpec? {
        guard let fields = reader.mapping(node, "an issuer", allowed: Self.issuerKeys) else { return nil }
        let errorsBefore = reader.diagnostics.count
        var name: String? = nil
        if let field = fields["issuer"]?.value { name = reader.string(field, "issuer") } else {
            reader.error(node, "missing 'issuer': the exact iss value of this issuer's tokens")
        }
        var audiences: [String]? = nil
        if let field = fields["audience"]?.value {
            if field.string == "any", case .scalar(let scalar) = field, scalar.style == .plain {
                audiences = nil
                reader.warning(field, "audience: any accepts this issuer's tokens minted for any service")
            } else {
                audiences = reader.stringList(field, "audience")
            }
        } else {
            reader.error(node, "missing 'audience': name the aud this service accepts, or write 'audience: any' explicitly")
        }
        var algorithms = Set<SignatureAlgorithm>()
        let algorithmsNode = fields["algorithms"]?.value ?? node
        if let field = fields["algorithms"]?.value, let names = reader.stringList(field, "algorithms") {
            for algorithmName in names {
                if let algorithm = SignatureAlgorithm(rawValue: algorithmName) {
                    algorithms.insert(algorithm)
                } else if algorithmName.lowercased() == "none" {
                    reader.error(field, "algorithm 'none' is never accepted")
                } else {
                    let known = SignatureAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")
                    reader.error(field, "unknown algorithm '\(algorithmName)' (supported: \(known))")
                }
            }
            let kinds = Set(algorithms.map(\.keyKind))
            if kinds.contains(.hmac) && kinds.count > 1 {
                reader.error(field, "do not mix HS* with public-key algorithms in one issuer: a public key must never double as an HMAC secret")
            }
        } else if fields["algorithms"] == nil {
            reader.error(node, "missing 'algorithms': the allow-list, e.g. [RS256]")
        }
        let sources = ["pem_file", "jwks_file", "secret_env", "jwks_url", "discovery"].filter { fields[$0] != nil }
        var source: IssuerSpec.KeySource? = nil
        var sourceNode = node
        if sources.count != 1 {
            reader.error(node, sources.isEmpty
                ? "missing key source: give exactly one of pem_file, jwks_file or secret_env"
                : "give exactly one key source, not \(sources.joined(separator: " and "))")
        } else if let key = sources.first, let value = fields[key]?.value {
            sourceNode = value
            switch key {
            case "pem_file", "jwks_file":
                if let path = existingFile(value, key) {
                    source = key == "pem_file" ? .pemFile(path) : .jwksFile(path)
                }
            case "secret_env": source = reader.string(value, key).map { .secretEnv($0) }
            default:
                if let url = reader.string(value, key) {
                    if RemoteKeySource.isAllowedKeyURL(url) {
                        var settings = RemoteKeySource.Settings(location: key == "jwks_url" ? .jwks(url) : .discovery(url))
                        if let field = fields["refresh_interval"]?.value, let seconds = reader.duration(field, "refresh_interval") {
                            settings.defaultRefresh = max(1, seconds)
                            settings.minimumRefresh = min(settings.minimumRefresh, settings.defaultRefresh)
                        }
                        if let field = fields["unknown_kid_cooldown"]?.value, let seconds = reader.duration(field, "unknown_kid_cooldown") {
                            settings.unknownKidCooldown = seconds
                        }
                        source = .remote(settings)
                    } else {
                        reader.error(value, "\(key) must be an https:// URL (http:// only towards 127.0.0.1, localhost or [::1])")
                    }
                }
            }
        }
        var caFile: String? = nil
        if let field = fields["ca_file"] {
            if fields["jwks_url"] == nil && fields["discovery"] == nil {
                reader.error(field.key, "ca_file goes with jwks_url or discovery")
            } else {
                caFile = existingFile(field.value, "ca_file")
            }
        }
        for key in ["refresh_interval", "unknown_kid_cooldown"] where fields[key] != nil && fields["jwks_url"] == nil && fields["discovery"] == nil {
            reader.error(fields[key]!.key, "\(key) goes with jwks_url or discovery")
        }
        var kid: String? = nil
        if let field = fields["kid"] {
            kid = reader.string(field.value, "kid")
            if fields["jwks_file"] != nil { reader.error(field.key, "kid goes with pem_file or secret_env; a JWKS names its own kids") }
        }
        var rolesClaim = ClaimPath(keys: ["roles"])
        var scopesClaim = ClaimPath(keys: ["scope"])
        if let field = fields["roles_claim"]?.value, let path = claimPath(field) { rolesClaim = path }
        if let field = fields["scopes_claim"]?.value, let path = claimPath(field) { scopesClaim = path }
        var leeway = defaultLeeway
        if let field = fields["leeway"]?.value, let value = reader.duration(field, "leeway") { leeway = value }
        var maxLifetime = defaultMaxLifetime
        if let field = fields["max_lifetime"]?.value, let value = reader.duration(field, "max_lifetime") { maxLifetime = value }

        guard !reader.hasErrors(since: errorsBefore), let name, let source else {
            return nil
        }
        return IssuerSpec(
            policy: IssuerPolicy(
                issuer: name, audiences: audiences, algorithms: algorithms, rolesClaim: rolesClaim,
                scopesClaim: scopesClaim, leeway: leeway, maxLifetime: maxLifetime),
            source: source, kid: kid, node: node, sourceNode: sourceNode, algorithmsNode: algorithmsNode, caFile: caFile)
    }

    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }

    func claimPath(_ node: Node) -> ClaimPath? {
        guard let text = reader.string(node, "a claim path") else { return nil }
        do {
            return try ClaimPath(parsing: text)
        } catch {
            reader.error(node, error.description)
            return nil
        }
    }

    /// Reads the issuer's key material and checks that it fits the algorithms.
    func loadKeys(_ spec: IssuerSpec) async -> (configuration: IssuerConfiguration, keys: [VerificationKey])? {
        var keys = [IssuerConfiguration.Key]()
        do {
            switch spec.source {
            case .pemFile(let path):
                let material = try KeyFiles.readPEM(at: path)
                keys.append(.init(kid: spec.kid, algorithm: nil, material: material))
            case .secretEnv(let name):
                let material = try KeyFiles.readSecret(env: name, environment: environment)
                if case .hmac(_, let count) = material {
                    // RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
                    for algorithm in spec.policy.algorithms.sorted(by: { $0.rawValue < $1.rawValue })
                    where count < algorithm.minimumSecretBytes {
                        reader.error(
                            spec.sourceNode,
                            "the HMAC secret in \(name) is \(count) bytes; \(algorithm.rawValue) needs at least \(algorithm.minimumSecretBytes) (RFC 7518 §3.2)")
                        return nil
                    }
                }
                keys.append(.init(kid: spec.kid, algorithm: nil, material: material))
            case .jwksFile(let path):
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw KeyError("cannot read JWKS file \(path)")
                }
                let (entries, skipped) = try KeyFiles.parseJWKS(Array(data))
                for note in skipped { reader.warning(spec.sourceNode, "\(path): skipped \(note)") }
                keys = entries.map { .init(kid: $0.kid, algorithm: $0.algorithm, material: $0.material) }
            case .remote(let settings):
                if spec.policy.algorithms.contains(where: { $0.keyKind == .hmac }) {
                    reader.error(spec.algorithmsNode, "a key set fetched from a URL cannot hold HMAC secrets: allow only public-key algorithms")
                    return nil
                }
                // The keys arrive at run time; until then protected routes answer 503.
                return (IssuerConfiguration(policy: spec.policy, keys: [], sourceKind: spec.source.kind, remote: settings, caFile: spec.caFile), [])
            }
        } catch {
            reader.error(spec.sourceNode, "\(error)")
            return nil
        }
        let allowedNames = spec.policy.algorithms.map(\.rawValue).sorted().joined(separator: ", ")
        if case .jwksFile(let path) = spec.source {
            keys = keys.filter { key in
                let fits = spec.policy.algorithms.contains { $0.keyKind == key.material.kind && (key.algorithm == nil || key.algorithm == $0) }
                if !fits {
                    reader.warning(spec.sourceNode, "\(path): skipped the \(key.material.kind.rawValue) key\(key.kid.map { " '\($0)'" } ?? ""): none of the allowed algorithms [\(allowedNames)] fits it")
                }
                return fits
            }
        }
        for key in keys where !spec.policy.algorithms.contains(where: { $0.keyKind == key.material.kind }) {
            let allowed = allowedNames
            reader.error(spec.algorithmsNode, "the \(key.material.kind.rawValue) key\(key.kid.map { " '\($0)'" } ?? "") cannot verify any of the allowed algorithms [\(allowed)]")
            return nil
        }
        if case .pemFile = spec.source {
            for algorithm in spec.policy.algorithms where algorithm.keyKind != keys[0].material.kind {
                reader.error(spec.algorithmsNode, "algorithm \(algorithm.rawValue) needs a \(algorithm.keyKind.rawValue) key, but the PEM file holds a \(keys[0].material.kind.rawValue) key")
                return nil
            }
        }
        if keys.isEmpty {
            reader.error(spec.sourceNode, "no usable key for issuer '\(spec.policy.issuer)'")
            return nil
        }
        let configuration = IssuerConfiguration(
            policy: spec.policy, keys: keys, keyFile: spec.source.file, sourceKind: spec.source.kind)
        do {
            return (configuration, try await configuration.verificationKeys())
        } catch {
            reader.error(spec.sourceNode, "\(error)")
            return nil
        }
    }

    // MARK: identity headers

    static let reservedHeaders: Set<String> = [
        "authorization", "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
        "trailer", "proxy-authorization", "proxy-authenticate", "cookie", "x-forwarded-for", "x-forwarded-proto",
        "x-forwarded-host", "forwarded", "x-request-id", "expect", "proxy-connection", "x-original-url",
        "x-rewrite-url", "x-original-uri", "x-forwarded-uri", "x-forwarded-path", "x-forwarded-prefix",
        "x-envoy-original-path", "x-http-method-override", "x-http-method", "x-method-override", "x-original-method",
        "content-type", "set-cookie",
    ]

    func parseIdentityHeaders(_ node: Node) -> [IdentityHeader] {
        guard let entries = reader.pairs(node, "identity_headers") else { return IdentityHeader.defaults }
        var result = [IdentityHeader]()
        var seen = Set<String>()
        for (keyNode, valueNode) in entries {
            let name = keyNode.string ?? ""
            guard HeaderName.isToken(name) else {
                reader.error(keyNode, "'\(name)' is not a valid header name")
                continue
            }
            guard !Self.reservedHeaders.contains(HeaderName.fold(name)) else {
                reader.error(keyNode, "'\(name)' cannot be an identity header")
                continue
            }
            guard seen.insert(HeaderName.fold(name)).inserted else {
                reader.error(keyNode, "'\(name)' is listed twice (header names ignore case, '-', '_' and '.')")
                continue
            }
            guard let sourceText = reader.string(valueNode, "the source of \(name)") else { continue }
            let source: IdentityHeader.Source
            switch sourceText {
            case "subject": source = .subject
            case "roles": source = .roles
            case "scopes": source = .scopes
            case "issuer": source = .issuer
            default:
                guard let path = claimPath(valueNode) else { continue }
                source = .claim(path)
            }
            result.append(IdentityHeader(name: name, source: source))
        }
        return result
    }
}
