import GatehousePolicy
import Testing

/// Exactly one spelling of every byte string is accepted, so two different tokens never verify as the same.
struct Base64URLTests {
    @Test(
        "encodes without padding (RFC 4648 test vectors, URL alphabet)",
        arguments: [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ])
    func encodes(plain: String, encoded: String) {
        #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
        #expect(Base64URL.decode(Array(encoded.utf8)) == Array(plain.utf8))
    }

    @Test("uses - and _ where standard base64 uses + and /")
    func urlAlphabet() {
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.decode(Array("-_8".utf8)) == [0xFB, 0xFF])
    }

    @Test("every byte string round-trips")
    func roundTrip() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ length) }
            #expect(Base64URL.decode(Array(Base64URL.encode(bytes).utf8)) == bytes)
        }
        let all = (0...255).map { UInt8($0) }
        #expect(Base64URL.decode(Array(Base64URL.encode(all).utf8)) == all)
    }

    @Test(
        "non-canonical spellings are refused",
        arguments: [
            "Zg==",  // padding
            "Zg=",
            "Zm8=",
            "Zh",  // 'f' with a non-zero trailing bit ("Zg" is canonical)
            "Zm9",  // "fo" with non-zero trailing bits ("Zm8" is canonical)
            "+/8",  // standard alphabet
            "Zm 9v",  // space
            "Zm9v\n",
            "Z",  // impossible length
            "Zm9vY",
            "Zm9v.",
            "\u{E9}",
        ])
    func refusesNonCanonical(text: String) {
        #expect(Base64URL.decode(Array(text.utf8)) == nil)
    }
}
