import Testing

@testable import GatehousePolicy

/// Identities, audiences, scopes and claim values compare by their exact bytes, never by Unicode equivalence.
struct ExactStringTests {
    @Test(arguments: [
        ("orders:read", "orders:read", true),
        ("orders:read", "orders:write", false),
        ("orders:read", "orders:rea", false),
        ("", "", true),
        ("", "a", false),
        // Longer than a small string: compared from heap storage.
        (String(repeating: "scope-", count: 20), String(repeating: "scope-", count: 20), true),
        (String(repeating: "scope-", count: 20) + "a", String(repeating: "scope-", count: 20) + "b", false),
        // Canonically equivalent, so `==` holds, but different bytes: not the same name.
        ("caf\u{E9}", "cafe\u{301}", false),
        ("Admin", "admin", false),
    ])
    func exactBytes(a: String, b: String, equal: Bool) {
        #expect(a.isExactly(b) == equal)
        #expect(b.isExactly(a) == equal)
    }

    @Test func setMembershipIsExact() {
        let held: Set<String> = ["caf\u{E9}", "orders:read"]
        #expect(held.containsExactly("orders:read"))
        #expect(held.containsExactly("caf\u{E9}"))
        // Found by `==` in the set, refused on its bytes.
        #expect(!held.containsExactly("cafe\u{301}"))
        #expect(!held.containsExactly("orders"))
    }
}
