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
    /// `HTTP/1.x code phrase`, then each header, then the blank line.
    static func head(
        version: HTTPVersion, status: HTTPResponseStatus, headers: HTTPHeaders, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        writeStatusLine(version: version, status: status, into: &buffer)
        for (name, value) in headers {
            writeField(name, value, into: &buffer)
        }
        buffer.writeStaticString("\r\n")
        return buffer
    }

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

    @inline(__always)
    static func writeField(_ name: String, _ value: String, into buffer: inout ByteBuffer) {
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }

    /// The line in front of a chunk of `count` bytes: its size in hex and CRLF.
    static func chunkPrefix(_ count: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 18)
        buffer.writeString(String(count, radix: 16))
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// The CRLF after a chunk's data, the last chunk, and the interim `100 Continue` head.
    static let chunkSuffix = ByteBuffer(string: "\r\n")
    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")
    static let empty = ByteBuffer()

    static func continueHead(version: HTTPVersion) -> ByteBuffer {
        ByteBuffer(string: version.minor == 0 ? "HTTP/1.0 100 Continue\r\n\r\n" : "HTTP/1.1 100 Continue\r\n\r\n")
    }
}
