import GatehousePolicy
import Testing

/// Request-targets as an attacker writes them on the wire: what is accepted must come out as exactly one path, and
/// everything two servers could read differently must be refused with a stable label.
struct PathNormalizerTests {
    /// `"accept <path>"` or `"refuse <label>"`, so one table can hold both.
    private static func outcome(_ target: String) -> String {
        do {
            return "accept " + (try PathNormalizer.normalize(target)).path
        } catch {
            return "refuse " + error.label
        }
    }

    // MARK: accepted, with the exact normalised path

    @Test(
        "accepted targets normalise to one path",
        arguments: [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/b/", "/a/b/"),
            // Repeated slashes merge.
            ("/a//b", "/a/b"),
            ("//a///b//", "/a/b/"),
            ("//", "/"),
            // Escapes of unreserved characters are decoded, in either hex case.
            ("/%41", "/A"),
            ("/%61dmin", "/admin"),
            ("/%7E", "/~"),
            ("/%7euser", "/~user"),
            ("/a%2Db%5Fc%2Ed", "/a-b_c.d"),
            ("/%30%39", "/09"),
            // Other escapes are kept, with upper-case hex digits.
            ("/%c3%a9", "/%C3%A9"),
            ("/caf%c3%A9/x", "/caf%C3%A9/x"),
            ("/a%20b", "/a%20b"),
            ("/100%25", "/100%25"),
            ("/%2a", "/%2A"),
            // Segments that only look like dot segments.
            ("/a/.../b", "/a/.../b"),
            ("/a/.b/c.", "/a/.b/c."),
            ("/a/..b", "/a/..b"),
            ("/a/%2e%2e%2e", "/a/..."),
            // Sub-delimiters, ':' and '@' are allowed raw.
            ("/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="),
        ])
    func accepted(target: String, path: String) {
        #expect(Self.outcome(target) == "accept " + path)
    }

    @Test("the longest allowed target is accepted")
    func longestTargetAccepted() throws {
        let target = "/" + String(repeating: "a", count: PathNormalizer.maxTargetLength - 1)
        #expect(try PathNormalizer.normalize(target).path == target)
    }

    // MARK: refused, with the label

    @Test(
        "dot segments, raw, encoded or double-encoded, are refused",
        arguments: [
            ("/a/../b", "dot_segment"),
            ("/a/./b", "dot_segment"),
            ("/..", "dot_segment"),
            ("/.", "dot_segment"),
            ("/a/..", "dot_segment"),
            ("/a/.", "dot_segment"),
            ("/a/../", "dot_segment"),
            ("/a//../b", "dot_segment"),
            ("/docs/../admin/users", "dot_segment"),
            ("/a/%2e%2e/b", "dot_segment"),
            ("/a/%2E%2E/b", "dot_segment"),
            ("/a/%2E./b", "dot_segment"),
            ("/a/.%2e/b", "dot_segment"),
            ("/a/%2e/b", "dot_segment"),
            ("/a/%2e%2e", "dot_segment"),
            ("/a/%252e%252e/b", "double_encoding"),
            ("/a/%252E%252E/b", "double_encoding"),
            ("/a/%252e./b", "double_encoding"),
        ])
    func dotSegments(target: String, label: String) {
        #expect(Self.outcome(target) == "refuse " + label)
    }

    @Test(
        "encoded separators, controls and their double encodings are refused",
        arguments: [
            ("/admin%2Fusers", "encoded_separator"),
            ("/admin%2fusers", "encoded_separator"),
            ("/a%5Cb", "encoded_separator"),
            ("/a%5cb", "encoded_separator"),
            ("/a%3Bx=1", "encoded_separator"),
            ("/a%3bx=1", "encoded_separator"),
            ("/a%3Fx", "encoded_separator"),
            ("/a%3fx", "encoded_separator"),
            ("/a%23x", "encoded_separator"),
            ("/a%00", "encoded_separator"),
            ("/a%0a", "encoded_separator"),
            ("/a%0D%0Ax", "encoded_separator"),
            ("/a%09", "encoded_separator"),
            ("/a%7F", "encoded_separator"),
            ("/a%252Fb", "double_encoding"),
            ("/a%252fb", "double_encoding"),
            ("/a%255Cb", "double_encoding"),
            ("/a%253Bb", "double_encoding"),
            ("/a%253Fb", "double_encoding"),
            ("/a%2523b", "double_encoding"),
            ("/a%2500", "double_encoding"),
            ("/a%250a", "double_encoding"),
            ("/a%25252Fb", "double_encoding"),
            // Double encoding of anything: a server that decodes twice reads '%2561dmin' as 'admin'.
            ("/%2561dmin", "double_encoding"),
            ("/%2541", "double_encoding"),
            ("/a/%25c3%25a9", "double_encoding"),
        ])
    func encodedSeparators(target: String, label: String) {
        #expect(Self.outcome(target) == "refuse " + label)
    }

