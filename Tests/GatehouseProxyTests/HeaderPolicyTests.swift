import GatehouseConfig
import NIOCore
import NIOHTTP1
import Testing

@testable import GatehousePolicy
@testable import GatehouseProxy

/// Client header hygiene with plain values: the request-target, `Connection` tokens, the head
/// sent upstream and the response head sent back.
struct HeaderPolicyTests {
    /// A request head as parsed from the wire.
    static func head(
        _ headers: [(String, String)],
        version: String = "HTTP/1.1",
        method: String = "GET",
        uri: String = "/a"
    ) throws -> RequestHead {
        let text = "\(method) \(uri) \(version)\r\n" + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
        return try RequestParser.parseHead(ByteBuffer(string: text), limits: ServerSettings.Limits())
    }

    static let host = ("Host", "gatehouse.test")

    static func classify(_ name: String) -> HeaderPolicy.Known {
        Array(name.utf8).withUnsafeBytes { HeaderPolicy.classify($0) }
    }

    // MARK: originTarget

    struct TargetCase: Sendable, CustomTestStringConvertible {
        let uri: String
        let host: String
        let expected: String?
        var testDescription: String { "\(uri) with Host \(host)" }
    }

    @Test(arguments: [
        TargetCase(uri: "/orders/1?x=2", host: "gatehouse.test", expected: "/orders/1?x=2"),
        TargetCase(uri: "/", host: "gatehouse.test", expected: "/"),
        TargetCase(uri: "http://gatehouse.test/orders/1?x=2", host: "gatehouse.test", expected: "/orders/1?x=2"),
        TargetCase(uri: "HTTP://GateHouse.Test/orders", host: "gatehouse.test", expected: "/orders"),
        TargetCase(uri: "https://gatehouse.test:8443/a", host: "gatehouse.test:8443", expected: "/a"),
        TargetCase(uri: "http://gatehouse.test", host: "gatehouse.test", expected: "/"),
        TargetCase(uri: "http://gatehouse.test?q=1", host: "gatehouse.test", expected: "/?q=1"),
        // Another host, or anything that is not a path.
        TargetCase(uri: "http://evil.test/orders", host: "gatehouse.test", expected: nil),
        TargetCase(uri: "http://gatehouse.test:8080/orders", host: "gatehouse.test", expected: nil),
        TargetCase(uri: "http://gatehouse.test@evil.test/orders", host: "gatehouse.test", expected: nil),
        TargetCase(uri: "http:///orders", host: "gatehouse.test", expected: nil),
        TargetCase(uri: "ftp://gatehouse.test/orders", host: "gatehouse.test", expected: nil),
        TargetCase(uri: "*", host: "gatehouse.test", expected: nil),
        TargetCase(uri: "gatehouse.test:443", host: "gatehouse.test", expected: nil),
        TargetCase(uri: "orders/1", host: "gatehouse.test", expected: nil),
        TargetCase(uri: "", host: "gatehouse.test", expected: nil),
    ])
    func originTarget(_ testCase: TargetCase) {
        do {
            let target = try HeaderPolicy.originTarget(testCase.uri, host: testCase.host)
            #expect(target == testCase.expected)
        } catch {
            #expect(testCase.expected == nil, "refused: \(error.detail)")
            #expect(error.status == 400)
        }
    }

    @Test func absoluteFormWithoutHostIsRefused() {
        #expect(throws: HeaderPolicy.Refusal.self) { try HeaderPolicy.originTarget("http://gatehouse.test/orders", host: nil) }
    }

    // MARK: connectionTokens

    static let identityNames = HeaderNameTable(names: ["x-auth-subject", "x-auth-roles", "x-user-email"])

    @Test func connectionTokensAreCollected() throws {
        let head = try Self.head([Self.host, ("Connection", "keep-alive, X-Custom"), ("connection", " Upgrade ,, ")])
        let tokens = try HeaderPolicy.connectionTokens(head.connection, identityNames: Self.identityNames)
        #expect(tokens == ["keep-alive", "x-custom", "upgrade"])
    }

