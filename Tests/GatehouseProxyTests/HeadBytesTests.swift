import Testing

@testable import GatehouseProxy

/// The head scanner passes over eight bytes at a time: it must find every byte the byte-by-byte reading refuses, at
/// every position in a word, and end heads at exactly the same offset.
struct HeadBytesTests {
    private static func scanBothWays(_ bytes: [UInt8], from: Int = 0) -> (fast: HeadBytes.Scan, reference: HeadBytes.Scan) {
        bytes.withUnsafeBytes { raw in (HeadBytes.scan(raw, from: from), HeadBytes.scanEachByte(raw, from: from)) }
    }

    @Test("every byte value, at every offset within a word, gets the byte-by-byte verdict")
    func everyByteAtEveryOffset() {
        let line = Array("X-Token: abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        for value in 0...255 {
            for offset in 0..<16 {
                var bytes = line
                bytes[9 + offset] = UInt8(value)
                bytes += Array("\r\n\r\n".utf8)
                let (fast, reference) = Self.scanBothWays(bytes)
                #expect(fast == reference, "byte \(value) at \(offset)")
                switch value {
                case 0x0A:
                    #expect(fast == .bareLF, "at \(offset)")
                case 0x00..<0x20 where value != 0x09 && value != 0x0D, 0x7F:
                    #expect(fast == .controlCharacter, "byte \(value) at \(offset)")
                default:
                    // Tab, visible text, bytes from 0x80, and a CR inside a value (the field reader refuses that one).
                    #expect(fast == .complete(bytes.count), "byte \(value) at \(offset)")
                }
            }
        }
    }

    @Test("the word test finds a control byte exactly when one of its eight bytes is one")
    func wordTest() {
        var generator = SeededGenerator(state: 0xC0_FFEE)
        for _ in 0..<50_000 {
            var word = generator.next()
            // Mostly visible text, so the interesting words (one control byte among text) are common.
            if generator.below(2) == 0 {
                word = 0
                for position in 0..<8 {
                    let byte = UInt64(generator.below(4) == 0 ? generator.below(256) : 0x20 + generator.below(0x5F))
                    word |= byte << (8 * UInt64(position))
                }
            }
            let expected = (0..<8).contains { position in
                let byte = UInt8(truncatingIfNeeded: word >> (8 * UInt64(position)))
                return byte < 0x20 || byte == 0x7F
            }
            #expect(HeadBytes.hasControlByte(word) == expected, "\(String(word, radix: 16))")
        }
    }

    @Test("random heads, scanned from random offsets, get the byte-by-byte verdict")
    func randomHeads() {
        var generator = SeededGenerator(state: 0x4EAD)
        let alphabet: [UInt8] = Array("abcXYZ09:-_ .;=/\t".utf8) + [0x80, 0xC3, 0xFF]
        var ended = 0
        for _ in 0..<5_000 {
            var bytes: [UInt8] = []
            for _ in 0..<(1 + generator.below(120)) {
                switch generator.below(40) {
                case 0: bytes += [0x0D, 0x0A]
                case 1: bytes += [0x0D, 0x0A, 0x0D, 0x0A]
                case 2: bytes.append(UInt8(generator.below(0x20)))
                case 3: bytes.append(0x7F)
                case 4: bytes.append(0x0A)
                default: bytes.append(alphabet[generator.below(alphabet.count)])
                }
            }
            let from = generator.below(bytes.count + 1)
            let (fast, reference) = Self.scanBothWays(bytes, from: from)
            #expect(fast == reference, "\(bytes) from \(from)")
            if case .complete = reference { ended += 1 }
        }
        // Heads that end are common enough for the offsets to be compared too.
        #expect(ended > 200)
    }
}
