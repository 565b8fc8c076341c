import NIOCore

/// A small seeded generator (SplitMix64) for the parser fuzz tests: a failure is replayed from its seed.
struct SeededGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// Hands `bytes` to `read` in pieces of 1 to 40 bytes, as a connection's reads might bring them.
    mutating func pieces(of bytes: [UInt8], _ read: (inout ByteBuffer) throws -> Void) rethrows {
        var offset = 0
        while offset < bytes.count {
            let size = min(bytes.count - offset, 1 + below(40))
            var buffer = ByteBuffer(bytes: bytes[offset..<offset + size])
            offset += size
            try read(&buffer)
        }
    }
}

extension SeededGenerator {
    /// `body` as random chunks (some with an extension, when `extensions`), the last chunk, and now and then a trailer.
    mutating func chunked(_ body: [UInt8], extensions: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = []
        var offset = 0
        while offset < body.count {
            let size = min(body.count - offset, 1 + below(64))
            let extensionText = extensions && below(4) == 0 ? ";name=value" : ""
            bytes += Array((String(size, radix: 16) + extensionText + "\r\n").utf8) + body[offset..<offset + size]
            bytes += Array("\r\n".utf8)
            offset += size
        }
        return bytes + Array((below(3) == 0 ? "0\r\nX-Trailer: t\r\n\r\n" : "0\r\n\r\n").utf8)
    }
}
