import GatehousePolicy
import Testing

/// Precedence (most specific wins, segment by segment), `**` semantics, methods, and clashes refused at build time.
struct RouteTableTests {
    private static func route(_ pattern: String, id: String? = nil, methods: Set<String>? = nil) throws -> Route {
        Route(id: id, pattern: try PathPattern(pattern), methods: methods, access: .public, location: "test:\(id ?? pattern)")
    }

    private static func table(_ routes: [Route]) throws -> RouteTable {
        try RouteTable(routes)
    }

    /// The id of the route that decides `method target`, or `"none"`.
    private static func winner(_ table: RouteTable, _ method: String, _ target: String) throws -> String {
        let segments = try PathNormalizer.normalize(target).segments
        return table.match(segments: segments, method: method)?.route.id ?? "none"
    }

    // MARK: precedence

    static let precedenceRoutes: [(String, String)] = [
        ("/a/b", "literal"),
        ("/a/{x}", "param"),
        ("/a/**", "subtree"),
        ("/**", "everything"),
        ("/x/{p}/c", "param-first"),
        ("/x/b/**", "literal-then-subtree"),
        ("/m/{x}/c", "m-param-literal"),
        ("/{y}/b/c", "param-literal-literal"),
        ("/s/*", "star"),
    ]

    @Test(
        "literal beats {param} and *, which beat **, segment by segment",
        arguments: [
            ("/a/b", "literal"),
            ("/a/c", "param"),
            ("/a/b/c", "subtree"),
            ("/a", "subtree"),
            ("/a/", "subtree"),
            ("/zzz", "everything"),
            ("/", "everything"),
            // The second segment decides: literal 'b' beats '{p}' even though the other route ends in '**'.
            ("/x/b/c", "literal-then-subtree"),
            ("/x/q/c", "param-first"),
            // The first segment decides: literal 'm' beats '{y}'.
            ("/m/b/c", "m-param-literal"),
            ("/n/b/c", "param-literal-literal"),
            ("/s/anything", "star"),
            // '*' needs exactly one segment.
            ("/s/a/b", "everything"),
        ])
    func precedence(target: String, expected: String) throws {
        let table = try Self.table(Self.precedenceRoutes.map { try Self.route($0.0, id: $0.1) })
        #expect(try Self.winner(table, "GET", target) == expected)
    }

    @Test(
        "/admin/** matches /admin, /admin/ and anything below, never /administrator",
        arguments: [
            ("/admin", "admin"),
            ("/admin/", "admin"),
            ("/admin/a", "admin"),
            ("/admin/a/b", "admin"),
            ("/admin//a/", "admin"),
            ("/administrator", "none"),
            ("/administrator/x", "none"),
            ("/admi", "none"),
            ("/", "none"),
            ("/x/admin", "none"),
        ])
    func subtreeIncludesBase(target: String, expected: String) throws {
        let table = try Self.table([Self.route("/admin/**", id: "admin")])
        #expect(try Self.winner(table, "GET", target) == expected)
    }

    @Test("the root pattern / matches only /")
    func rootPattern() throws {
        let table = try Self.table([Self.route("/", id: "root")])
        #expect(try Self.winner(table, "GET", "/") == "root")
        #expect(try Self.winner(table, "GET", "//") == "root")
        #expect(try Self.winner(table, "GET", "/a") == "none")
    }

    // MARK: methods

    @Test(
        "a route listing the method beats the same pattern without methods; HEAD is matched as GET",
        arguments: [
            ("GET", "orders-get"),
            ("HEAD", "orders-get"),
            ("POST", "orders-any"),
            ("DELETE", "orders-any"),
            ("OPTIONS", "orders-any"),
        ])
    func methodsBeatNoMethods(method: String, expected: String) throws {
        // Written in both orders: the winner must not depend on the order in the file.
        for routes in [
            [try Self.route("/orders/**", id: "orders-any"), try Self.route("/orders/**", id: "orders-get", methods: ["GET"])],
            [try Self.route("/orders/**", id: "orders-get", methods: ["GET"]), try Self.route("/orders/**", id: "orders-any")],
        ] {
            let table = try Self.table(routes)
            #expect(try Self.winner(table, method, "/orders/42") == expected)
        }
    }

