import GatehousePolicy
import NIOCore

/// Reads one message body framed by a length or by chunks (RFC 9112 §6.3, §7.1), strictly, for both directions: the
/// client's request bodies (``RequestParser``) and the upstream's responses (``UpstreamResponseParser``).
///
/// Chunk extensions are read past and trailer fields dropped, never relayed. Refused: a chunk size that is not hex or
/// has more than 15 digits, whitespace after it but before no extension, a size line over ``maxLineBytes``, control
/// characters in an extension, chunk data longer than its size, a bare CR or LF where a CRLF belongs, a trailer line
/// that is not `name: value`, and a trailer section over the head limit.
struct BodyDecoder {
    /// Why a body's framing was refused.
    struct FramingError: Error, Equatable, CustomStringConvertible {
        let description: String
    }

    private enum State {
        case length(remaining: Int)
        case chunkSize(size: Int, digits: Int, afterDigits: Bool, inExtension: Bool, sawCR: Bool, length: Int)
        case chunkData(remaining: Int)
        case chunkEnd(sawCR: Bool)
        /// In the trailer section: `inName` until a field's colon.
        case trailers(lineLength: Int, total: Int, sawCR: Bool, inName: Bool)
        case done
    }

    /// The longest chunk-size line read (extensions included).
    static let maxLineBytes = 4096
    private var state: State
    private let maxTrailerBytes: Int

    /// A body of `length` bytes.
    init(length: Int) {
        state = length > 0 ? .length(remaining: length) : .done
        maxTrailerBytes = 0
    }

    /// A chunked body, whose trailer section may take up to `maxTrailerBytes`.
    init(chunkedWithTrailersUpTo maxTrailerBytes: Int) {
        state = .chunkSize(size: 0, digits: 0, afterDigits: false, inExtension: false, sawCR: false, length: 0)
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// Whether the whole body has been read.
    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// The next piece of body data in `buffer` (consumed), or nil when the body is done or `buffer` holds no more
    /// data (framing bytes are consumed as they come).
    mutating func next(_ buffer: inout ByteBuffer) throws(FramingError) -> ByteBuffer? {
        while buffer.readableBytes > 0 {
            switch state {
            case .done:
                return nil
            case .length(let remaining):
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                state = remaining == slice.readableBytes ? .done : .length(remaining: remaining - slice.readableBytes)
                return slice
            case .chunkData(let remaining):
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                state = remaining == slice.readableBytes ? .chunkEnd(sawCR: false) : .chunkData(remaining: remaining - slice.readableBytes)
                return slice
            case .chunkSize, .chunkEnd, .trailers:
                try readChunkFraming(&buffer)
            }
        }
        return nil
    }

    /// ``next(_:)``, its error made into the parser's own from the reason the framing was refused.
    mutating func next<Failure: Error>(
        _ buffer: inout ByteBuffer, orFailure failure: (String) -> Failure
    ) throws(Failure) -> ByteBuffer? {
        do {
            return try next(&buffer)
        } catch {
            throw failure(error.description)
        }
    }

    /// Chunk sizes, the CRLF after each chunk, and the trailer section, a byte at a time, until chunk data starts,
    /// the body ends or the bytes run out.
    private mutating func readChunkFraming(_ buffer: inout ByteBuffer) throws(FramingError) {
        while let byte = buffer.readInteger(as: UInt8.self) {
            switch state {
            case .chunkSize(var size, var digits, var afterDigits, var inExtension, let sawCR, let length):
                // A size line (extensions included) has a bound, like a head.
                guard length < Self.maxLineBytes else { throw FramingError(description: "chunk size line too long") }
                if sawCR {
                    guard byte == UInt8(ascii: "\n"), digits > 0 else { throw FramingError(description: "malformed chunk size line") }
                    if size == 0 {
                        state = .trailers(lineLength: 0, total: 0, sawCR: false, inName: true)
                        continue
                    }
                    state = .chunkData(remaining: size)
                    return
                }
                if byte == UInt8(ascii: "\r") {
                    // Whitespace after the size only goes before an extension.
                    guard !afterDigits || inExtension else { throw FramingError(description: "malformed chunk size") }
                    state = .chunkSize(
                        size: size, digits: digits, afterDigits: afterDigits, inExtension: inExtension, sawCR: true,
                        length: length + 1)
                    continue
                }
                if inExtension {
                    // Extensions are read past, never relayed; no control characters in them.
                    guard byte >= 0x20 && byte != 0x7F || byte == 0x09 else {
                        throw FramingError(description: "control character in a chunk extension")
                    }
                } else if !afterDigits, let value = Self.hexValue(byte) {
                    guard digits < 15 else { throw FramingError(description: "chunk size too large") }
                    size = size << 4 | value
                    digits += 1
                } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                    guard digits > 0 else { throw FramingError(description: "malformed chunk size") }
                    afterDigits = true
                } else if byte == UInt8(ascii: ";") {
                    guard digits > 0 else { throw FramingError(description: "malformed chunk size") }
                    inExtension = true
                } else {
                    throw FramingError(description: "malformed chunk size")
                }
                state = .chunkSize(
                    size: size, digits: digits, afterDigits: afterDigits, inExtension: inExtension, sawCR: false,
                    length: length + 1)
            case .chunkEnd(let sawCR):
                if !sawCR {
                    guard byte == UInt8(ascii: "\r") else { throw FramingError(description: "chunk data longer than its size") }
                    state = .chunkEnd(sawCR: true)
                } else {
                    guard byte == UInt8(ascii: "\n") else { throw FramingError(description: "bare CR after chunk data") }
                    state = .chunkSize(size: 0, digits: 0, afterDigits: false, inExtension: false, sawCR: false, length: 0)
                }
            case .trailers(let lineLength, let total, let sawCR, let inName):
                // Trailer fields are read past and dropped (Gatehouse relays no trailers), but must be fields:
                // `name: value`, with a token name and no control characters.
                guard total < maxTrailerBytes else { throw FramingError(description: "trailer section too large") }
                if sawCR {
                    guard byte == UInt8(ascii: "\n") else { throw FramingError(description: "bare CR in the trailer section") }
                    if lineLength == 0 {
                        state = .done
                        return
                    }
                    state = .trailers(lineLength: 0, total: total + 1, sawCR: false, inName: true)
                } else if byte == UInt8(ascii: "\r") {
                    guard lineLength == 0 || !inName else { throw FramingError(description: "malformed trailer field") }
                    state = .trailers(lineLength: lineLength, total: total + 1, sawCR: true, inName: inName)
                } else if inName {
                    if byte == UInt8(ascii: ":") {
                        guard lineLength > 0 else { throw FramingError(description: "malformed trailer field") }
                        state = .trailers(lineLength: lineLength + 1, total: total + 1, sawCR: false, inName: false)
                    } else {
                        guard HeaderName.isTokenByte(byte) else { throw FramingError(description: "malformed trailer field") }
                        state = .trailers(lineLength: lineLength + 1, total: total + 1, sawCR: false, inName: true)
                    }
                } else {
                    guard byte >= 0x20 && byte != 0x7F || byte == 0x09 else {
                        throw FramingError(description: "invalid byte in the trailer section")
                    }
                    state = .trailers(lineLength: lineLength + 1, total: total + 1, sawCR: false, inName: false)
                }
            case .length, .chunkData, .done:
                return
            }
        }
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
