import GatehousePolicy
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A header field of a parsed head (request or response): the offsets of its name and trimmed value in the head's
/// bytes, and what the name is.
struct HeadField {
    let name: Range<Int>
    let value: Range<Int>
    let kind: HeaderPolicy.Known
    /// Whether the name holds neither `_` nor `.` (which some stacks read as `-`).
    let isPlain: Bool
    /// Whether whitespace followed the value (left out of ``value``).
    let trailingWhitespace: Bool
}

/// The byte-level reading of an HTTP/1 head shared by the request and response parsers: finding its end while
/// checking every byte, then reading its field lines one by one.
enum HeadBytes {
    /// What ``scan(_:from:)`` found.
    enum Scan: Equatable {
        /// The head ends just before this offset.
        case complete(Int)
        /// No blank line yet.
        case incomplete
        case bareLF
        case controlCharacter

        var failure: String? {
            switch self {
            case .bareLF: return "bare LF in the head"
            case .controlCharacter: return "control character in the head"
            default: return nil
            }
        }

        /// The offset just past the head's blank line (nil while it has not come), or the parser's failure made from
        /// the reason the bytes were refused.
        func end<Failure: Error>(orFailure failure: (String) -> Failure) -> Result<Int?, Failure> {
            if let reason = self.failure { return .failure(failure(reason)) }
            if case .complete(let end) = self { return .success(end) }
            return .success(nil)
        }
    }

    /// Checks a head's bytes from `scanned` on and looks for its blank line. Garbage is refused as it arrives, not
    /// when a blank line that may never come is found: no control bytes but CR, LF (after CR) and HTAB.
    ///
    /// Eight bytes are passed over at once while none of them is a control byte: most of a head is visible text
    /// (a bearer token alone is hundreds of bytes), and those bytes need no other check.
    static func scan(_ bytes: UnsafeRawBufferPointer, from scanned: Int) -> Scan {
        var index = min(scanned, bytes.count)
        while index < bytes.count {
            if index + 8 <= bytes.count,
                !hasControlByte(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
            {
                index += 8
                continue
            }
            if let verdict = step(bytes, at: &index) { return verdict }
        }
        return .incomplete
    }

    /// ``scan(_:from:)`` one byte at a time: the reference the tests hold it to.
    static func scanEachByte(_ bytes: UnsafeRawBufferPointer, from scanned: Int) -> Scan {
        var index = min(scanned, bytes.count)
        while index < bytes.count {
            if let verdict = step(bytes, at: &index) { return verdict }
        }
        return .incomplete
    }

    /// Whether any of the eight bytes of `word` is below 0x20 or is 0x7F. A byte below 0x20 borrows into its top bit
    /// when 0x20 is taken from it, and only bytes under 0x80 count; 0x7F is found as the zero byte of `word ^ 0x7F…`.
    /// Exact as a yes or no (a borrow only ever starts at a byte that is itself such a byte).
    @inline(__always)
    static func hasControlByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let belowSpace = (word &- ones &* 0x20) & ~word & highBits
        let delete = word ^ (ones &* 0x7F)
        let isDelete = (delete &- ones) & ~delete & highBits
        return belowSpace | isDelete != 0
    }

    /// Checks the byte at `index` and moves past it; the verdict when it ends the scan.
    @inline(__always)
    private static func step(_ bytes: UnsafeRawBufferPointer, at index: inout Int) -> Scan? {
        let byte = bytes[index]
        index += 1
        // Most bytes are visible text: one comparison.
        if byte >= 0x20 {
            return byte == 0x7F ? .controlCharacter : nil
        }
        if byte == UInt8(ascii: "\n") {
            guard index >= 2, bytes[index - 2] == UInt8(ascii: "\r") else { return .bareLF }
            // Every LF follows a CR, so "LF CR LF" here is the blank line.
            if index >= 4 && bytes[index - 3] == UInt8(ascii: "\n") { return .complete(index) }
        } else if byte != UInt8(ascii: "\r") && byte != 0x09 {
            return .controlCharacter
        }
        return nil
    }

