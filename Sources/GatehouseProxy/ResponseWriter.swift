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
        buffer.writeStaticString(version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        writeCode(Int(status.code), into: &buffer)
        buffer.writeStaticString(" ")
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
    }

    /// The status line of a relayed response: the client's HTTP version, the upstream's code and reason phrase (the
    /// standard phrase when it sent none).
    static func writeStatusLine(version: HTTPVersion, head: UpstreamResponseHead, into buffer: inout ByteBuffer) {
        guard !head.reason.isEmpty else {
            writeStatusLine(version: version, status: HTTPResponseStatus(statusCode: head.status), into: &buffer)
            return
        }
        buffer.writeStaticString(version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        writeCode(head.status, into: &buffer)
        buffer.writeStaticString(" ")
        buffer.writeImmutableBuffer(head.bytes.getSlice(at: head.bytes.readerIndex + head.reason.lowerBound, length: head.reason.count)!)
        buffer.writeStaticString("\r\n")
    }

    private static func writeCode(_ code: Int, into buffer: inout ByteBuffer) {
        // Three digits (the parser and `HTTPResponseStatus` hold codes to 100...999).
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: code / 100 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: code / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: code % 10))
    }

    /// The fields Gatehouse adds to every response it writes, and the blank line: `X-Request-Id`, then
    /// `Connection: close` when the connection ends after it, or `Connection: keep-alive` for an HTTP/1.0 client that
    /// keeps it (such a client keeps a connection only when told so). `close` nil writes neither (a `101`).
    static func writeClosingFields(requestID: String, version: HTTPVersion, close: Bool?, into buffer: inout ByteBuffer) {
        writeField("X-Request-Id", requestID, into: &buffer)
        if close == true {
            buffer.writeStaticString("Connection: close\r\n")
        } else if close == false && version.minor == 0 {
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    @inline(__always)
    static func writeField(_ name: String, _ value: String, into buffer: inout ByteBuffer) {
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
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
