import GatehouseConfig
import GatehousePolicy
import Testing

@testable import GatehouseProxy

/// Gatehouse on a loopback port in front of a recording upstream, driven with raw bytes: what the client gets back
/// and what the upstream received.
@Suite(.timeLimit(.minutes(2)))
struct ProxyEndToEndTests {
    // MARK: decisions through the socket

    enum Credential: Sendable {
        case none
        case token(roles: [String]?, scope: String?)
        case expired
        case wrongKey
        case basic
        case two
    }

    struct DecisionCase: Sendable, CustomTestStringConvertible {
        let method: String
        let target: String
        let credential: Credential
        let status: Int
        let challenge: String?
        let reason: String
        var testDescription: String { "\(method) \(target) → \(status) \(reason)" }
    }

    static let reader = Credential.token(roles: nil, scope: "orders:read")

    static let decisionCases: [DecisionCase] = [
        DecisionCase(
            method: "GET",
            target: "/public/info",
            credential: .none,
            status: 200,
            challenge: nil,
            reason: "public_route"
        ),
        DecisionCase(
            method: "GET",
            target: "/orders/42",
            credential: .none,
            status: 401,
            challenge: "Bearer realm=\"gatehouse\"",
            reason: "token_missing"
        ),
        DecisionCase(
            method: "GET",
            target: "/orders/42",
            credential: .basic,
            status: 401,
            challenge: "Bearer realm=\"gatehouse\"",
            reason: "token_missing"
        ),
        DecisionCase(
            method: "GET",
            target: "/orders/42",
            credential: reader,
            status: 200,
            challenge: nil,
            reason: "authorized"
        ),
        DecisionCase(
            method: "HEAD",
            target: "/orders/42",
            credential: reader,
            status: 200,
            challenge: nil,
            reason: "authorized"
        ),
        DecisionCase(
            method: "DELETE",
            target: "/orders/42",
            credential: reader,
            status: 403,
            challenge:
                "Bearer realm=\"gatehouse\", error=\"insufficient_scope\", scope=\"orders:write\", "
                + "error_description=\"requires scope orders:write\"",
            reason: "missing_scope"
        ),
        DecisionCase(
            method: "GET",
            target: "/admin/users",
            credential: .token(roles: ["support"], scope: nil),
            status: 403,
            challenge:
                "Bearer realm=\"gatehouse\", error=\"insufficient_scope\", error_description=\"requires role admin\"",
            reason: "missing_role"
        ),
        DecisionCase(
            method: "GET",
            target: "/admin/users",
            credential: .token(roles: ["admin"], scope: nil),
            status: 200,
            challenge: nil,
            reason: "authorized"
        ),
        DecisionCase(
            method: "GET",
            target: "/orders/42",
            credential: .expired,
            status: 401,
            challenge: "Bearer realm=\"gatehouse\", error=\"invalid_token\", error_description=\"the token expired\"",
            reason: "token_expired"
        ),
        DecisionCase(
            method: "GET",
            target: "/orders/42",
            credential: .wrongKey,
            status: 401,
            challenge:
                "Bearer realm=\"gatehouse\", error=\"invalid_token\", "
                + "error_description=\"the token signature is invalid\"",
            reason: "signature_invalid"
        ),
        DecisionCase(
            method: "GET",
            target: "/orders/42",
            credential: .two,
            status: 401,
            challenge:
                "Bearer realm=\"gatehouse\", error=\"invalid_token\", "
                + "error_description=\"more than one Authorization header\"",
            reason: "credentials_malformed"
        ),
        DecisionCase(
            method: "GET",
            target: "/internal/metrics",
            credential: .token(roles: ["admin"], scope: nil),
            status: 403,
            challenge: nil,
            reason: "route_denied"
        ),
        DecisionCase(
            method: "GET",
            target: "/billing",
            credential: .token(roles: ["admin"], scope: nil),
            status: 403,
            challenge: nil,
            reason: "no_route_matched"
        ),
        DecisionCase(
            method: "GET",
            target: "/public/../admin/users",
            credential: .none,
            status: 400,
            challenge: nil,
            reason: "path_unsafe"
        ),
        DecisionCase(
            method: "GET",
            target: "/public/%2e%2e/admin/users",
            credential: .none,
            status: 400,
            challenge: nil,
            reason: "path_unsafe"
        ),
        DecisionCase(
            method: "GET",
            target: "/admin%2Fusers",
            credential: .token(roles: ["admin"], scope: nil),
            status: 400,
            challenge: nil,
            reason: "path_unsafe"
        ),
        DecisionCase(
            method: "GET",
            target: "/public;x=1/../admin",
            credential: .none,
            status: 400,
            challenge: nil,
            reason: "path_unsafe"
        ),
        DecisionCase(
            method: "GET",
            target: "/public/a#frag",
            credential: .none,
            status: 400,
            challenge: nil,
            reason: "path_unsafe"
        ),
    ]

