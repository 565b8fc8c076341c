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

    @Test func foldAndLowercase() {
        #expect(HeaderName.fold("X_Auth.Subject") == "x-auth-subject")
        #expect(HeaderName.lowercase("X_Auth.Subject") == "x_auth.subject")
        #expect(HeaderName.lowercase("already-lower") == "already-lower")
    }
}
