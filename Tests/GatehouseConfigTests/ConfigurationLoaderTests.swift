import Foundation
import GatehouseConfig
import GatehouseKeys
import GatehousePolicy
import Testing

/// routes.yaml → validated values; every problem reported as `routes.yaml:LINE:COL` at the place it is written.
struct ConfigurationLoaderTests {
    /// One broken file: the `«` marks where the error must be reported.
    struct ErrorCase: Sendable, CustomTestStringConvertible {
        let name: String
        let yaml: String
        let message: String
        var environment: [String: String] = ConfigFixture.environment

        var testDescription: String { name }
    }

    private static func replacing(_ name: String, _ old: String, _ new: String, _ message: String) -> ErrorCase {
        ErrorCase(name: name, yaml: ConfigFixture.valid(replacing: old, with: new), message: message)
    }

    // MARK: the valid file

    @Test("the valid file loads, with the documented defaults")
    func validLoads() async throws {
        let outcome = await ConfigFixture.load(ConfigFixture.valid)
        let configuration = try #require(outcome.configuration, "\(outcome.listing)")
        #expect(outcome.diagnostics.isEmpty)
        #expect(configuration.listen == "127.0.0.1:8080")
        #expect(configuration.upstream == nil)
        #expect(configuration.admin == nil)
        #expect(configuration.policy.defaultAccess == .deny)
        #expect(configuration.policy.verifier.maxTokenBytes == 8192)
        #expect(configuration.policy.identityHeaders == IdentityHeader.defaults)
        let issuer = try #require(configuration.policy.verifier.issuers["https://id.example.test/"])
        #expect(issuer.audiences == ["orders-api"])
        #expect(issuer.algorithms == [.hs256])
        #expect(issuer.leeway == 30)
        #expect(issuer.maxLifetime == nil)
        #expect(issuer.rolesClaim.keys == ["roles"])
        #expect(issuer.scopesClaim.keys == ["scope"])
        #expect(configuration.policy.routes.routes.map(\.id) == ["/healthz", "admin", "own-profile"])
        #expect(configuration.tests.count == 1)
    }

    @Test("the loaded policy decides with the configured secret")
    func loadedPolicyDecides() async throws {
        let outcome = await ConfigFixture.load(ConfigFixture.valid)
        let configuration = try #require(outcome.configuration, "\(outcome.listing)")
        let secret = try KeyFiles.readSecret(env: "S", environment: ["S": ConfigFixture.secret])
        let minter = try await TokenMinter(key: secret, algorithm: .hs256, kid: nil)
        func decide(_ target: String, _ claims: [String: JSONValue]) throws -> Decision {
            var members: [String: JSONValue] = [
                "iss": .string("https://id.example.test/"), "aud": .string("orders-api"), "sub": .string("alice"),
                "iat": .number(testNow), "exp": .number(testNow + 300),
            ]
            members.merge(claims) { $1 }
            let token = try minter.mint(.object(members))
            return configuration.policy.decide(
                method: "GET", target: target, credential: .authorization([Substring("Bearer " + token)]),
                keys: configuration.keys, now: testNow)
        }
        #expect(try decide("/admin/users", ["roles": .array([.string("admin")])]).status == 200)
        #expect(try decide("/admin/users", [:]).reason.label == "missing_role")
        #expect(try decide("/users/alice/x", [:]).status == 200)
        #expect(try decide("/users/bob/x", [:]).reason.label == "claim_mismatch")
        #expect(try decide("/admin/users", ["aud": .string("other")]).reason.label == "audience_mismatch")
    }