    /// Collects a head across reads, for both parsers: `partial` holds what came so far, of which the first `scanned`
    /// bytes hold no blank line. Returns the head's bytes, with what follows them left in `buffer`, or nil when more
    /// bytes are needed (then all of `buffer` has moved to `partial`). `scan` finds the end of a head (checking its
    /// bytes as ``scan(_:from:)`` does); a head over `maxBytes`, ended or not, throws `tooLarge`.
    static func collect<Failure: Error>(
        _ buffer: inout ByteBuffer,
        partial: inout ByteBuffer?,
        scanned: inout Int,
        maxBytes: Int,
        tooLarge: Failure,
        scan: (UnsafeRawBufferPointer, Int) -> Result<Int?, Failure>
    ) throws(Failure) -> ByteBuffer? {
        var source: ByteBuffer
        if var held = partial {
            partial = nil
            held.writeBuffer(&buffer)
            source = held
        } else {
            source = buffer
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        let from = scanned
        let found = source.withUnsafeReadableBytes { scan($0, from) }
        guard let end = try found.get() else {
            guard source.readableBytes <= maxBytes else { throw tooLarge }
            partial = source
            scanned = source.readableBytes
            return nil
        }
        guard end <= maxBytes else { throw tooLarge }
        let head = source.readSlice(length: end)!
        // What follows the head goes back to the caller.
        buffer = source
        return head
    }

    /// Runs `parse` over the readable bytes of a head (a typed error does not pass through `withUnsafeReadableBytes`).
    static func parse<Head, Failure: Error>(
        _ head: ByteBuffer, _ parse: (UnsafeRawBufferPointer) throws(Failure) -> Head
    ) throws(Failure) -> Head {
        let parsed = head.withUnsafeReadableBytes { raw in Result { () throws(Failure) -> Head in try parse(raw) } }
        return try parsed.get()
    }

    /// Traps unless `raw` ends with CRLF CRLF, as every head ``collect(_:partial:scanned:maxBytes:tooLarge:scan:)``
    /// gives does: the parsers' index loops lean on it (each stops at the blank line's CR at the latest).
    static func requireBlankLineEnd(_ raw: UnsafeRawBufferPointer) {
        let count = raw.count
        precondition(
            count >= 4 && raw[count - 4] == UInt8(ascii: "\r") && raw[count - 3] == UInt8(ascii: "\n")
                && raw[count - 2] == UInt8(ascii: "\r") && raw[count - 1] == UInt8(ascii: "\n"))
    }

    /// Calls `body` with each comma-separated element of a list value, blanks trimmed (empty elements too).
    static func forEachElement(of value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        for element in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            body(HeaderName.trimmed(UnsafeRawBufferPointer(rebasing: element)))
        }
    }

    /// What a `Connection` value says, read in one pass by both parsers.
    struct ConnectionOptions {
        var close = false
        var keepAlive = false
        var upgrade = false
        /// Whether it names a header to remove (see ``HeaderPolicy/nominatesHeader(_:)``).
        var nominatesHeader = false

        mutating func read(_ value: UnsafeRawBufferPointer) {
            HeadBytes.forEachElement(of: value) { token in
                if HeaderName.equalsIgnoringCase(token, "close") { close = true }
                if HeaderName.equalsIgnoringCase(token, "keep-alive") { keepAlive = true }
                if HeaderName.equalsIgnoringCase(token, "upgrade") { upgrade = true }
                if HeaderPolicy.nominatesHeader(token) { nominatesHeader = true }
            }
        }
    }

    /// A `Content-Length` value: 1 to 18 digits and nothing else (no sign, list or blank), else nil.
    static func contentLength(_ value: UnsafeRawBufferPointer) -> Int? {
        guard !value.isEmpty, value.count <= 18,
            value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    /// Reads the field line at `index` of a head ``scan(_:from:)`` checked, moving `index` past its CRLF; nil at the
    /// blank line that ends the head. Refused: a name that is not a token (a leading space or tab is obsolete line
    /// folding), whitespace before the colon, and a CR not followed by LF.
    static func field<Failure: Error>(
        _ raw: UnsafeRawBufferPointer, at index: inout Int, orFailure failure: (String) -> Failure
    ) throws(Failure) -> HeadField? {
        if raw[index] == UInt8(ascii: "\r") {
            guard raw[index + 1] == UInt8(ascii: "\n"), index + 2 == raw.count else { throw failure("malformed head") }
            return nil
        }
        let nameStart = index
        var isPlain = true
        while HeaderName.isTokenByte(raw[index]) {
            if raw[index] == UInt8(ascii: "_") || raw[index] == UInt8(ascii: ".") { isPlain = false }
            index += 1
        }
        guard index > nameStart else {
            let folded = raw[index] == UInt8(ascii: " ") || raw[index] == UInt8(ascii: "\t")
            throw failure(folded ? "obsolete line folding" : "invalid header name")
        }
        guard raw[index] == UInt8(ascii: ":") else { throw failure("invalid header name") }
        let name = nameStart..<index
        index += 1
        while raw[index] == UInt8(ascii: " ") || raw[index] == UInt8(ascii: "\t") { index += 1 }
        let valueStart = index
        // The head's bytes were checked as they came: no control bytes here but HTAB and CR.
        let (lineEnd, valueEnd) = Self.valueEnd(raw, from: index)
        guard raw[lineEnd + 1] == UInt8(ascii: "\n") else { throw failure("bare CR in the head") }
        index = lineEnd + 2
        return HeadField(
            name: name, value: valueStart..<valueEnd,
            kind: HeaderPolicy.classify(UnsafeRawBufferPointer(rebasing: raw[name])), isPlain: isPlain,
            trailingWhitespace: valueEnd < lineEnd)
    }

    /// The offset of the CR that ends the line holding `start`, and the end of the value that starts there with
    /// trailing spaces and tabs left out, in a head ``scan(_:from:)`` checked. `raw` must hold a CR at or after
    /// `start`.
    @inline(__always)
    private static func valueEnd(_ raw: UnsafeRawBufferPointer, from start: Int) -> (lineEnd: Int, valueEnd: Int) {
        let base = raw.baseAddress!
        let found = memchr(base + start, Int32(UInt8(ascii: "\r")), raw.count - start)!
        let lineEnd = base.distance(to: UnsafeRawPointer(found))
        var valueEnd = lineEnd
        while valueEnd > start && (raw[valueEnd - 1] == UInt8(ascii: " ") || raw[valueEnd - 1] == UInt8(ascii: "\t")) {
            valueEnd -= 1
        }
        return (lineEnd, valueEnd)
    }
}
