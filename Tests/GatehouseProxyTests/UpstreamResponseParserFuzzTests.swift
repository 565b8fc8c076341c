import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// The upstream response parser against generated responses, split at random points, and against random damage to
/// them: valid responses always give back their body, whatever the splits; damaged ones never crash it or make it
/// give more than one response. Seeded, so that a failure can be replayed.
struct UpstreamResponseParserFuzzTests {
    /// A valid response with a random body, framed by length or by random chunks, with random extra fields.
    static func response(_ random: inout SeededGenerator) -> (bytes: [UInt8], body: [UInt8]) {
        let body = (0..<random.below(300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var status = 200 + random.below(300)
        // These two never carry a body.
        if status == 204 || status == 304 { status = 200 }
        var head = "HTTP/1.1 \(status) Reason \(random.below(10))\r\n"
        for index in 0..<random.below(6) { head += "X-Field-\(index):  value \(random.next() % 1000) \r\n" }
        var bytes: [UInt8]
        if random.below(2) == 0 {
            head += "Content-Length: \(body.count)\r\n\r\n"
            bytes = Array(head.utf8) + body
        } else {
            head += "Transfer-Encoding: chunked\r\n\r\n"
            bytes = Array(head.utf8) + random.chunked(body)
        }
        return (bytes, body)
    }

    /// Feeds `bytes` in random pieces; returns the body, the number of heads and ends, and whether it threw.
    static func feed(_ bytes: [UInt8], _ random: inout SeededGenerator) -> (body: [UInt8], heads: Int, ends: Int, failed: Bool) {
        var parser = UpstreamResponseParser(maxHeadBytes: 4096)
        parser.expectResponse(to: .GET)
        var body: [UInt8] = []
        var heads = 0
        var ends = 0
        do {
            try random.pieces(of: bytes) { buffer in
                while let event = try parser.next(&buffer) {
                    switch event {
                    case .head: heads += 1
                    case .body(let part): body += Array(part.readableBytesView)
                    case .end: ends += 1
                    }
                }
                #expect(buffer.readableBytes == 0 || parser.isUpgraded)
            }
        } catch {
            return (body, heads, ends, true)
        }
        return (body, heads, ends, false)
    }

    @Test(arguments: 0..<8)
    func validResponsesSurviveAnySplit(seed: Int) {
        var random = SeededGenerator(state: UInt64(seed) &* 7919)
        for _ in 0..<250 {
            let (bytes, body) = Self.response(&random)
            let outcome = Self.feed(bytes, &random)
            #expect(!outcome.failed)
            #expect(outcome.heads == 1)
            #expect(outcome.ends == 1)
            #expect(outcome.body == body)
        }
    }

    @Test(arguments: 0..<8)
    func damagedResponsesNeverCrashOrDoubleUp(seed: Int) {
        var random = SeededGenerator(state: UInt64(seed) &* 104_729)
        for _ in 0..<500 {
            var (bytes, _) = Self.response(&random)
            for _ in 0..<(1 + random.below(4)) {
                let position = random.below(bytes.count)
                switch random.below(3) {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
                }
            }
            let outcome = Self.feed(bytes, &random)
            // One request, so at most one response, however the bytes were damaged.
            #expect(outcome.heads <= 1)
            #expect(outcome.ends <= 1)
        }
    }
}