    @Test func noConnectionHeaderMeansNoTokens() throws {
        #expect(try HeaderPolicy.connectionTokens(Self.head([Self.host]).connection, identityNames: Self.identityNames).isEmpty)
    }

    @Test(
        "Connection may not nominate a header Gatehouse relies on",
        arguments: [
            "Authorization", "authorization", "Host", "Content-Length", "Transfer-Encoding", "X-Auth-Subject",
            "x-auth-roles", "X_Auth_Subject", "X.Auth.Subject", "x-auth-anything", "X-User-Email", "X_User.Email",
            "x-forwarded-for", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Request-Id",
            "close, Authorization",
            "keep-alive,x-auth-subject",
        ]
    )
    func protectedNomination(value: String) throws {
        let head = try Self.head([Self.host, ("Connection", value)])
        do {
            let tokens = try HeaderPolicy.connectionTokens(head.connection, identityNames: Self.identityNames)
            Issue.record("accepted: \(tokens)")
        } catch {
            #expect(error.status == 400)
        }
    }

    // MARK: upstreamHead

    static let identity = [
        IdentityHeaderValue(name: "X-Auth-Subject", value: "alice"),
        IdentityHeaderValue(name: "X-Auth-Roles", value: "admin,user"),
        IdentityHeaderValue(name: "X-User-Email", value: "alice@example.test"),
    ]

    static func forwarding(
        trusted: Bool = false,
        client: String? = "10.0.0.9",
        host: String? = "gatehouse.test"
    )
        -> HeaderPolicy.Forwarding
    {
        HeaderPolicy.Forwarding(clientAddress: client, peerIsTrusted: trusted, proto: "http", host: host)
    }

    static func upstream(
        _ headers: [(String, String)],
        identity: [IdentityHeaderValue] = identity,
        forwarding: HeaderPolicy.Forwarding = forwarding(),
        forwardAuthorization: Bool = true,
        upgrade: String? = nil
    ) throws -> HTTPHeaders {
        let head = try Self.head(headers)
        let nominated = try HeaderPolicy.connectionTokens(head.connection, identityNames: identityNames)
        let bytes = HeaderPolicy.upstreamHead(
            target: "/a?b",
            from: head,
            nominated: nominated,
            identity: identity,
            identityNames: identityNames,
            forwarding: forwarding,
            requestID: "req-1",
            forwardAuthorization: forwardAuthorization,
            upgrade: upgrade,
            defaultHost: "upstream.test",
            allocator: ByteBufferAllocator()
        )
        // Read back line by line: the request line, `name: value` fields, the blank line.
        let text = String(buffer: bytes)
        #expect(text.hasSuffix("\r\n\r\n"))
        // "\r\n" is one Character: the request line ends at the first, the head at the last.
        let requestLine = text.prefix { $0 != "\r\n" }
        #expect(requestLine == "GET /a?b HTTP/1.1")
        return HTTPHeaders(try fieldLines(text.dropFirst(requestLine.count + 1).dropLast(1)))
    }

    /// `name: value` lines, each ended by CRLF, read back strictly: an empty line, a line without `: ` or a missing
    /// CRLF fails the test.
    static func fieldLines(_ text: Substring) throws -> [(String, String)] {
        // "\r\n" is one Character.
        guard !text.isEmpty else { return [] }
        try #require(text.hasSuffix("\r\n"))
        return try text.dropLast().split(separator: "\r\n", omittingEmptySubsequences: false).map { line in
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            try #require(parts.count == 2 && parts[1].hasPrefix(" "), "malformed line \(line.debugDescription)")
            return (String(parts[0]), String(parts[1].dropFirst()))
        }
    }

    @Test func otherSpellingsOfFramingAndHopByHopHeadersAreDropped() throws {
        let headers = try Self.upstream([
            Self.host, ("Content_Length", "5"), ("Transfer.Encoding", "chunked"), ("Keep_Alive", "1"),
            ("X_Request_Id", "spoofed"), ("X-Other_Name", "kept"),
        ])
        #expect(headers.map(\.name) == ["Host", "X-Other_Name", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Request-Id", "X-Auth-Subject", "X-Auth-Roles", "X-User-Email"])
        #expect(headers["x-request-id"] == ["req-1"])
    }