    @Test(
        "raw bytes two servers could read differently are refused",
        arguments: [
            ("/a\\b", "forbidden_character"),
            ("/a#b", "forbidden_character"),
            ("/a#", "forbidden_character"),
            ("/a<b", "forbidden_character"),
            ("/a\"b", "forbidden_character"),
            ("/a[0]", "forbidden_character"),
            ("/a{b}", "forbidden_character"),
            ("/a|b", "forbidden_character"),
            ("/a^b", "forbidden_character"),
            ("/a`b", "forbidden_character"),
            ("/admin;x=1/users", "path_parameter"),
            ("/a;", "path_parameter"),
            ("/a b", "control_or_non_ascii"),
            ("/a\tb", "control_or_non_ascii"),
            ("/a\rb", "control_or_non_ascii"),
            ("/a\nb", "control_or_non_ascii"),
            ("/a\u{0}b", "control_or_non_ascii"),
            ("/a\u{7F}", "control_or_non_ascii"),
            ("/caf\u{E9}", "control_or_non_ascii"),
            ("/\u{1F600}", "control_or_non_ascii"),
        ])
    func rawBytes(target: String, label: String) {
        #expect(Self.outcome(target) == "refuse " + label)
    }

    @Test(
        "malformed percent-escapes are refused",
        arguments: ["/%", "/a%", "/%G1", "/%1G", "/%4", "/a%4", "/%%41", "/%-1", "/% 1", "/%4?x"])
    func badEscapes(target: String) {
        #expect(Self.outcome(target) == "refuse bad_escape")
    }

    @Test(
        "targets that are not a path starting with / are refused",
        arguments: ["", "*", "http://x/", "https://x/a", "a/b", "?x=1", " /a", "%2Fa", "\\a"])
    func notOriginForm(target: String) {
        #expect(Self.outcome(target) == "refuse not_origin_form")
    }

    @Test("an over-long target is refused")
    func overLong() {
        let target = "/" + String(repeating: "a", count: PathNormalizer.maxTargetLength)
        #expect(Self.outcome(target) == "refuse too_long")
        let withQuery = "/a?" + String(repeating: "q", count: PathNormalizer.maxTargetLength)
        #expect(Self.outcome(withQuery) == "refuse too_long")
    }

    // MARK: the query

    @Test(
        "the target is split once at the first ?, and the query is kept verbatim and never normalised",
        arguments: [
            ("/a/b?x=1", "/a/b", "x=1"),
            ("/a?b?c", "/a", "b?c"),
            ("/a?", "/a", ""),
            ("/a//b?x=%2F/../y;z", "/a/b", "x=%2F/../y;z"),
            ("/%61?%61", "/a", "%61"),
            ("/?q=%c3%a9", "/", "q=%c3%a9"),
            // A ? inside what looks like a path is never a path character: what follows cannot reach the matcher.
            ("/admin?/../public", "/admin", "/../public"),
            ("/public?x=/../../admin", "/public", "x=/../../admin"),
        ])
    func querySplit(target: String, path: String, query: String) throws {
        let normalized = try PathNormalizer.normalize(target)
        #expect(normalized.path == path)
        #expect(normalized.query.map(String.init) == query)
        #expect(normalized.forwardTarget == path + "?" + query)
    }

    @Test("a target without ? has no query, and forwards the normalised path alone")
    func noQuery() throws {
        let normalized = try PathNormalizer.normalize("/a//b")
        #expect(normalized.query == nil)
        #expect(normalized.forwardTarget == "/a/b")
    }

