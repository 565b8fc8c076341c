import Testing

@testable import GatehouseProxy

struct RequestIDGeneratorTests {
    @Test func idsAre32LowerCaseHexDigits() {
        var generator = RequestIDGenerator()
        for _ in 0..<100 {
            let id = generator.make()
            #expect(id.utf8.count == 32)
            #expect(id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
            #expect(HeaderPolicy.isSaneRequestID(id))
        }
    }

    @Test func idsDoNotRepeatWithinAConnectionOrAcrossConnections() {
        var seen = Set<String>()
        for _ in 0..<20 {
            var generator = RequestIDGenerator()
            for _ in 0..<500 { seen.insert(generator.make()) }
        }
        #expect(seen.count == 20 * 500)
    }

    @Test func aSeedDeterminesTheStream() {
        var first = RequestIDGenerator(seed: 42)
        var second = RequestIDGenerator(seed: 42)
        var other = RequestIDGenerator(seed: 43)
        let a = (0..<3).map { _ in first.make() }
        #expect(a == (0..<3).map { _ in second.make() })
        #expect(a != (0..<3).map { _ in other.make() })
        // The SplitMix64 reference values for seed 10; the first word's leading zero nibble is written out.
        var ten = RequestIDGenerator(seed: 10)
        #expect(ten.make() == "088712be8a582fcabbff7c596e26ce46")
    }
}