    @Test("durations, claim paths, audiences and identity headers are read as written")
    func valuesAsWritten() async throws {
        let yaml = ConfigFixture.valid(
            replacing: """
                tokens:
                  issuers:
                    - issuer: https://id.example.test/
                      audience: orders-api
                """,
            with: """
                listen: 0.0.0.0:9000
                upstream: http://127.0.0.1:3000
                tokens:
                  leeway: 10s
                  max_lifetime: 1h
                  max_token_bytes: 4096
                  issuers:
                    - issuer: https://id.example.test/
                      audience: [orders-api, billing-api]
                      roles_claim: realm_access.roles
                      scopes_claim: '["https://example.com/scp"]'
                """)
            + """
            identity_headers:
              X-User: subject
              X-Email: email
              X-Client-Roles: resource_access["my.app"].roles

            """
        let outcome = await ConfigFixture.load(yaml)
        let configuration = try #require(outcome.configuration, "\(outcome.listing)")
        #expect(configuration.listen == "0.0.0.0:9000")
        #expect(configuration.upstream == "http://127.0.0.1:3000")
        #expect(configuration.policy.verifier.maxTokenBytes == 4096)
        let issuer = try #require(configuration.policy.verifier.issuers["https://id.example.test/"])
        #expect(issuer.leeway == 10)
        #expect(issuer.maxLifetime == 3600)
        #expect(issuer.audiences == ["orders-api", "billing-api"])
        #expect(issuer.rolesClaim.keys == ["realm_access", "roles"])
        #expect(issuer.scopesClaim.keys == ["https://example.com/scp"])
        #expect(
            configuration.policy.identityHeaders == [
                IdentityHeader(name: "X-User", source: .subject),
                IdentityHeader(name: "X-Email", source: .claim(ClaimPath(keys: ["email"]))),
                IdentityHeader(name: "X-Client-Roles", source: .claim(ClaimPath(keys: ["resource_access", "my.app", "roles"]))),
            ])
    }

    // MARK: every error, at its line:col

    static let errorCases: [ErrorCase] = [
        // Unknown keys, at any level.
        ErrorCase(name: "unknown top-level key", yaml: ConfigFixture.valid + "«colour: blue\n", message: "unknown key 'colour'"),
        replacing("unknown key in tokens", "tokens:\n  issuers:", "tokens:\n  «leway: 30s\n  issuers:", "unknown key 'leway'"),
        replacing(
            "unknown key in an issuer", "      secret_env: GH_SECRET\n", "      secret_env: GH_SECRET\n      «audiences: [a]\n",
            "unknown key 'audiences'"),
        replacing("unknown key in a route", "    methods: [GET]\n", "    «method: [GET]\n", "unknown key 'method'"),
        replacing("unknown key in roles", "    roles: [admin]\n", "    roles: {«some: [admin]}\n", "unknown key 'some'"),
        replacing("unknown key in a test", "    expect: 200\n", "    expect: 200\n    «expected: 200\n", "unknown key 'expected'"),
        replacing("unknown key in expect", "    expect: 200\n", "    expect: {status: 200, «rout: x}\n", "unknown key 'rout'"),
        // Wrong types.
        replacing("public is not a bool", "    public: true\n", "    public: «3\n", "public must be true or false"),
        replacing("public: false", "    public: true\n", "    public: «false\n", "write public: true"),
        replacing("leeway is a list", "tokens:\n  issuers:", "tokens:\n  leeway: «[1]\n  issuers:", "leeway must be a duration"),
        replacing("leeway without unit", "tokens:\n  issuers:", "tokens:\n  leeway: «30 seconds\n  issuers:", "leeway must be a duration"),
        replacing("methods is a mapping", "    methods: [GET]\n", "    methods: «{a: b}\n", "methods must be a list"),
        replacing("audience is a mapping", "      audience: orders-api\n", "      audience: «{a: b}\n", "audience must be a list"),
        replacing(
            "max_token_bytes is text", "tokens:\n  issuers:", "tokens:\n  max_token_bytes: «lots\n  issuers:",
            "max_token_bytes must be a whole number"),
        replacing("version 2", "version: 1", "version: «2", "version must be a whole number from 1 to 1"),
        replacing("issuers is a string", "  issuers:\n", "  issuers: «x\n  old_issuers:\n", "tokens.issuers must be a list"),
        // Issuers.
        replacing(
            "missing audience", "    - issuer: https://id.example.test/\n      audience: orders-api\n",
            "    - «issuer: https://id.example.test/\n", "missing 'audience'"),
        replacing(
            "missing algorithms", "    - issuer: https://id.example.test/\n      audience: orders-api\n      algorithms: [HS256]\n",
            "    - «issuer: https://id.example.test/\n      audience: orders-api\n", "missing 'algorithms'"),
        replacing("alg none", "algorithms: [HS256]", "algorithms: «[none]", "algorithm 'none' is never accepted"),
        replacing("alg NONE", "algorithms: [HS256]", "algorithms: «[HS256, NONE]", "algorithm 'none' is never accepted"),
        replacing("mixed HS and RS", "algorithms: [HS256]", "algorithms: «[HS256, RS256]", "do not mix HS*"),
        replacing("unknown algorithm", "algorithms: [HS256]", "algorithms: «[HS257]", "unknown algorithm 'HS257'"),
        replacing(
            "jwks_url over plain http to a host that only starts like localhost", "      secret_env: GH_SECRET",
            "      jwks_url: «http://localhost.evil.example/jwks.json", "jwks_url must be an https:// URL"),
        replacing(
            "discovery over plain http", "      secret_env: GH_SECRET",
            "      discovery: «http://id.example.test/", "discovery must be an https:// URL"),
        replacing("missing pem file", "      secret_env: GH_SECRET", "      pem_file: «keys/missing.pem", "does not exist"),
        replacing("missing jwks file", "      secret_env: GH_SECRET", "      jwks_file: «/nonexistent/jwks.json", "does not exist"),
        replacing(
            "two key sources", "    - issuer: https://id.example.test/\n",
            "    - «issuer: https://id.example.test/\n      pem_file: keys/id.pem\n", "give exactly one key source"),
        replacing(
            "no key source", "    - issuer: https://id.example.test/\n      audience: orders-api\n      algorithms: [HS256]\n      secret_env: GH_SECRET\n",
            "    - «issuer: https://id.example.test/\n      audience: orders-api\n      algorithms: [HS256]\n",
            "missing key source"),
        ErrorCase(
            name: "secret_env not set", yaml: ConfigFixture.valid(replacing: "secret_env: GH_SECRET", with: "secret_env: «GH_SECRET"),
            message: "GH_SECRET (the HMAC secret) is not set", environment: [:]),
        ErrorCase(
            name: "HS256 secret shorter than 32 bytes",
            yaml: ConfigFixture.valid(replacing: "secret_env: GH_SECRET", with: "secret_env: «GH_SECRET"),
            message: "needs at least 32", environment: ["GH_SECRET": String(repeating: "x", count: 20)]),
        ErrorCase(
            name: "HS512 secret shorter than 64 bytes",
            yaml: ConfigFixture.valid(replacing: "algorithms: [HS256]\n      secret_env: GH_SECRET", with: "algorithms: [HS512]\n      secret_env: «GH_SECRET"),
            message: "needs at least 64", environment: ["GH_SECRET": String(repeating: "x", count: 40)]),
        replacing(
            "invalid roles_claim", "      secret_env: GH_SECRET\n", "      secret_env: GH_SECRET\n      roles_claim: «a..b\n",
            "invalid claim path"),
        replacing(
            "issuer configured twice", "routes:\n",
            "    - «issuer: https://id.example.test/\n      audience: x\n      algorithms: [HS256]\n      secret_env: GH_SECRET\nroutes:\n",
            "configured twice (first at routes.yaml:4:7)"),
        // Routes.
        replacing("** in the middle", "    path: /admin/**\n", "    path: «/admin/**/x\n", "'**' is only allowed as the last segment"),
        replacing("pattern without /", "    path: /admin/**\n", "    path: «admin/**\n", "must start with '/'"),
        replacing("dot segment in a pattern", "    path: /admin/**\n", "    path: «/admin/%2e%2e/**\n", "is not a valid path segment"),
        replacing("pattern not normalised", "    path: /admin/**\n", "    path: «/admin/%41/**\n", "not in normalised form"),
        replacing("parameter twice", "    path: /admin/**\n", "    path: «/admin/{x}/{x}\n", "appears twice"),
        replacing("empty segment", "    path: /admin/**\n", "    path: «/admin//x\n", "empty segment"),
        replacing(
            "{param} not in the path", "    path: /users/{id}/**\n    claims:\n      sub: \"{id}\"",
            "    path: /users/{uid}/**\n    claims:\n      sub: «\"{id}\"", "'{id}' is not a parameter"),
        ErrorCase(
            name: "route without access", yaml: ConfigFixture.valid(replacing: "tests:\n", with: "  - «path: /x\ntests:\n"),
            message: "needs one of public: true, deny: true, or a requirement"),
        replacing("public and a requirement", "  - path: /healthz\n    methods: [GET]\n    public: true\n",
            "  - «path: /healthz\n    methods: [GET]\n    public: true\n    roles: [a]\n", "must have only one of"),
        ErrorCase(
            name: "route id used twice",
            yaml: ConfigFixture.valid(replacing: "tests:\n", with: "  - «id: admin\n    path: /other\n    public: true\ntests:\n"),
            message: "route id 'admin' is used twice"),
        replacing("invalid method", "    methods: [GET]\n", "    methods: «[GET, \"G T\"]\n", "is not an HTTP method"),
        // Default.
        ErrorCase(name: "default allow", yaml: ConfigFixture.valid + "default: «allow\n", message: "default must be 'deny' or a requirement"),
        ErrorCase(name: "default public", yaml: ConfigFixture.valid + "default: «{public: true}\n", message: "default cannot be public"),
        ErrorCase(name: "default with unknown key", yaml: ConfigFixture.valid + "default: {«role: [a]}\n", message: "unknown key 'role'"),
        // Identity headers.
        ErrorCase(
            name: "Authorization as identity header", yaml: ConfigFixture.valid + "identity_headers:\n  «Authorization: subject\n",
            message: "cannot be an identity header"),
        ErrorCase(
            name: "X_Forwarded_For as identity header", yaml: ConfigFixture.valid + "identity_headers:\n  «X_Forwarded_For: subject\n",
            message: "cannot be an identity header"),
        ErrorCase(
            name: "identity header twice in another spelling",
            yaml: ConfigFixture.valid + "identity_headers:\n  X-Auth-User: subject\n  «x_auth.user: email\n", message: "listed twice"),
        ErrorCase(
            name: "invalid header name", yaml: ConfigFixture.valid + "identity_headers:\n  «X Auth: subject\n",
            message: "is not a valid header name"),
        // Tests.
        replacing("unknown reason", "    expect: 200\n", "    expect: {status: 401, reason: «token_missed}\n", "unknown reason 'token_missed'"),
        replacing("status 500", "    expect: 200\n", "    expect: «500\n", "a policy test expects 200"),
        replacing("malformed request", "  - request: GET /healthz\n", "  - request: «GET\n", "request must be 'METHOD /path'"),
        replacing("unknown token keyword", "    expect: 200\n", "    token: «forged\n    expect: 200\n", "token must be a mapping of claims or one of"),
        replacing("unknown test issuer", "    expect: 200\n", "    issuer: «https://other.example/\n    expect: 200\n", "is not configured"),
        replacing("missing expect", "  - request: GET /healthz\n    expect: 200\n", "  - «request: GET /healthz\n", "missing 'expect'"),
        // YAML itself. A duplicate key is reported where the duplicate is written (the second occurrence), as
        // yamllint and go-yaml do: the first one is usually the line the user meant to keep.
        replacing(
            "duplicate YAML key", "      audience: orders-api\n", "      audience: orders-api\n      «audience: other-api\n",
            "duplicate key 'audience'"),
        ErrorCase(name: "YAML syntax error", yaml: ConfigFixture.valid + "«@invalid: x\n", message: "YAML"),
    ]

    @Test("every error is reported at its file:line:col", arguments: errorCases)
    func error(errorCase: ErrorCase) async throws {
        let marked = MarkedYAML(errorCase.yaml)
        let location = try #require(marked.marks.last)
        let outcome = await ConfigFixture.load(marked.text, environment: errorCase.environment)
        #expect(outcome.configuration == nil, "a file with an error must not load")
        let found = outcome.diagnostic(at: location, .error, containing: errorCase.message)
        #expect(found != nil, "expected an error at \(location) containing \"\(errorCase.message)\"; got:\n\(outcome.listing)")
        if let found {
            #expect(found.description.hasPrefix("routes.yaml:\(location.line):\(location.column): error: "))
            #expect(found.location == "routes.yaml:\(location.line):\(location.column)")
        }
    }

    @Test("an empty file is an error")
    func emptyFile() async {
        for text in ["", "# only a comment\n"] {
            let outcome = await ConfigFixture.load(text)
            #expect(outcome.configuration == nil)
            #expect(outcome.errors.contains { $0.message.contains("empty") }, "\(outcome.listing)")
        }
    }

    @Test("missing tokens and routes are errors")
    func missingSections() async {
        let outcome = await ConfigFixture.load("version: 1\n")
        #expect(outcome.configuration == nil)
        #expect(outcome.errors.contains { $0.message.contains("missing 'tokens'") })
        #expect(outcome.errors.contains { $0.message.contains("missing 'routes'") })
    }

    @Test("clashing routes are an error naming both, with their lines")
    func clash() async throws {
        let marked = MarkedYAML(
            ConfigFixture.valid(
                replacing: "  - id: admin\n",
                with: "  - «id: admin-any\n    path: /admin/{section}\n    roles: [root]\n  - «id: admin-star\n    path: /admin/*\n    public: true\n  - id: admin\n"
            ))
        let outcome = await ConfigFixture.load(marked.text)
        #expect(outcome.configuration == nil)
        let first = marked.marks[0]
        let second = marked.marks[1]
        let found = outcome.diagnostic(at: second, .error, containing: "'admin-any' (routes.yaml:\(first))")
        #expect(found != nil, "\(outcome.listing)")
        #expect(found?.message.contains("'admin-star' (routes.yaml:\(second))") == true)
    }

    @Test("same pattern with overlapping methods clashes; disjoint methods do not")
    func methodClash() async throws {
        let overlapping = MarkedYAML(
            ConfigFixture.valid(
                replacing: "tests:\n",
                with: "  - «id: read\n    path: /orders/**\n    methods: [GET, POST]\n    scopes: read\n  - «id: write\n    path: /orders/**\n    methods: [POST, DELETE]\n    scopes: write\ntests:\n"
            ))
        let outcome = await ConfigFixture.load(overlapping.text)
        #expect(outcome.configuration == nil)
        #expect(outcome.diagnostic(at: overlapping.marks[1], .error, containing: "'read' (routes.yaml:\(overlapping.marks[0]))") != nil, "\(outcome.listing)")

        let disjoint = ConfigFixture.valid(
            replacing: "tests:\n",
            with: "  - id: read\n    path: /orders/**\n    methods: [GET]\n    scopes: read\n  - id: write\n    path: /orders/**\n    methods: [POST, DELETE]\n    scopes: write\ntests:\n")
        let ok = await ConfigFixture.load(disjoint)
        #expect(ok.configuration != nil, "\(ok.listing)")
    }

    @Test("every error of a file is reported in one run, in file order")
    func severalErrors() async throws {
        let marked = MarkedYAML(
            """
            version: 1
            «colour: blue
            tokens:
              issuers:
                - issuer: https://id.example.test/
                  audience: orders-api
                  algorithms: «[none]
                  secret_env: GH_SECRET
            routes:
              - path: «/a/**/b
                public: true
              - id: admin
                path: /admin/**
                roles: [admin]
                «colour: red
            default: «allow
            tests:
              - request: GET /a
                expect: {status: 200, reason: «nope}

            """)
        let outcome = await ConfigFixture.load(marked.text)
        #expect(outcome.configuration == nil)
        let expected = ["unknown key 'colour'", "algorithm 'none'", "'**' is only allowed", "unknown key 'colour'", "default must be", "unknown reason 'nope'"]
        #expect(marked.marks.count == expected.count)
        for (location, message) in zip(marked.marks, expected) {
            #expect(outcome.diagnostic(at: location, .error, containing: message) != nil, "\(location) \(message)\n\(outcome.listing)")
        }
        let lines = outcome.diagnostics.map(\.line)
        #expect(lines == lines.sorted())
    }

    // MARK: warnings

    @Test("audience: any loads, with a warning at its line")
    func audienceAny() async throws {
        let marked = MarkedYAML(ConfigFixture.valid(replacing: "audience: orders-api", with: "audience: «any"))
        let outcome = await ConfigFixture.load(marked.text)
        let configuration = try #require(outcome.configuration, "\(outcome.listing)")
        #expect(configuration.policy.verifier.issuers["https://id.example.test/"]?.audiences == nil)
        #expect(outcome.diagnostic(at: marked.marks[0], .warning, containing: "audience: any") != nil, "\(outcome.listing)")
    }

    @Test("audience: \"any\" quoted is an audience named any, not the keyword")
    func audienceQuotedAny() async throws {
        let outcome = await ConfigFixture.load(ConfigFixture.valid(replacing: "audience: orders-api", with: "audience: \"any\""))
        let configuration = try #require(outcome.configuration, "\(outcome.listing)")
        #expect(configuration.policy.verifier.issuers["https://id.example.test/"]?.audiences == ["any"])
        #expect(outcome.warnings.isEmpty)
    }

    @Test("a secret exactly as long as the hash output loads without complaint")
    func secretLongEnough() async throws {
        let outcome = await ConfigFixture.load(ConfigFixture.valid, environment: ["GH_SECRET": String(repeating: "k", count: 32)])
        #expect(outcome.configuration != nil, "\(outcome.listing)")
        #expect(outcome.diagnostics.isEmpty)
    }

    @Test("a long leeway is a warning")
    func longLeeway() async throws {
        let marked = MarkedYAML(ConfigFixture.valid(replacing: "tokens:\n  issuers:", with: "tokens:\n  leeway: «10m\n  issuers:"))
        let outcome = await ConfigFixture.load(marked.text)
        #expect(outcome.configuration != nil, "\(outcome.listing)")
        #expect(outcome.diagnostic(at: marked.marks[0], .warning, containing: "leeway") != nil, "\(outcome.listing)")
    }

    @Test("a public route shadowing a protected one is a warning naming both")
    func publicShadow() async throws {
        let marked = MarkedYAML(
            ConfigFixture.valid(
                replacing: "  - id: admin\n",
                with: "  - «path: /admin/health\n    public: true\n  - «id: admin\n"))
        let outcome = await ConfigFixture.load(marked.text)
        #expect(outcome.configuration != nil, "\(outcome.listing)")
        let warning = outcome.diagnostic(at: marked.marks[0], .warning, containing: "'/admin/health'")
        #expect(warning != nil, "\(outcome.listing)")
        #expect(warning?.message.contains("'admin' (routes.yaml:\(marked.marks[1]))") == true)
    }

    @Test("a public route next to, but not inside, a protected area is not a warning")
    func publicNotShadowing() async throws {
        let outcome = await ConfigFixture.load(
            ConfigFixture.valid(replacing: "  - id: admin\n", with: "  - path: /administrator\n    public: true\n  - id: admin\n"))
        #expect(outcome.configuration != nil, "\(outcome.listing)")
        #expect(outcome.warnings.isEmpty, "\(outcome.listing)")
    }

    // MARK: key files

    static let keycloakJWKS = """
        {"keys": [
          {"kid": "kc-sig", "kty": "RSA", "alg": "RS256", "use": "sig",
           "n": "p3bjLGVKCEMKP5Bn3vrhoyForpsZ3V8N5lUTLEW3AiJmJMKyfghKx_MnVyvUvHIoGkijZ74IV4bqHfl_CKXXIEcEfn9LSwDFzLbYV98KglBAub4FC-UYtEdHQlQgQU4LI52e-lrEP_NpPG7BxpInPaC3JORsCmqV7xE_o8ZukK3tJ7xPYM_2hkOC4fy8eslkQuaeKag8T5J6rygx4F2Olub6k9_Dj3fhPvIn0rt4Fcyl-CtZ4aHmmLO_5Ms2MsOaknuKtPUZQCAavwD7rN_qg6-vfQMMoI7uo-gBFYLJXDzYf5-0WSwzT1tksmelO4qM87QNtAcZJdCc9-pQy4xERw",
           "e": "AQAB"},
          {"kid": "kc-enc", "kty": "RSA", "alg": "RSA-OAEP", "use": "enc",
           "n": "07Xu62QC7eIoYnrRfPTLRBgYAcllT35CNaqNGj37WUSAyrE-we0jZWvVfzRagm6zrO4VIw2H04T6RRNbYmTKzhtX-vPjLgb6pjP-4jdxcQ-4NYedxm3o1dhaRclbLpV_gyTGAa7Z09NrIAtCsuBBKsNFkbCsn4WTUqriVAll0CDZQ-VB61adwJX91pSkFD5QvGXYaMStFY_KNRaSkwppP08EzGzWo07X2OZ4lYeID2KVrodGoDAui7LG5zn6-6kOkika8emmthebC6TR1s2CLTYXf0QC9ki32V8Ac3oA3f2XRQX76wt8Ug5VMsNpoaOMZFYkxZCHbL6I7yLO3hzxnw",
           "e": "AQAB"},
          {"kid": "shared", "kty": "oct", "k": "c2VjcmV0"}
        ]}
        """

    @Test("jwks_file: keys with use: enc (and symmetric keys) are skipped with a warning; signing keys are kept")
    func jwksSkipsEncryptionKeys() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write(Self.keycloakJWKS, to: "keys/jwks.json")
        let marked = MarkedYAML(
            ConfigFixture.valid(replacing: "algorithms: [HS256]\n      secret_env: GH_SECRET", with: "algorithms: [RS256]\n      jwks_file: «keys/jwks.json"))
        let outcome = await ConfigFixture.load(marked.text, directory: directory.path)
        let configuration = try #require(outcome.configuration, "\(outcome.listing)")
        let issuer = try #require(configuration.issuers.first)
        #expect(issuer.keys.map(\.kid) == ["kc-sig"])
        #expect(issuer.keys.first?.algorithm == .rs256)
        #expect(configuration.keys.keysByIssuer["https://id.example.test/"]?.map(\.kid) == ["kc-sig"])
        #expect(outcome.diagnostic(at: marked.marks[0], .warning, containing: "kc-enc") != nil, "\(outcome.listing)")
        #expect(outcome.diagnostic(at: marked.marks[0], .warning, containing: "shared") != nil, "\(outcome.listing)")
        #expect(outcome.errors.isEmpty)
    }

    @Test("a JWKS with no usable key is an error")
    func jwksWithoutUsableKey() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write(#"{"keys": [{"kid": "shared", "kty": "oct", "k": "c2VjcmV0"}]}"#, to: "keys/jwks.json")
        let marked = MarkedYAML(
            ConfigFixture.valid(replacing: "algorithms: [HS256]\n      secret_env: GH_SECRET", with: "algorithms: [RS256]\n      jwks_file: «keys/jwks.json"))
        let outcome = await ConfigFixture.load(marked.text, directory: directory.path)
        #expect(outcome.configuration == nil)
        #expect(outcome.diagnostic(at: marked.marks[0], .error, containing: "no usable key") != nil, "\(outcome.listing)")
    }

    @Test("a PEM file is read relative to the file's directory and must fit the algorithms")
    func pemFiles() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.writeP256PublicKey(to: "keys/es.pem")
        try directory.write("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n", to: "keys/garbage.pem")

        let good = ConfigFixture.valid(replacing: "algorithms: [HS256]\n      secret_env: GH_SECRET", with: "algorithms: [ES256]\n      pem_file: keys/es.pem")
        let loaded = await ConfigFixture.load(good, directory: directory.path)
        let configuration = try #require(loaded.configuration, "\(loaded.listing)")
        #expect(configuration.keys.keysByIssuer["https://id.example.test/"]?.map(\.algorithm) == [.es256])

        let wrongKind = MarkedYAML(
            ConfigFixture.valid(replacing: "algorithms: [HS256]\n      secret_env: GH_SECRET", with: "algorithms: «[RS256]\n      pem_file: keys/es.pem"))
        let refused = await ConfigFixture.load(wrongKind.text, directory: directory.path)
        #expect(refused.configuration == nil)
        #expect(refused.diagnostic(at: wrongKind.marks[0], .error, containing: "RS256") != nil, "\(refused.listing)")

        let garbage = MarkedYAML(
            ConfigFixture.valid(replacing: "algorithms: [HS256]\n      secret_env: GH_SECRET", with: "algorithms: [ES256]\n      pem_file: «keys/garbage.pem"))
        let unreadable = await ConfigFixture.load(garbage.text, directory: directory.path)
        #expect(unreadable.configuration == nil)
        #expect(unreadable.diagnostic(at: garbage.marks[0], .error, containing: "garbage.pem") != nil, "\(unreadable.listing)")
    }

    @Test("load(path:) reports a missing file as file:1:1")
    func missingFile() async {
        do {
            _ = try await ConfigurationLoader(environment: [:]).load(path: "/nonexistent/routes.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.map(\.location) == ["/nonexistent/routes.yaml:1:1"])
        }
    }
}