    @Test("HEAD is matched as GET; a route written for HEAD only does not serve GET")
    func headIsGet() throws {
        let table = try Self.table([
            Self.route("/get-only", id: "get-only", methods: ["GET"]),
            Self.route("/head-only", id: "head-only", methods: ["HEAD"]),
        ])
        #expect(try Self.winner(table, "HEAD", "/get-only") == "get-only")
        #expect(try Self.winner(table, "HEAD", "/head-only") == "head-only")
        #expect(try Self.winner(table, "GET", "/head-only") == "none")
        #expect(try Self.winner(table, "POST", "/get-only") == "none")
    }

    @Test("a route listing HEAD beats one listing GET for HEAD requests, and they do not clash")
    func headRouteBeatsGetRoute() throws {
        let table = try Self.table([
            Self.route("/a", id: "get", methods: ["GET"]),
            Self.route("/a", id: "head", methods: ["HEAD"]),
            Self.route("/a", id: "any"),
        ])
        #expect(try Self.winner(table, "HEAD", "/a") == "head")
        #expect(try Self.winner(table, "GET", "/a") == "get")
        #expect(try Self.winner(table, "POST", "/a") == "any")
    }

    @Test(
        "when the most specific pattern does not list the method, matching backtracks to the next best route",
        arguments: [
            ("POST", "/a/b", "literal-post"),
            ("GET", "/a/b", "param"),
            ("POST", "/a/b/c", "deep-post"),
            ("GET", "/a/b/c", "subtree"),
            ("GET", "/a/q/c", "subtree"),
            ("DELETE", "/a/b", "param"),
        ])
    func backtracking(method: String, target: String, expected: String) throws {
        let table = try Self.table([
            Self.route("/a/b", id: "literal-post", methods: ["POST"]),
            Self.route("/a/{x}", id: "param"),
            Self.route("/a/b/c", id: "deep-post", methods: ["POST"]),
            Self.route("/a/**", id: "subtree", methods: ["GET", "DELETE"]),
        ])
        #expect(try Self.winner(table, method, target) == expected)
    }

    @Test("a method no route lists matches nothing")
    func methodMatchesNothing() throws {
        let table = try Self.table([Self.route("/a/**", id: "get", methods: ["GET"])])
        #expect(try Self.winner(table, "POST", "/a/b") == "none")
    }

    // MARK: segments

    @Test(
        "* and {param} never match an empty segment",
        arguments: [
            ("/s/", "none"),
            ("/s/x", "star"),
            ("/p/", "none"),
            ("/p/x", "param"),
            ("/p//", "none"),
            ("/u//c", "none"),
            ("/u/x/c", "middle"),
        ])
    func emptySegments(target: String, expected: String) throws {
        let table = try Self.table([
            Self.route("/s/*", id: "star"),
            Self.route("/p/{id}", id: "param"),
            Self.route("/u/{id}/c", id: "middle"),
        ])
        #expect(try Self.winner(table, "GET", target) == expected)
    }

    @Test(
        "captured parameters are percent-decoded",
        arguments: [
            ("/users/alice/settings", "alice"),
            ("/users/%61lice/settings", "alice"),
            ("/users/%C3%A9/settings", "\u{E9}"),
            ("/users/%c3%a9", "\u{E9}"),
            ("/users/a%20b", "a b"),
            ("/users/50%25", "50%"),
        ])
    func parameterCapture(target: String, expected: String) throws {
        let table = try Self.table([Self.route("/users/{id}/**", id: "own")])
        let match = try #require(table.match(segments: try PathNormalizer.normalize(target).segments, method: "GET"))
        #expect(match.route.id == "own")
        #expect(match.parameters == ["id": expected])
    }

    @Test("a parameter whose bytes are not valid UTF-8 is not captured (it can equal no claim)")
    func invalidUTF8Parameter() throws {
        let table = try Self.table([Self.route("/users/{id}/**", id: "own")])
        let match = try #require(table.match(segments: try PathNormalizer.normalize("/users/%FF/x").segments, method: "GET"))
        #expect(match.route.id == "own")
        #expect(match.parameters["id"] == nil)
    }