    @Test(arguments: decisionCases)
    func decision(_ testCase: DecisionCase) async throws {
        try await withGatehouse { gatehouse in
            let authorization: String
            switch testCase.credential {
            case .none: authorization = ""
            case .basic: authorization = "Authorization: Basic YWxpY2U6c2VjcmV0\r\n"
            case .token(let roles, let scope): authorization = try gatehouse.bearer(roles: roles, scope: scope)
            case .expired:
                authorization =
                    "Authorization: Bearer \(try gatehouse.token(scope: "orders:read", issuedAgo: 3600))\r\n"
            case .wrongKey:
                let issuer = try #require(gatehouse.configuration.issuers.first?.policy)
                let stranger = try #require(gatehouse.keys.strangers[ProxyHarness.issuer])
                let token = try stranger.mint(
                    TestKeys.claims(["scope": .string("orders:read")], issuer: issuer, now: gatehouse.now)
                )
                authorization = "Authorization: Bearer \(token)\r\n"
            case .two:
                authorization = try gatehouse.bearer(roles: nil, scope: "orders:read") + "Authorization: Bearer x\r\n"
            }
            let client = try gatehouse.connect()
            try client.send(rawRequest(testCase.method, testCase.target, headers: authorization))
            let response = try client.readResponse(method: testCase.method)
            #expect(response.status == testCase.status)
            #expect(response.values("WWW-Authenticate") == (testCase.challenge.map { [$0] } ?? []))
            if testCase.status == 200 {
                #expect(gatehouse.upstream.completedRequests.count == 1)
                #expect(response.header("Content-Length") == "11")
                if testCase.method != "HEAD" { #expect(response.text == "upstream-ok") }
            } else {
                #expect(response.header("Content-Type") == "application/json")
                #expect(response.header("Cache-Control") == "no-store")
                #expect(response.text.contains("\"reason\":\"\(testCase.reason)\""))
                #expect(gatehouse.upstream.requests.isEmpty)
                #expect(gatehouse.upstream.connectionCount == 0)
            }
            // The access log names the reason, never the credential.
            let entry = try #require(gatehouse.accessLog.logged.last { $0.message == "request" })
            #expect(entry.metadata[LogKeys.reason] == testCase.reason)
            #expect(entry.metadata[LogKeys.status] == String(testCase.status))
            // Every credential sent (a request may carry several Authorization lines).
            let credentials = authorization.split(separator: "\r\n").compactMap { line in
                line.split(separator: " ", maxSplits: 2).dropFirst(2).first.map(String.init)
            }
            // Long enough not to turn up in a log line by chance (the Basic credential is 16 characters).
            for credential in credentials where credential.count >= 16 {
                for logged in gatehouse.accessLog.logged {
                    #expect(!logged.metadata.values.contains { $0.contains(credential) })
                }
            }
        }
    }

    @Test func deniedRequestsKeepTheConnectionUsable() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/orders/1"))
            #expect(try client.readResponse().status == 401)
            try client.send(rawRequest("GET", "/internal/x", headers: try gatehouse.bearer()))
            #expect(try client.readResponse().status == 403)
            try client.send(rawRequest("GET", "/orders/1", headers: try gatehouse.bearer()))
            let allowed = try client.readResponse()
            #expect(allowed.status == 200)
            #expect(gatehouse.upstream.completedRequests.map(\.uri) == ["/orders/1"])
        }
    }

    // MARK: what the upstream sees

    @Test func upstreamSeesTheNormalisedPathAndOnlyInjectedIdentity() async throws {
        try await withGatehouse { gatehouse in
            let token = try gatehouse.token(
                subject: "alice",
                roles: ["user", "admin"],
                scope: "orders:read",
                email: "alice@example.test"
            )
            let client = try gatehouse.connect()
            try client.send(
                rawRequest(
                    "GET",
                    "//api///profile/%7Ealice/%41?x=%2F..&y=1",
                    headers: """
                        Authorization: Bearer \(token)\r
                        X-Auth-Subject: mallory\r
                        x-auth-subject: mallory\r
                        X_Auth_Subject: mallory\r
                        X.Auth.Subject: mallory\r
                        X-AUTH-ROLES: mallory\r
                        x_auth_scopes: mallory\r
                        X-Auth-Tenant: mallory\r
                        X-User-Email: mallory\r
                        X_User_Email: mallory\r
                        x.user.email: mallory\r
                        X-Original-URL: /mallory\r
                        X-Rewrite-URL: /mallory\r
                        X-Original-URI: /mallory\r
                        X-Forwarded-Uri: /mallory\r
                        X-Forwarded-Path: /mallory\r
                        X-Forwarded-Prefix: /mallory\r
                        X-Envoy-Original-Path: /mallory\r
                        X-HTTP-Method-Override: mallory\r
                        X-HTTP-Method: mallory\r
                        X-Method-Override: mallory\r
                        X-Forwarded-For: 6.6.6.6, mallory\r
                        X-Forwarded-Host: mallory\r
                        X-Forwarded-Proto: mallory\r
                        Forwarded: for=mallory\r
                        Proxy-Authorization: mallory\r
                        Connection: keep-alive, X-Hop\r
                        X-Hop: mallory\r
                        X-Kept: yes\r

                        """
                )
            )
            let response = try client.readResponse()
            #expect(response.status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.method == "GET")
            #expect(request.uri == "/api/profile/~alice/A?x=%2F..&y=1")
            #expect(request.version == .http1_1)
            #expect(request.values("X-Auth-Subject") == ["alice"])
            #expect(request.values("X-Auth-Roles") == ["admin,user"])
            #expect(request.values("X-Auth-Scopes") == ["orders:read"])
            #expect(request.values("X-User-Email") == ["alice@example.test"])
            let identityLike = request.headers.filter {
                let folded = HeaderName.fold($0.name)
                return folded.hasPrefix("x-auth-") || folded == "x-user-email"
            }
            #expect(identityLike.count == 4)
            for header in request.headers {
                #expect(!header.value.contains("mallory"), "\(header.name): \(header.value) reached the upstream")
            }
            #expect(request.values("X-Kept") == ["yes"])
            #expect(request.values("Authorization") == ["Bearer \(token)"])
            #expect(request.values("X-Forwarded-For") == ["127.0.0.1"])
            #expect(request.values("X-Forwarded-Proto") == ["http"])
            #expect(request.values("X-Forwarded-Host") == ["gatehouse.test"])
            #expect(request.values("Forwarded") == ["for=127.0.0.1;proto=http;host=gatehouse.test"])
            #expect(request.values("Host") == ["gatehouse.test"])
            #expect(request.values("Connection").isEmpty)
            #expect(request.values("X-Request-Id").count == 1)
            #expect(request.values("X-Request-Id") == response.values("X-Request-Id"))
        }
    }

    @Test func publicRoutesStripSpoofedIdentityToo() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                rawRequest(
                    "GET",
                    "/public/page",
                    headers:
                        "X-Auth-Subject: admin\r\nX_Auth_Roles: admin\r\nx.auth.scopes: all\r\nX-USER_EMAIL: a@b\r\n"
                )
            )
            #expect(try client.readResponse().status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            for header in request.headers {
                let folded = HeaderName.fold(header.name)
                #expect(!folded.hasPrefix("x-auth-") && folded != "x-user-email", "\(header.name) reached the upstream")
            }
        }
    }

    @Test(
        "a Connection header nominating a protected header is refused",
        arguments: [
            "X-Auth-Subject", "close, x_auth_roles", "X.Auth.Scopes", "X-User-Email", "Authorization", "Host",
            "Content-Length", "Transfer-Encoding", "X-Forwarded-For", "X-Request-Id", "keep-alive, X-Auth-Whatever",
        ]
    )
    func connectionTricks(nominated: String) async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                rawRequest("GET", "/api/profile", headers: try gatehouse.bearer() + "Connection: \(nominated)\r\n")
            )
            try gatehouse.expectRefusedAndClosed(client, status: 400)
        }
    }

    @Test func forwardAuthorizationFalseStripsTheToken() async throws {
        try await withGatehouse(yaml: ProxyHarness.yaml("forward_authorization: false")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/x", headers: try gatehouse.bearer()))
            #expect(try client.readResponse().status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.values("Authorization").isEmpty)
            #expect(request.values("X-Auth-Subject") == ["alice"])
        }
    }

    @Test func forwardingHeadersFromATrustedProxyAreAppendedTo() async throws {
        try await withGatehouse(yaml: ProxyHarness.yaml("trusted_proxies: [127.0.0.0/8]")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                rawRequest(
                    "GET",
                    "/public/x",
                    headers:
                        "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n"
                )
            )
            #expect(try client.readResponse().status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.values("X-Forwarded-For") == ["203.0.113.7, 127.0.0.1"])
            #expect(request.values("X-Forwarded-Proto") == ["https"])
            #expect(request.values("X-Forwarded-Host") == ["shop.example"])
        }
    }

    @Test func perRouteUpstream() async throws {
        let dead = try DeadPort()
        // The default upstream is dead; only the api route has its own, the recording upstream.
        let yaml = ProxyHarness.yaml("upstream: http://127.0.0.1:\(dead.port)").replacing(
            "    path: /api/**\n",
            with: "    path: /api/**\n    upstream: http://127.0.0.1:{UPSTREAM_PORT}\n"
        )
        try await withGatehouse(yaml: yaml, routing: .configured) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/api/x", headers: try gatehouse.bearer()))
            #expect(try client.readResponse().status == 200)
            try client.send(rawRequest("GET", "/public/x"))
            #expect(try client.readResponse().status == 502)
            #expect(gatehouse.upstream.completedRequests.map(\.uri) == ["/api/x"])
        }
        withExtendedLifetime(dead) {}
    }

    // MARK: request ids

    @Test(arguments: ["trace-1234", "a.b_c:d/e", String(repeating: "z", count: 128)])
    func saneRequestIDIsKept(id: String) async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/public/x", headers: "X-Request-Id: \(id)\r\n"))
            let response = try client.readResponse()
            #expect(response.values("X-Request-Id") == [id])
            #expect(gatehouse.upstream.completedRequests.first?.values("X-Request-Id") == [id])
            // Local answers carry it too.
            try client.send(rawRequest("GET", "/orders/1", headers: "X-Request-Id: \(id)\r\n"))
            let denied = try client.readResponse()
            #expect(denied.status == 401)
            #expect(denied.values("X-Request-Id") == [id])
        }
    }

    @Test(arguments: ["", "has space", "<script>", "a,b", String(repeating: "z", count: 129), "two\u{00E9}"])
    func insaneRequestIDIsReplaced(id: String) async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/public/x", headers: "X-Request-Id: \(id)\r\n"))
            let response = try client.readResponse()
            #expect(response.status == 200)
            let generated = try #require(response.header("X-Request-Id"))
            #expect(generated != id)
            #expect(generated.count == 32 && generated.allSatisfy(\.isHexDigit))
            #expect(response.values("X-Request-Id").count == 1)
            #expect(gatehouse.upstream.completedRequests.first?.values("X-Request-Id") == [generated])
        }
    }

    @Test func requestIDIsGeneratedWhenAbsentAndDiffersPerRequest() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/public/1"))
            let first = try client.readResponse().header("X-Request-Id")
            try client.send(rawRequest("GET", "/public/2"))
            let second = try client.readResponse().header("X-Request-Id")
            #expect(first != nil && second != nil && first != second)
        }
    }

    // MARK: connection handling

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            let bearer = try gatehouse.bearer()
            try client.send(
                rawRequest("GET", "/api/1", headers: bearer) + rawRequest("GET", "/orders/2")
                    + rawRequest("POST", "/api/3", headers: bearer, body: "three")
                    + rawRequest("GET", "/internal/4", headers: bearer)
                    + rawRequest("GET", "/public/5")
            )
            let statuses = try (0..<5).map { _ in try client.readResponse().status }
            #expect(statuses == [200, 401, 200, 403, 200])
            let requests = gatehouse.upstream.completedRequests
            #expect(requests.map(\.uri) == ["/api/1", "/api/3", "/public/5"])
            #expect(requests.map(\.body) == ["", "three", ""])
        }
    }

    @Test func manyConnectionsAtOnceEachGetTheirOwnAnswersInOrder() async throws {
        try await withGatehouse { gatehouse in
            let bearer = try gatehouse.bearer()
            let clients = try (0..<24).map { _ in try gatehouse.connect() }
            // Every client sends before any reads: each event loop handles many requests per round of I/O and
            // batches their flushes, to the upstream and to the clients alike.
            for (index, client) in clients.enumerated() {
                try client.send(
                    rawRequest("GET", "/api/\(index)", headers: bearer + "X-Request-Id: c\(index)-a\r\n")
                        + rawRequest("GET", "/orders/\(index)", headers: "X-Request-Id: c\(index)-b\r\n")
                        + rawRequest("GET", "/public/\(index)", headers: "X-Request-Id: c\(index)-c\r\n"))
            }
            for (index, client) in clients.enumerated() {
                let responses = try (0..<3).map { _ in try client.readResponse() }
                #expect(responses.map(\.status) == [200, 401, 200], "client \(index)")
                #expect(responses.map { $0.header("X-Request-Id") } == ["c\(index)-a", "c\(index)-b", "c\(index)-c"])
            }
            let relayed = gatehouse.upstream.completedRequests.map(\.uri)
            #expect(relayed.count == 48)
            #expect(Set(relayed) == Set((0..<24).flatMap { ["/api/\($0)", "/public/\($0)"] }))
        }
    }

    @Test func aMalformedPipelinedRequestIsAnsweredInItsTurn() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            let bearer = try gatehouse.bearer()
            // The second head arrives (and fails to parse) while the first request is still with the upstream: the
            // first must still get its answer, then the 400.
            try client.send(
                rawRequest("GET", "/api/1", headers: bearer)
                    + "GET /api/2 HTTP/1.1\r\nHost: gatehouse.test\r\n\(bearer)Bad Name: x\r\n\r\n"
            )
            #expect(try client.readResponse().status == 200)
            #expect(try client.readResponse().status == 400)
            #expect(client.isClosedByPeer())
            #expect(gatehouse.upstream.completedRequests.map(\.uri) == ["/api/1"])
        }
    }

    /// A refused request whose answer ends the connection (the client asked to close, or its body is not read):
    /// what was pipelined behind it is never judged or sent.
    @Test(arguments: [
        rawRequest("GET", "/orders/1", headers: "Connection: close\r\n"),
        rawRequest("POST", "/api/1", body: "one"),
    ])
    func nothingIsJudgedAfterAnAnswerThatClosesTheConnection(first: String) async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(first + rawRequest("GET", "/api/2", headers: try gatehouse.bearer()))
            let response = try client.readResponse()
            #expect(response.status == 401)
            #expect(response.header("Connection") == "close")
            #expect(client.isClosedByPeer())
            #expect(gatehouse.upstream.connectionCount == 0)
        }
    }

    @Test func expectContinueIsAnsweredOnlyAfterAuthorization() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                "POST /orders/1 HTTP/1.1\r\nHost: gatehouse.test\r\n\(try gatehouse.bearer())Content-Length: 5\r\n"
                    + "Expect: 100-continue\r\n\r\n"
            )
            let interim = try client.readResponse()
            #expect(interim.status == 100)
            #expect(gatehouse.upstream.completedRequests.isEmpty)
            try client.send("hello")
            let final = try client.readResponse()
            #expect(final.status == 200)
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.body == "hello")
            #expect(request.values("Expect").isEmpty)
        }
    }

    @Test func expectContinueIsNotAnsweredWhenDenied() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                "POST /orders/1 HTTP/1.1\r\nHost: gatehouse.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            )
            try gatehouse.expectRefusedAndClosed(client, status: 401)
        }
    }

    @Test func headResponsesHaveNoBody() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("HEAD", "/public/file"))
            let head = try client.readResponse(method: "HEAD")
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "11")
            try client.send(rawRequest("GET", "/public/file"))
            let get = try client.readResponse()
            #expect(get.status == 200)
            #expect(get.text == "upstream-ok")
            #expect(gatehouse.upstream.completedRequests.map(\.method) == ["HEAD", "GET"])
        }
    }

    @Test(arguments: [204, 304])
    func bodilessStatuses(status: Int) async throws {
        let empty = "HTTP/1.1 \(status) Empty\r\nX-Note: empty\r\nETag: \"1\"\r\n\r\n"
        try await withGatehouse(upstream: .raw(empty, thenClose: false), onlyFor: "/public/empty") { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/public/empty"))
            let empty = try client.readResponse()
            #expect(empty.status == status)
            #expect(empty.header("X-Note") == "empty")
            #expect(empty.header("Transfer-Encoding") == nil)
            #expect(empty.bodyCount == 0)
            try client.send(rawRequest("GET", "/public/next"))
            let next = try client.readResponse()
            #expect(next.status == 200)
            #expect(next.text == "upstream-ok")
            #expect(client.unread.isEmpty)
        }
    }

    @Test func http10Client() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                rawRequest("GET", "/api/old", headers: try gatehouse.bearer(), version: "HTTP/1.0", host: nil)
            )
            let response = try client.readResponse()
            #expect(response.version == "HTTP/1.0")
            #expect(response.status == 200)
            #expect(response.text == "upstream-ok")
            #expect(client.isClosedByPeer())
            let request = try #require(gatehouse.upstream.completedRequests.first)
            #expect(request.version == .http1_1)
            #expect(request.values("Host") == ["127.0.0.1:\(gatehouse.upstreamPort)"])
            #expect(request.values("X-Auth-Subject") == ["alice"])
        }
    }

    @Test func http10KeepAliveClientIsToldAndKept() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            let keepAlive = "Connection: keep-alive\r\n"
            try client.send(rawRequest("GET", "/public/a", headers: keepAlive, version: "HTTP/1.0", host: nil))
            let first = try client.readResponse()
            #expect(first.version == "HTTP/1.0")
            #expect(first.status == 200)
            #expect(first.header("Connection")?.lowercased() == "keep-alive")
            try client.send(rawRequest("GET", "/orders/1", headers: keepAlive, version: "HTTP/1.0", host: nil))
            let second = try client.readResponse()
            #expect(second.status == 401)
            #expect(second.header("Connection")?.lowercased() == "keep-alive")
            #expect(gatehouse.upstream.completedRequests.map(\.uri) == ["/public/a"])
        }
    }

    @Test func closeDelimitedUpstreamBodyIsChunkedForTheClient() async throws {
        let unframed = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil-close"
        try await withGatehouse(upstream: .raw(unframed, thenClose: true), onlyFor: "/public/stream") { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/public/stream"))
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.header("Transfer-Encoding") == "chunked")
            #expect(response.header("Content-Length") == nil)
            #expect(response.text == "until-close")
            // The client's connection outlives the upstream's.
            try client.send(rawRequest("GET", "/public/next"))
            let next = try client.readResponse()
            #expect(next.status == 200)
            #expect(next.text == "upstream-ok")
        }
    }

    @Test func http10LocalAnswer() async throws {
        try await withGatehouse { gatehouse in
            let client = try gatehouse.connect()
            try client.send(rawRequest("GET", "/orders/1", version: "HTTP/1.0", host: nil))
            let response = try client.readResponse()
            #expect(response.version == "HTTP/1.0")
            #expect(response.status == 401)
            #expect(client.isClosedByPeer())
        }
    }

    // MARK: limits

    @Test func bodyOverTheLimitByContentLengthIs413() async throws {
        try await withGatehouse(yaml: ProxyHarness.yaml("limits: {max_body_bytes: 1024}")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                "POST /orders/1 HTTP/1.1\r\nHost: g\r\n\(try gatehouse.bearer())Content-Length: 1025\r\n\r\n"
            )
            try gatehouse.expectRefusedAndClosed(client, status: 413)
        }
    }

    @Test func chunkedBodyOverTheLimitIs413() async throws {
        try await withGatehouse(yaml: ProxyHarness.yaml("limits: {max_body_bytes: 1024}")) { gatehouse in
            let client = try gatehouse.connect()
            let chunk = String(repeating: "x", count: 800)
            try client.send(
                "POST /orders/1 HTTP/1.1\r\nHost: g\r\n\(try gatehouse.bearer())Transfer-Encoding: chunked\r\n\r\n"
                    + "320\r\n\(chunk)\r\n320\r\n\(chunk)\r\n0\r\n\r\n"
            )
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(client.isClosedByPeer())
            #expect(gatehouse.upstream.completedRequests.isEmpty)
        }
    }

    @Test func tooManyHeadersIs431() async throws {
        try await withGatehouse(yaml: ProxyHarness.yaml("limits: {max_headers: 10}")) { gatehouse in
            for count in [10, 11, 40] {
                let client = try gatehouse.connect()
                let headers = (0..<count).map { "X-H\($0): v\r\n" }.joined()
                try client.send(rawRequest("GET", "/public/x", headers: headers))
                let response = try client.readResponse()
                #expect(response.status == 431, "\(count) extra headers")
                #expect(client.isClosedByPeer())
            }
            #expect(gatehouse.upstream.connectionCount == 0)
        }
    }

    @Test func hugeHeadIs431() async throws {
        try await withGatehouse(yaml: ProxyHarness.yaml("limits: {max_head_bytes: 4096}")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                rawRequest("GET", "/public/x", headers: "X-Big: \(String(repeating: "a", count: 8192))\r\n")
            )
            try gatehouse.expectRefusedAndClosed(client, status: 431)
        }
    }

    @Test func incompleteHeadTimesOutWith408() async throws {
        try await withGatehouse(yaml: ProxyHarness.yaml("timeouts: {head: 1s}")) { gatehouse in
            let client = try gatehouse.connect()
            try client.send("GET /public/x HTTP/1.1\r\nHost: gatehouse.test\r\n")
            try gatehouse.expectRefusedAndClosed(client, status: 408)
        }
    }

    @Test func earlyUpstreamAnswerClosesTheClientConnection() async throws {
        try await withGatehouse(upstream: .respondEarly(status: 413)) { gatehouse in
            let client = try gatehouse.connect()
            try client.send(
                "POST /orders/1 HTTP/1.1\r\nHost: g\r\n\(try gatehouse.bearer())Content-Length: 1048576\r\n\r\n"
            )
            try client.sendPattern(count: 4096)
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(response.text == "early")
            #expect(client.isClosedByPeer())
        }
    }
}
