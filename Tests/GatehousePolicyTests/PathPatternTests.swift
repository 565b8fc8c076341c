import GatehousePolicy
import Testing

/// Route patterns as written in routes.yaml: only patterns some normalised request could match are accepted.
struct PathPatternTests {
    @Test(
        "valid patterns parse into segments",
        arguments: [
            ("/", [PathPattern.Segment.literal("")], false),
            ("/**", [], true),
            ("/a/b", [.literal("a"), .literal("b")], false),
            ("/a/", [.literal("a"), .literal("")], false),
            ("/a/*/c", [.literal("a"), .wildcard, .literal("c")], false),
            ("/users/{id}/**", [.literal("users"), .parameter("id")], true),
            ("/a/{tenant_id-2}", [.literal("a"), .parameter("tenant_id-2")], false),
            ("/caf%C3%A9", [.literal("caf%C3%A9")], false),
            ("/a:b@c", [.literal("a:b@c")], false),
        ] as [(String, [PathPattern.Segment], Bool)])
    func parses(text: String, segments: [PathPattern.Segment], subtree: Bool) throws {
        let pattern = try PathPattern(text)
        #expect(pattern.segments == segments)
        #expect(pattern.matchesSubtree == subtree)
        #expect(pattern.description == text)
    }

    @Test(
        "patterns no normalised request could match, or that are ambiguous, are refused",
        arguments: [
            "", "admin", "*", "/a/**/b", "/**/a", "/a//b", "//a", "/a//**", "/a/{x}/{x}", "/a/{x y}", "/a/{}",
            "/a/{x", "/a/x}", "/a*", "/a/b*", "/a/**x", "/a/../b", "/a/./b", "/a/%2e%2e", "/a/%2F", "/a/%41",
            "/caf%c3%a9", "/a b", "/a;b", "/a#b", "/a\\b", "/a?b", "/caf\u{E9}",
        ])
    func refuses(text: String) {
        #expect(throws: PathPattern.ParseError.self) { try PathPattern(text) }
    }

    @Test("parameter names are listed in order")
    func parameterNames() throws {
        #expect(try PathPattern("/t/{tenant}/u/{user}/**").parameterNames == ["tenant", "user"])
        #expect(try PathPattern("/a/*").parameterNames.isEmpty)
    }
}
