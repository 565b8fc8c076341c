import NIOCore
import NIOHTTP1

/// How a response body is framed for the client. Gatehouse writes every response to its client itself, as bytes:
/// there is no response encoder in the client pipeline.
enum ResponseFraming: Equatable {
    /// No body follows the head (a response to HEAD; 1xx, 204 and 304).
    case none
    /// The body is written as it comes: `Content-Length` framed it, or the connection's close ends it (HTTP/1.0).
    case raw
    /// Each body part becomes a chunk; the end writes the last chunk.
    case chunked
}

/// Serialises response heads and frames body parts for the client.
enum ResponseWriter {
    static func writeStatusLine(version: HTTPVersion, status: HTTPResponseStatus, into buffer: inout ByteBuffer) {
        var reason = status.reasonPhrase
        reason.withUTF8 { writeStatusLine(version: version, code: Int(status.code), reason: UnsafeRawBufferPointer($0), into: &buffer) }
    }

    /// The status line of a relayed response: the client's HTTP version, the upstream's code and reason phrase (the
    /// standard phrase when it sent none).
    static func writeStatusLine(version: HTTPVersion, head: UpstreamResponseHead, into buffer: inout ByteBuffer) {
        guard !head.reason.isEmpty else {
            writeStatusLine(version: version, status: HTTPResponseStatus(statusCode: head.status), into: &buffer)
            return
        }
        head.bytes.withUnsafeReadableBytes { raw in
            writeStatusLine(
                version: version, code: head.status, reason: UnsafeRawBufferPointer(rebasing: raw[head.reason]),
                into: &buffer)
        }
    }

    private static func writeStatusLine(version: HTTPVersion, code: Int, reason: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        // Three digits (the parser and `HTTPResponseStatus` hold codes to 100...999).
        var digits = (
            UInt8(ascii: "0") + UInt8(truncatingIfNeeded: code / 100 % 10),
            UInt8(ascii: "0") + UInt8(truncatingIfNeeded: code / 10 % 10),
            UInt8(ascii: "0") + UInt8(truncatingIfNeeded: code % 10)
        )
        let versionText: StaticString = version.minor == 0 ? "HTTP/1.0" : "HTTP/1.1"
        versionText.withUTF8Buffer { versionBytes in
            withUnsafeBytes(of: &digits) { buffer.writeLine(UnsafeRawBufferPointer(versionBytes), $0, reason) }
        }
    }

    /// The fields Gatehouse adds to every response it writes, and the blank line: `X-Request-Id`, then
    /// `Connection: close` when the connection ends after it, or `Connection: keep-alive` for an HTTP/1.0 client that
    /// keeps it (such a client keeps a connection only when told so). `close` nil writes neither (a `101`).
    static func writeClosingFields(requestID: String, version: HTTPVersion, close: Bool?, into buffer: inout ByteBuffer) {
        buffer.writeField("X-Request-Id", requestID)
        if close == true {
            buffer.writeStaticString("Connection: close\r\n")
        } else if close == false && version.minor == 0 {
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// Sends `data` as one chunk (its size line, the data, CRLF) through `send`, as separate buffers so that a large
    /// body is not copied; an empty `data` sends nothing (an empty chunk would end the body).
    static func sendChunk(_ data: ByteBuffer, allocator: ByteBufferAllocator, _ send: (ByteBuffer) -> Void) {
        guard data.readableBytes > 0 else { return }
        var sizeLine = allocator.buffer(capacity: 18)
        writeChunkSize(data.readableBytes, into: &sizeLine)
        send(sizeLine)
        send(data)
        send(chunkSuffix)
    }

    /// Appends `data` as one chunk to `buffer` (for small bodies that ride in another buffer).
    static func writeChunk(_ data: ByteBuffer, into buffer: inout ByteBuffer) {
        guard data.readableBytes > 0 else { return }
        writeChunkSize(data.readableBytes, into: &buffer)
        buffer.writeImmutableBuffer(data)
        buffer.writeStaticString("\r\n")
    }

    private static func writeChunkSize(_ count: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(count, radix: 16))
        buffer.writeStaticString("\r\n")
    }

    /// The CRLF after a chunk's data, the last chunk, and the interim `100 Continue` head.
    private static let chunkSuffix = ByteBuffer(string: "\r\n")
    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")
    static let empty = ByteBuffer()

    static func continueHead(version: HTTPVersion) -> ByteBuffer {
        ByteBuffer(string: version.minor == 0 ? "HTTP/1.0 100 Continue\r\n\r\n" : "HTTP/1.1 100 Continue\r\n\r\n")
    }
}