    @Test("several parameters are captured by name")
    func severalParameters() throws {
        let table = try Self.table([Self.route("/t/{tenant}/u/{user}", id: "two")])
        let match = try #require(table.match(segments: try PathNormalizer.normalize("/t/acme/u/bob").segments, method: "GET"))
        #expect(match.parameters == ["tenant": "acme", "user": "bob"])
    }

    // MARK: clashes

    @Test(
        "two routes that can match the same request with equal precedence are refused, naming both",
        arguments: [
            ("/a", nil, "/a", nil),
            ("/a/{x}", nil, "/a/*", nil),
            ("/a/{x}", nil, "/a/{y}", nil),
            ("/a/**", nil, "/a/**", nil),
            ("/a/*/c", ["GET"], "/a/{id}/c", ["GET"]),
            ("/a", ["GET", "POST"], "/a", ["POST", "PUT"]),
            ("/a", ["get"], "/a", ["GET"]),
        ] as [(String, Set<String>?, String, Set<String>?)])
    func clash(first: String, firstMethods: Set<String>?, second: String, secondMethods: Set<String>?) throws {
        let routes = [
            try Self.route(first, id: "one", methods: firstMethods),
            try Self.route(second, id: "two", methods: secondMethods),
        ]
        do {
            _ = try RouteTable(routes)
            Issue.record("expected a clash between \(first) and \(second)")
        } catch {
            #expect(error.clashes.count == 1)
            let clash = try #require(error.clashes.first)
            #expect(clash.first.id == "one")
            #expect(clash.second.id == "two")
            #expect(clash.description.contains("'one' (test:one)"))
            #expect(clash.description.contains("'two' (test:two)"))
        }
    }

    @Test(
        "routes that cannot match the same request with equal precedence do not clash",
        arguments: [
            ("/a", ["GET"], "/a", ["POST"]),
            ("/a", ["GET"], "/a", nil),
            ("/a/*", nil, "/a/**", nil),
            ("/a/b", nil, "/a/{x}", nil),
            ("/a", nil, "/a/**", nil),
            ("/a/{x}", nil, "/a/{x}/b", nil),
        ] as [(String, Set<String>?, String, Set<String>?)])
    func noClash(first: String, firstMethods: Set<String>?, second: String, secondMethods: Set<String>?) throws {
        let routes = [
            try Self.route(first, id: "one", methods: firstMethods),
            try Self.route(second, id: "two", methods: secondMethods),
        ]
        #expect(throws: Never.self) { try RouteTable(routes) }
    }

    @Test("every clash is reported, not only the first")
    func everyClash() throws {
        let routes = [
            try Self.route("/a", id: "a1"), try Self.route("/a", id: "a2"),
            try Self.route("/b/{x}", id: "b1"), try Self.route("/b/*", id: "b2"),
        ]
        do {
            _ = try RouteTable(routes)
            Issue.record("expected two clashes")
        } catch {
            let pairs = Set(error.clashes.map { "\($0.first.id)+\($0.second.id)" })
            #expect(pairs == ["a1+a2", "b1+b2"])
        }
    }

    // MARK: size

    @Test("matching among 50,000 literal routes finds the right one")
    func manyRoutes() throws {
        let count = 50_000
        var routes = [Route]()
        routes.reserveCapacity(count + 1)
        for index in 0..<count {
            routes.append(Route(id: "r\(index)", pattern: try PathPattern("/r\(index)/items"), access: .public))
        }
        routes.append(Route(id: "fallback", pattern: try PathPattern("/r0/**"), access: .public))
        let table = try RouteTable(routes)
        #expect(try Self.winner(table, "GET", "/r49999/items") == "r49999")
        #expect(try Self.winner(table, "GET", "/r0/items") == "r0")
        #expect(try Self.winner(table, "GET", "/r25000/items") == "r25000")
        #expect(try Self.winner(table, "GET", "/r50000/items") == "none")
        #expect(try Self.winner(table, "GET", "/r1/items/x") == "none")
        #expect(try Self.winner(table, "GET", "/r0/other") == "fallback")
    }
}