    @Test func hostAndAnEmptyBodyLengthAreAddedWhenMissing() throws {
        let head = try Self.head([], version: "HTTP/1.0", method: "POST")
        let bytes = HeaderPolicy.upstreamHead(
            target: "/a", from: head, nominated: [], identity: [], identityNames: HeaderNameTable(names: []),
            forwarding: HeaderPolicy.Forwarding(clientAddress: "10.0.0.1", peerIsTrusted: false, proto: "http", host: nil),
            requestID: "r", forwardAuthorization: true, upgrade: nil, defaultHost: "upstream.test:8080",
            allocator: ByteBufferAllocator())
        let text = String(buffer: bytes)
        #expect(text.hasPrefix("POST /a HTTP/1.1\r\nContent-Length: 0\r\nHost: upstream.test:8080\r\n"))
        #expect(!text.contains("X-Forwarded-Host"))
    }

    @Test func ordinaryHeadersPassInOrder() throws {
        let headers = try Self.upstream([
            Self.host, ("Accept", "application/json"), ("Cookie", "a=1"), ("X-Trace", "1"), ("X-Trace", "2"),
            ("Authorization", "Bearer abc"),
        ])
        #expect(headers["host"] == ["gatehouse.test"])
        #expect(headers["accept"] == ["application/json"])
        #expect(headers["cookie"] == ["a=1"])
        #expect(headers["x-trace"] == ["1", "2"])
        #expect(headers["authorization"] == ["Bearer abc"])
    }

