import GatehousePolicy
import Testing

/// Claim paths as written for `roles_claim`, `scopes_claim`, `claims:` and identity headers.
struct ClaimPathTests {
    @Test(
        "dotted and bracket forms parse into keys",
        arguments: [
            ("roles", ["roles"]),
            ("realm_access.roles", ["realm_access", "roles"]),
            ("resource_access.my-app.roles", ["resource_access", "my-app", "roles"]),
            (#"["https://example.com/roles"]"#, ["https://example.com/roles"]),
            (#"resource_access["my.app"].roles"#, ["resource_access", "my.app", "roles"]),
            ("resource_access['my.app'].roles", ["resource_access", "my.app", "roles"]),
            (#"a["b"]["c.d"]"#, ["a", "b", "c.d"]),
            ("https://example.com/roles", ["https://example", "com/roles"]),
        ])
    func parses(text: String, keys: [String]) throws {
        #expect(try ClaimPath(parsing: text).keys == keys)
    }

    @Test(
        "malformed claim paths are refused",
        arguments: ["", ".", "a.", ".a", "a..b", "a[b]", #"a["b""#, #"a["b"]c"#, "a]", #"[""]"#, #"a"b"#])
    func refuses(text: String) {
        #expect(throws: ClaimPath.ParseError.self) { try ClaimPath(parsing: text) }
    }

    @Test("lookup walks nested objects and never splits a key on dots")
    func lookup() throws {
        let claims = JSONValue.object([
            "realm_access": .object(["roles": .array([.string("admin")])]),
            "https://example.com/roles": .array([.string("editor")]),
            "a.b": .string("flat"),
        ])
        #expect(try ClaimPath(parsing: "realm_access.roles").lookup(in: claims) == .array([.string("admin")]))
        #expect(try ClaimPath(parsing: #"["https://example.com/roles"]"#).lookup(in: claims) == .array([.string("editor")]))
        #expect(try ClaimPath(parsing: "a.b").lookup(in: claims) == nil)
        #expect(try ClaimPath(parsing: #"["a.b"]"#).lookup(in: claims) == .string("flat"))
        #expect(try ClaimPath(parsing: "realm_access.roles.x").lookup(in: claims) == nil)
    }

    @Test("a path prints in a form that parses back to the same keys")
    func roundTrip() throws {
        for keys in [["roles"], ["realm_access", "roles"], ["https://example.com/roles"], ["resource_access", "my.app", "roles"]] {
            let path = ClaimPath(keys: keys)
            #expect(try ClaimPath(parsing: path.description).keys == keys)
        }
    }
}
