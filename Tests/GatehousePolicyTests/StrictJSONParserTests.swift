import GatehousePolicy
import Testing

/// Token headers and payloads are read by one strict parser: two parsers must never read different claims.
struct StrictJSONParserTests {
    private static func parse(_ text: String, maxDepth: Int = 16) throws(StrictJSONParser.Failure) -> JSONValue {
        try StrictJSONParser.parse(Array(text.utf8), maxDepth: maxDepth)
    }

    @Test("parses every JSON type")
    func parsesTypes() throws {
        let value = try Self.parse(#" { "s": "a\"b\\c\/d\u00e9\ud83d\ude00", "n": -1.5e2, "i": 0, "t": true, "f": false, "z": null, "a": [1, [], {}] } "#)
        #expect(value["s"] == .string("a\"b\\c/d\u{E9}\u{1F600}"))
        #expect(value["n"] == .number(-150))
        #expect(value["i"] == .number(0))
        #expect(value["t"] == .bool(true))
        #expect(value["f"] == .bool(false))
        #expect(value["z"] == .null)
        #expect(value["a"] == .array([.number(1), .array([]), .object([:])]))
    }

    @Test(
        "written strings read back as they were, with every control byte escaped",
        arguments: [
            "", "plain", "\"", "\\", "a\"b\\c", "\r\n\t", "\u{0}\u{1}\u{1F}\u{7F}", "tail\u{1}",
            "\u{1}head", "caf\u{E9} \u{1F600} \u{2028}", "\"quoted\" \\path\\ \n\u{E9}",
        ])
    func writtenStringsRoundTrip(text: String) throws {
        let written = JSONValue.string(text).jsonText
        #expect(!written.utf8.dropFirst().dropLast().contains { $0 < 0x20 || $0 == 0x7F })
        #expect(try Self.parse(written) == .string(text))
    }

    @Test(
        "strings are written with the short escapes for quote, backslash, LF, CR and tab, \\u00xx for other controls",
        arguments: [
            ("plain", #""plain""#), ("a\"b", #""a\"b""#), ("a\\b", #""a\\b""#), ("\n\r\t", #""\n\r\t""#),
            ("\u{0}x\u{1F}", #""\u0000x\u001f""#), ("\u{7F}", #""\u007f""#), ("caf\u{E9}", "\"caf\u{E9}\""),
        ])
    func writtenStringsExactly(text: String, written: String) {
        #expect(JSONValue.string(text).jsonText == written)
    }

    @Test(
        "duplicate keys are refused at any depth, also when spelled with escapes",
        arguments: [
            (#"{"sub":"alice","sub":"admin"}"#, "sub"),
            (#"{"a":{"x":1,"x":1}}"#, "x"),
            (#"{"a":[{"k":1,"k":2}]}"#, "k"),
            (#"{"sub":"alice","s\u0075b":"admin"}"#, "sub"),
        ])
    func duplicateKeys(text: String, key: String) {
        #expect(throws: StrictJSONParser.Failure.duplicateKey(key)) { try Self.parse(text) }
    }

    @Test(
        "malformed documents are refused",
        arguments: [
            "", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "{'a':1}", "{\"a\":1} x", "{\"a\":1}{}",
            "01", "1.", ".5", "+1", "1e", "-", "NaN", "Infinity", "tru", "nul", "\"\\x\"", "\"\\u12\"",
            "\"a\u{0001}\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "[1 2]", "{\"a\" 1}",
        ])
    func malformed(text: String) {
        #expect(throws: StrictJSONParser.Failure.syntax) { try Self.parse(text) }
    }

    @Test("invalid UTF-8 in a string is refused")
    func invalidUTF8() {
        let bytes: [UInt8] = Array("{\"a\":\"".utf8) + [0xC3, 0x28] + Array("\"}".utf8)
        #expect(throws: StrictJSONParser.Failure.syntax) { try StrictJSONParser.parse(bytes) }
        let overlong: [UInt8] = Array("\"".utf8) + [0xC0, 0xAF] + Array("\"".utf8)
        #expect(throws: StrictJSONParser.Failure.syntax) { try StrictJSONParser.parse(overlong) }
    }

    @Test("nesting is bounded")
    func depth() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: StrictJSONParser.Failure.tooDeep) { try Self.parse(deep) }
        let objects = String(repeating: "{\"a\":", count: 17) + "1" + String(repeating: "}", count: 17)
        #expect(throws: StrictJSONParser.Failure.tooDeep) { try Self.parse(objects) }
        let allowed = String(repeating: "[", count: 16) + String(repeating: "]", count: 16)
        #expect(throws: Never.self) { try Self.parse(allowed) }
    }

    @Test(
        "numbers too large for a Double become non-finite values, never a crash",
        arguments: ["1e400", "-1e400", "123456789012345678901234567890123456789e300"])
    func hugeNumbers(text: String) throws {
        let value = try Self.parse(text)
        guard case .number(let number) = value else {
            Issue.record("expected a number, got \(value)")
            return
        }
        #expect(!number.isFinite)
    }
}
