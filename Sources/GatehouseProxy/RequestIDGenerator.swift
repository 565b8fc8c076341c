/// Generates `X-Request-Id` values: 32 lower-case hex digits from a SplitMix64 stream seeded once per connection from
/// the system generator.
///
/// Request ids label log lines; they are unique with overwhelming probability but not secrets. Seeding once keeps the
/// system generator (a `getrandom` call per value) off the request path.
struct RequestIDGenerator {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    /// Creates a generator with a fixed seed (for tests).
    init(seed: UInt64) {
        state = seed
    }

    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A new id.
    mutating func make() -> String {
        let high = next()
        let low = next()
        return String(unsafeUninitializedCapacity: 32) { buffer in
            Self.writeHex(high, into: buffer, at: 0)
            Self.writeHex(low, into: buffer, at: 16)
            return 32
        }
    }

    private static func writeHex(_ value: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        for index in 0..<16 {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * index)) & 0x0F
            buffer[offset + index] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
        }
    }
}