    @Test(
        "a raw #, space, control or non-ASCII byte in the query is refused",
        arguments: [
            ("/a?b#c", "forbidden_character"),
            ("/a?#", "forbidden_character"),
            ("/a?b c", "control_or_non_ascii"),
            ("/a?b\u{0}", "control_or_non_ascii"),
            ("/a?b\r\nX: y", "control_or_non_ascii"),
            ("/a?caf\u{E9}", "control_or_non_ascii"),
            ("/a?\u{7F}", "control_or_non_ascii"),
        ])
    func badQuery(target: String, label: String) {
        #expect(Self.outcome(target) == "refuse " + label)
    }

    // MARK: segments

    @Test(
        "segments of the normalised path",
        arguments: [
            ("/", [""]),
            ("/a", ["a"]),
            ("/a/", ["a", ""]),
            ("//a//b", ["a", "b"]),
            ("/a/%c3%a9", ["a", "%C3%A9"]),
        ])
    func segments(target: String, expected: [String]) throws {
        #expect(try PathNormalizer.normalize(target).segments.map(String.init) == expected)
    }

    @Test(
        "decodeSegment fully percent-decodes one normalised segment",
        arguments: [("alice", "alice"), ("%C3%A9", "\u{E9}"), ("a%20b", "a b"), ("100%25", "100%")])
    func decodeSegment(segment: String, decoded: String) {
        #expect(PathNormalizer.decodeSegment(Substring(segment)) == decoded)
    }

    @Test("a segment whose escapes are not valid UTF-8 decodes to nothing, never to U+FFFD", arguments: ["%FF", "a%C3", "%C0%AF", "%ED%A0%80"])
    func decodeInvalidUTF8(segment: String) {
        #expect(PathNormalizer.decodeSegment(Substring(segment)) == nil)
    }

    @Test(
        "normalising is idempotent: a normalised path normalises to itself",
        arguments: ["/%c3%a9/%41//b/", "/a%20b", "/x/%7e/y", "/100%25"])
    func idempotent(target: String) throws {
        let once = try PathNormalizer.normalize(target).path
        #expect(try PathNormalizer.normalize(once).path == once)
    }

    @Test("the shortcut for targets already in normal form agrees with the full normalisation on every target")
    func shortcutAgreesWithFullNormalisation() {
        // Pieces an attacker combines: separators, dots, escapes (complete, cut short, doubled), refused bytes, a
        // query with and without a fragment. Each target is judged by the full normalisation; whenever the shortcut
        // takes a target, the full normalisation must accept it too, with the same path and query.
        let pieces = [
            "/", "/", "//", ".", "..", "a", "Zz9", "-_~", "!$&'()*+,=:@", "%", "%2", "%2e", "%2E", "%41", "%2f", "%25",
            "%252e", ";", "\\", "#", " ", "\u{7F}", "\u{1}", "\u{E9}", "?", "?q=1", "?a#b", "?x y", "[", "`",
        ]
        var state: UInt64 = 0x5EED_0F_7A7E
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        // Around the length limit too, where the shortcut must refuse to decide.
        let long = "/" + String(repeating: "a", count: PathNormalizer.maxTargetLength - 1)
        var targets = [long, long + "b", String(long.dropLast(2)) + "?q", long + "?q"]
        for _ in 0..<20_000 {
            var target = next(8) == 0 ? "" : "/"
            for _ in 0..<(1 + next(7)) { target += pieces[next(pieces.count)] }
            targets.append(target)
        }
        var taken = 0
        for target in targets {
            guard let shortcut = PathNormalizer.alreadyNormal(target) else { continue }
            taken += 1
            switch Result(catching: { () throws(PathError) in try PathNormalizer.normalizeEachByte(target) }) {
            case .success(let full): #expect(shortcut == full, "\(target)")
            case .failure(let error): Issue.record("\(target): the shortcut took a target the full normalisation refuses (\(error))")
            }
        }
        #expect(PathNormalizer.alreadyNormal(long) != nil)
        #expect(PathNormalizer.alreadyNormal(long + "b") == nil)
        // Both kinds of target are well represented: taken by the shortcut, and left to the full normalisation.
        #expect(taken > 1_000)
        #expect(taken < targets.count - 1_000)
    }
}