    @Test func hopByHopHeadersAreDropped() throws {
        let headers = try Self.upstream([
            Self.host, ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"), ("Trailer", "X-Checksum"), ("Upgrade", "websocket"),
            ("Proxy-Authorization", "Basic eA=="),
            ("Expect", "100-continue"), ("Transfer-Encoding", "chunked"),
        ])
        // Exactly what is left: Host, then what Gatehouse adds (none of the ten fields sent: the framing is
        // Gatehouse's own).
        #expect(headers.map(\.name) == [
            "Host", "Transfer-Encoding", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Request-Id",
            "X-Auth-Subject", "X-Auth-Roles", "X-User-Email",
        ])
    }

    @Test func nominatedHeadersAreDropped() throws {
        let headers = try Self.upstream([
            Self.host, ("Connection", "X-Custom, x-other"), ("X-Custom", "1"), ("X-OTHER", "2"), ("X-Kept", "3"),
        ])
        #expect(!headers.contains(name: "x-custom"))
        #expect(!headers.contains(name: "x-other"))
        #expect(headers["x-kept"] == ["3"])
        #expect(!headers.contains(name: "connection"))
    }

    @Test func framingIsWrittenByGatehouse() throws {
        let fixed = try Self.upstream([Self.host, ("content-length", "5")])
        #expect(fixed["content-length"] == ["5"])
        #expect(!fixed.contains(name: "transfer-encoding"))

        let chunked = try Self.upstream([Self.host, ("transfer-encoding", "Chunked")])
        #expect(chunked["transfer-encoding"] == ["chunked"])
        #expect(!chunked.contains(name: "content-length"))

        let none = try Self.upstream([Self.host])
        #expect(!none.contains(name: "content-length"))
        #expect(!none.contains(name: "transfer-encoding"))
    }

    static let identitySpellings = [
        "X-Auth-Subject", "x-auth-subject", "X-AUTH-SUBJECT", "x-Auth-sUBJECT", "X_Auth_Subject", "x_auth_subject",
        "X.Auth.Subject", "X-Auth_Subject", "X_Auth.Subject", "X-Auth-Roles", "x_auth_roles", "X.AUTH.ROLES",
        "X-Auth-Anything", "x_auth_scopes", "X-Auth-", "X-User-Email", "x_user_email", "X.User.Email", "X-USER_EMAIL",
    ]

    @Test("client copies of identity headers are dropped", arguments: identitySpellings)
    func identityCopyDropped(name: String) throws {
        // Also when the route is public and nothing is injected.
        for identity in [Self.identity, []] {
            let headers = try Self.upstream([Self.host, (name, "mallory")], identity: identity)
            for (headerName, value) in headers {
                #expect(value != "mallory", "\(headerName) survived")
            }
        }
    }

    @Test func identityHeadersAreInjectedExactlyOnce() throws {
        let headers = try Self.upstream([
            Self.host, ("X-Auth-Subject", "mallory"), ("X_Auth_Subject", "mallory"), ("x-auth-roles", "admin"),
            ("X.User.Email", "mallory@evil.test"),
        ])
        #expect(headers["x-auth-subject"] == ["alice"])
        #expect(headers["x-auth-roles"] == ["admin,user"])
        #expect(headers["x-user-email"] == ["alice@example.test"])
        let identityLike = headers.filter {
            HeaderPolicy.isIdentityHeader(HeaderName.fold($0.name), identityNames: Self.identityNames)
        }
        #expect(identityLike.count == 3)
        // Injected last, after everything the client sent.
        #expect(headers.map { $0.name }.suffix(3) == ["X-Auth-Subject", "X-Auth-Roles", "X-User-Email"])
    }

    @Test(
        "path and method override headers are dropped",
        arguments: [
            "X-Original-URL", "x-original-url", "X-Rewrite-URL", "X-Original-URI", "X-Forwarded-Uri",
            "X-Forwarded-Path",
            "X-Forwarded-Prefix", "X-Envoy-Original-Path", "X-HTTP-Method-Override", "X-HTTP-Method",
            "X-Method-Override",
            "X-Original-Method", "X_Original_URL", "X.Rewrite.URL", "x_http_method_override", "X_Forwarded_Prefix",
        ]
    )
    func overrideHeaderDropped(name: String) throws {
        for trusted in [false, true] {
            let headers = try Self.upstream(
                [Self.host, (name, "/admin")],
                forwarding: Self.forwarding(trusted: trusted)
            )
            for (headerName, value) in headers {
                #expect(value != "/admin", "\(headerName) survived")
            }
        }
    }

    @Test func forwardingFromAnUntrustedPeerIsReplaced() throws {
        let headers = try Self.upstream([
            Self.host, ("X-Forwarded-For", "1.2.3.4"), ("x-forwarded-for", "5.6.7.8"), ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.test"), ("Forwarded", "for=1.2.3.4;proto=https"),
        ])
        #expect(headers["x-forwarded-for"] == ["10.0.0.9"])
        #expect(headers["x-forwarded-proto"] == ["http"])
        #expect(headers["x-forwarded-host"] == ["gatehouse.test"])
        #expect(headers["forwarded"] == ["for=10.0.0.9;proto=http;host=gatehouse.test"])
    }

    @Test(
        "underscore and dot spellings of forwarding headers are dropped from an untrusted peer",
        arguments: [
            "X_Forwarded_For", "x.forwarded.for", "X_Forwarded_Proto", "X_Forwarded_Host", "X-Forwarded_For",
        ]
    )
    func forwardingSpellingsDropped(name: String) throws {
        let headers = try Self.upstream([Self.host, (name, "6.6.6.6")])
        for (headerName, value) in headers {
            #expect(!value.contains("6.6.6.6"), "\(headerName) survived")
        }
    }

    @Test func forwardingFromATrustedPeerIsAppendedTo() throws {
        let headers = try Self.upstream(
            [
                Self.host, ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "public.example.test"), ("Forwarded", "for=1.2.3.4;proto=https"),
            ],
            forwarding: Self.forwarding(trusted: true)
        )
        #expect(headers["x-forwarded-for"] == ["1.2.3.4, 10.0.0.9"])
        #expect(headers["x-forwarded-proto"] == ["https"])
        #expect(headers["x-forwarded-host"] == ["public.example.test"])
        #expect(headers["forwarded"] == ["for=1.2.3.4;proto=https, for=10.0.0.9;proto=http;host=gatehouse.test"])
    }

    @Test func trustedPeerWithoutForwardingHeadersGetsGatehouseValues() throws {
        let headers = try Self.upstream([Self.host], forwarding: Self.forwarding(trusted: true))
        #expect(headers["x-forwarded-for"] == ["10.0.0.9"])
        #expect(headers["x-forwarded-proto"] == ["http"])
        #expect(headers["x-forwarded-host"] == ["gatehouse.test"])
    }

    @Test func ipv6ClientIsQuotedInForwarded() throws {
        let headers = try Self.upstream([Self.host], forwarding: Self.forwarding(client: "::1"))
        #expect(headers["x-forwarded-for"] == ["::1"])
        #expect(headers["forwarded"] == ["for=\"[::1]\";proto=http;host=gatehouse.test"])
    }

    @Test func oddHostIsLeftOutOfForwarded() throws {
        let headers = try Self.upstream(
            [("Host", "a\"b;for=evil")],
            forwarding: Self.forwarding(host: "a\"b;for=evil")
        )
        #expect(headers["forwarded"] == ["for=10.0.0.9;proto=http"])
    }

    @Test func unknownClientAddress() throws {
        let headers = try Self.upstream([Self.host], forwarding: Self.forwarding(client: nil, host: nil))
        #expect(headers["x-forwarded-for"] == ["unknown"])
        #expect(!headers.contains(name: "x-forwarded-host"))
    }

    @Test(arguments: [true, false])
    func forwardAuthorization(_ forward: Bool) throws {
        let headers = try Self.upstream(
            [Self.host, ("Authorization", "Bearer abc"), ("authorization", "Basic eA==")],
            forwardAuthorization: forward
        )
        #expect(headers["authorization"] == (forward ? ["Bearer abc", "Basic eA=="] : []))
    }

    @Test func requestIDIsGatehouses() throws {
        let headers = try Self.upstream([Self.host, ("X-Request-Id", "client-chosen"), ("x-request-id", "second")])
        #expect(headers["x-request-id"] == ["req-1"])
    }

    @Test func upgradeIsRewrittenWhenRelayed() throws {
        let headers = try Self.upstream(
            [Self.host, ("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "k")],
            upgrade: "websocket"
        )
        #expect(headers["connection"] == ["Upgrade"])
        #expect(headers["upgrade"] == ["websocket"])
        #expect(headers["sec-websocket-key"] == ["k"])
    }

    // MARK: writeResponseFields

    /// The fields `writeResponseFields` writes for a raw upstream head, as (name, value) lines.
    private static func relayedFields(_ raw: String, keepUpgrade: Bool = false) throws -> [(String, String)] {
        let head = try UpstreamResponseParser.parseHead(ByteBuffer(string: raw), method: .GET)
        var buffer = ByteBuffer()
        HeaderPolicy.writeResponseFields(of: head, keepUpgrade: keepUpgrade, into: &buffer)
        return try fieldLines(Substring(String(buffer: buffer)))
    }

    @Test func responseHopByHopHeadersAreDropped() throws {
        let fields = try Self.relayedFields(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive, X-Internal\r\nKeep-Alive: timeout=5\r\n"
                + "X-Internal: secret\r\nx-internal: again\r\nProxy-Connection: x\r\nTE: trailers\r\nTrailer: x\r\nUpgrade: h2c\r\n"
                + "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Request-Id: upstream-id\r\nTransfer-Encoding: chunked\r\n"
                + "Proxy-Authenticate: Basic\r\n\r\n")
        // A proxy challenge stays with the response; its framing and request id are Gatehouse's to write.
        #expect(fields.map(\.0) == ["Content-Type", "Set-Cookie", "Set-Cookie", "Proxy-Authenticate"])
        #expect(fields.map(\.1) == ["text/plain", "a=1", "b=2", "Basic"])
    }

    @Test func framingHeadersCannotBeNominatedAway() throws {
        // The body is framed by them: dropping Content-Length would leave the client reading until the close.
        let fields = try Self.relayedFields(
            "HTTP/1.1 200 OK\r\nConnection: content-length, Transfer-Encoding, X-Gone\r\nContent-Length: 5\r\nX-Gone: 1\r\n\r\n")
        #expect(fields.map(\.0) == ["Content-Length"])
    }

    @Test func upgradeResponseKeepsUpgradeHeaders() throws {
        let fields = try Self.relayedFields(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: abc\r\nX-Request-Id: upstream-id\r\n\r\n",
            keepUpgrade: true)
        #expect(fields.map(\.0) == ["Upgrade", "Connection", "Sec-WebSocket-Accept"])
        #expect(fields.map(\.1) == ["websocket", "Upgrade", "abc"])
    }

    @Test func valuesAreRelayedTrimmedAndByteForByte() throws {
        let fields = try Self.relayedFields("HTTP/1.1 200 OK\r\nX-Name: \t caf\u{E9} \u{1F600}\t \r\nX-Empty:\r\n\r\n")
        #expect(fields.map(\.0) == ["X-Name", "X-Empty"])
        #expect(fields.map(\.1) == ["caf\u{E9} \u{1F600}", ""])
    }

    // MARK: helpers

    @Test func classifyKnowsEveryListedNameInAnyCasingAndNothingElse() {
        // Written out, not read from HeaderPolicy's own lists: a name dropped from them must fail here.
        let expected: [String: HeaderPolicy.Known] = [
            "content-length": .contentLength, "x-request-id": .requestID, "authorization": .authorization, "host": .host,
            "connection": .connection, "upgrade": .upgrade, "transfer-encoding": .transferEncoding, "expect": .expect,
            "proxy-authenticate": .proxyAuthenticate, "keep-alive": .hopByHop, "proxy-connection": .hopByHop,
            "te": .hopByHop, "trailer": .hopByHop, "proxy-authorization": .hopByHop,
            "x-forwarded-for": .xForwardedFor, "forwarded": .forwarded, "x-forwarded-proto": .xForwardedProto,
            "x-forwarded-host": .xForwardedHost,
            "x-original-url": .override, "x-rewrite-url": .override, "x-original-uri": .override,
            "x-forwarded-uri": .override, "x-forwarded-path": .override, "x-forwarded-prefix": .override,
            "x-envoy-original-path": .override, "x-http-method-override": .override, "x-http-method": .override,
            "x-method-override": .override, "x-original-method": .override,
        ]
        for (name, kind) in expected {
            #expect(Self.classify(name) == kind, "\(name)")
            #expect(Self.classify(name.uppercased()) == kind, "\(name)")
            // Other spellings are not these names here: they take the folding path.
            #expect(Self.classify(String(name.map { $0 == "-" ? "_" : $0 })) == (name.contains("-") ? .other : kind))
            #expect(Self.classify(name + "x") == .other)
            #expect(Self.classify(String(name.dropLast())) == .other)
        }
        for name in ["", "hosts", "content-type", "x-auth-subject", String(repeating: "a", count: 300)] {
            #expect(Self.classify(name) == .other)
        }
    }

    @Test func identityNamesMatchInAnyCasingWithoutFolding() {
        let names = HeaderNameTable(names: ["x-user", "x-auth-subject"])
        func isIdentity(_ name: String) -> Bool {
            Array(name.utf8).withUnsafeBytes { HeaderPolicy.isIdentityName($0, identityNames: names) }
        }
        #expect(isIdentity("X-User"))
        #expect(isIdentity("X-AUTH-anything"))
        #expect(!isIdentity("X-Users"))
        #expect(!isIdentity("X-Auth"))
        #expect(!isIdentity("X-Auth_subject"))
    }

    @Test(arguments: [
        ("abc-123", true), ("A_b.c:d/e", true), (String(repeating: "a", count: 128), true),
        (String(repeating: "a", count: 129), false), ("", false), ("a b", false), ("a\r\nb", false),
        ("<script>", false),
        ("a,b", false), ("caf\u{E9}", false), ("a\"b", false),
    ])
    func saneRequestID(value: String, sane: Bool) {
        #expect(HeaderPolicy.isSaneRequestID(value) == sane)
    }
}
