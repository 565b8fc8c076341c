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
        #expect(Array("bearer".utf8).withUnsafeBytes { HeaderName.equalsIgnoringCase($0, "BEARER") })
        #expect(!Array("bearers".utf8).withUnsafeBytes { HeaderName.equalsIgnoringCase($0, "BEARER") })
        #expect(!HeaderName.equalsIgnoringCase("content-length", "content-lengt"))
        #expect(!HeaderName.equalsIgnoringCase("x-a", "x_a"))
        // U+212A KELVIN SIGN lower-cases to "k" in Unicode, never here.
        #expect(!HeaderName.equalsIgnoringCase("\u{212A}eep-alive", "keep-alive"))
    }

    @Test func trimmedDropsOnlySpacesAndTabs() {
        func trimmedBytes(_ text: String) -> [UInt8] { Array(text.utf8).withUnsafeBytes { Array(HeaderName.trimmed($0)) } }
        #expect(trimmedBytes(" \t a b \t") == Array("a b".utf8))
        #expect(trimmedBytes("\u{0B}a") == Array("\u{0B}a".utf8))
        #expect(trimmedBytes(" \t ").isEmpty)
        #expect(HeaderName.trimmed(Substring(" \t X-A \u{E9} \t")) == "X-A \u{E9}")
        #expect(HeaderName.trimmed(Substring(" ")) == "")
    }
}
