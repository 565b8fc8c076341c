#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A deterministic byte stream for large bodies: byte `i` is `block[i % block.count]`. Sender and receiver produce
/// and check it piecewise, so neither ever holds a whole body.
enum Pattern {
    /// A prime length, so that pieces of power-of-two sizes never line up with the period.
    static let block: [UInt8] = {
        var state: UInt32 = 0x9E37_79B9
        return (0..<65_521).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }()

    /// `count` bytes of the stream starting at `offset`.
    static func bytes(at offset: Int, count: Int) -> [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(count)
        var position = offset % block.count
        while result.count < count {
            let piece = min(count - result.count, block.count - position)
            result.append(contentsOf: block[position..<(position + piece)])
            position = 0
        }
        return result
    }

    /// Whether `bytes` are the stream's bytes at `offset`.
    static func matches(_ bytes: [UInt8], at offset: Int) -> Bool {
        var position = offset % block.count
        var index = 0
        while index < bytes.count {
            let piece = min(bytes.count - index, block.count - position)
            let equal = bytes[index..<(index + piece)].withUnsafeBytes { received in
                block[position..<(position + piece)].withUnsafeBytes { expected in
                    memcmp(received.baseAddress!, expected.baseAddress!, piece) == 0
                }
            }
            if !equal { return false }
            index += piece
            position = 0
        }
        return true
    }
}
