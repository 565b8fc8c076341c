import Testing

@testable import GatehousePolicy

struct HeaderNameTests {
    @Test func tokenBytesAreExactlyRFC9110TokenCharacters() {
        // RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
        // / "~" / DIGIT / ALPHA.
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(HeaderName.isTokenByte(byte) == tchar.contains(byte), "byte \(byte)")
        }
    }

    @Test(arguments: [
        ("X-Auth-Subject", "x-auth-subject"), ("X_Auth.Subject", "x-auth-subject"), ("x.y_z-W", "x-y-z-w"),
        ("", ""), ("\u{C4}", "\u{C4}"),
    ])
    func fold(name: String, folded: String) {
        #expect(HeaderName.fold(name) == folded)
    }

    @Test func lowercase() {
        #expect(HeaderName.lowercase("X_Auth.Subject") == "x_auth.subject")
        #expect(HeaderName.lowercase("already-lower") == "already-lower")
    }

    @Test func equalsIgnoringCaseFoldsASCIIOnly() {
        #expect(HeaderName.equalsIgnoringCase("Content-LENGTH", "content-length"))
        #expect(HeaderName.equalsIgnoringCase("bearer".utf8, "BEARER".utf8))
        #expect(!HeaderName.equalsIgnoringCase("content-length", "content-lengt"))
        #expect(!HeaderName.equalsIgnoringCase("x-a", "x_a"))
        // U+212A KELVIN SIGN lower-cases to "k" in Unicode, never here.
        #expect(!HeaderName.equalsIgnoringCase("\u{212A}eep-alive", "keep-alive"))
    }

    @Test func trimmedDropsOnlySpacesAndTabs() {
        #expect(Array(HeaderName.trimmed(" \t a b \t".utf8)) == Array("a b".utf8))
        #expect(Array(HeaderName.trimmed("\u{0B}a".utf8)) == Array("\u{0B}a".utf8))
        #expect(HeaderName.trimmed(" \t ".utf8).isEmpty)
    }
}
