#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The attacker's side: a blocking TCP client on 127.0.0.1 that writes exactly the bytes it is given and reads
/// responses with its own small HTTP/1 reader. Every receive is bounded by a timeout and every read by a size.
final class RawClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One response as read from the socket.
    struct Response: CustomStringConvertible {
        let version: String
        let status: Int
        let headers: [(name: String, value: String)]
        /// The body bytes (empty when they were only counted).
        let body: [UInt8]
        /// How many body bytes arrived.
        let bodyCount: Int
        /// Whether every body byte matched ``Pattern`` (only checked when asked for).
        let bodyMatchesPattern: Bool

        var text: String { String(decoding: body, as: UTF8.self) }

        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        func header(_ name: String) -> String? { values(name).first }

        var description: String {
            let fields = headers.map { "\($0.name): \($0.value)" }.joined(separator: "; ")
            return "HTTP \(status) \(fields) body \(bodyCount) bytes"
        }
    }

    /// How long one receive may block.
    static let receiveTimeoutSeconds = 15

    private let fd: Int32
    private var pending: [UInt8] = []
    private var closedByPeer = false

    /// Connects to `127.0.0.1:port`.
    init(port: Int) throws {
        #if canImport(Glibc) || canImport(Musl)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket() failed: \(errno)") }
        var timeout = timeval(tv_sec: Self.receiveTimeoutSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = errno
            close(fd)
            throw Failure(description: "connect to port \(port) failed: errno \(error)")
        }
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// Whether a listener accepts connections on `port` right now.
    static func canConnect(port: Int) -> Bool {
        (try? RawClient(port: port)) != nil
    }

    // MARK: writing

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { buffer in
                #if canImport(Glibc) || canImport(Musl)
                Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
                #else
                Darwin.send(fd, buffer.baseAddress, buffer.count, 0)
                #endif
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "send failed: errno \(errno)")
            }
            offset += written
        }
    }

    /// Sends what the socket takes right now without blocking; returns how many bytes that was.
    func trySend(_ bytes: [UInt8]) throws -> Int {
        let written = bytes.withUnsafeBytes { buffer in
            #if canImport(Glibc) || canImport(Musl)
            Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            #else
            Darwin.send(fd, buffer.baseAddress, buffer.count, MSG_DONTWAIT)
            #endif
        }
        if written >= 0 { return written }
        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return 0 }
        throw Failure(description: "send failed: errno \(errno)")
    }

    /// Sends `count` bytes of ``Pattern`` starting at `offset`, in pieces of at most 64 KiB.
    func sendPattern(count: Int, from offset: Int = 0) throws {
        var sent = 0
        while sent < count {
            let piece = min(65_536, count - sent)
            try send(Pattern.bytes(at: offset + sent, count: piece))
            sent += piece
        }
    }

    /// Closes the sending side (the peer reads end of file).
    func shutdownWrite() {
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    // MARK: reading

    /// Reads more bytes into the pending buffer; false at end of file (or a reset).
    @discardableResult
    private func fill() throws -> Bool {
        if closedByPeer { return false }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                pending.append(contentsOf: buffer[0..<count])
                return true
            }
            if count == 0 {
                closedByPeer = true
                return false
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: throw Failure(description: "timed out waiting for the proxy")
            case ECONNRESET, EPIPE:
                closedByPeer = true
                return false
            default: throw Failure(description: "recv failed: errno \(errno)")
            }
        }
    }

    private func take(_ count: Int) -> [UInt8] {
        let taken = Array(pending[0..<count])
        pending.removeFirst(count)
        return taken
    }

    /// Reads a line ending in CRLF (without it).
    private func readLine(limit: Int = 16_384) throws -> String {
        while true {
            if let index = crlfIndex() {
                let line = take(index)
                pending.removeFirst(2)
                return String(decoding: line, as: UTF8.self)
            }
            guard pending.count <= limit else { throw Failure(description: "line longer than \(limit) bytes") }
            guard try fill() else { throw Failure(description: "connection closed inside a line") }
        }
    }

    private func crlfIndex() -> Int? {
        guard pending.count >= 2 else { return nil }
        for index in 0..<(pending.count - 1) where pending[index] == 13 && pending[index + 1] == 10 {
            return index
        }
        return nil
    }

    /// Reads one response. 1xx responses are returned as they are (no body). Body bytes are kept when `keepBody`,
    /// otherwise only counted (and checked against ``Pattern`` when `checkPattern`).
    func readResponse(
        method: String = "GET",
        keepBody: Bool = true,
        checkPattern: Bool = false,
        maxBody: Int = 1 << 30,
        progress: @escaping (Int) -> Void = { _ in }
    ) throws -> Response {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw Failure(description: "not a status line: \(statusLine.prefix(100))")
        }
        var headers: [(name: String, value: String)] = []
        var headBytes = statusLine.utf8.count
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            headBytes += line.utf8.count
            guard headBytes < 65_536, headers.count < 200 else { throw Failure(description: "response head too large") }
            guard let colon = line.firstIndex(of: ":") else { throw Failure(description: "bad header line \(line)") }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            headers.append((String(line[..<colon]), String(value)))
        }
        var reader = BodyReader(keep: keepBody, checkPattern: checkPattern, limit: maxBody, progress: progress)
        func value(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
        let noBody = method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304
        if noBody {
            // Nothing to read.
        } else if value("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine()
                let sizeText = sizeLine.prefix { $0 != ";" }
                guard let size = Int(sizeText, radix: 16), size >= 0 else {
                    throw Failure(description: "bad chunk size \(sizeLine.prefix(40))")
                }
                if size == 0 { break }
                try readExactly(size, into: &reader)
                guard try readLine().isEmpty else { throw Failure(description: "chunk without CRLF") }
            }
            while try !readLine().isEmpty {}
        } else if let length = value("content-length").flatMap({ Int($0) }) {
            try readExactly(length, into: &reader)
        } else {
            while true {
                if !pending.isEmpty { try reader.add(take(pending.count)) }
                guard try fill() else { break }
            }
        }
        return Response(
            version: String(parts[0]),
            status: status,
            headers: headers,
            body: reader.kept,
            bodyCount: reader.count,
            bodyMatchesPattern: reader.matches
        )
    }

    private func readExactly(_ count: Int, into reader: inout BodyReader) throws {
        var remaining = count
        while remaining > 0 {
            if pending.isEmpty {
                guard try fill() else {
                    throw Failure(description: "connection closed with \(remaining) body bytes missing")
                }
            }
            let piece = min(remaining, pending.count)
            try reader.add(take(piece))
            remaining -= piece
        }
    }

    /// Reads `count` raw bytes (after an upgrade).
    func readBytes(_ count: Int) throws -> [UInt8] {
        while pending.count < count {
            guard try fill() else {
                throw Failure(description: "connection closed after \(pending.count) of \(count) bytes")
            }
        }
        return take(count)
    }

    /// Reads and drops everything until the peer closes; true when it closed, with at most `limit` bytes read.
    func readUntilClosed(limit: Int = 1 << 20) throws -> [UInt8] {
        while try fill() {
            guard pending.count <= limit else { throw Failure(description: "more than \(limit) bytes before close") }
        }
        return take(pending.count)
    }

    /// Whether the peer closed the connection (waiting up to the receive timeout) without sending anything more than
    /// what was read: a second response before the close counts against it.
    func isClosedByPeer() -> Bool {
        guard let rest = try? readUntilClosed() else { return false }
        return rest.isEmpty
    }

    /// Bytes received but not read as part of a response.
    var unread: [UInt8] { pending }

    private struct BodyReader {
        let keep: Bool
        let checkPattern: Bool
        let limit: Int
        let progress: (Int) -> Void
        var kept: [UInt8] = []
        var count = 0
        var matches = true

        init(keep: Bool, checkPattern: Bool, limit: Int, progress: @escaping (Int) -> Void) {
            self.keep = keep
            self.checkPattern = checkPattern
            self.limit = limit
            self.progress = progress
        }

        mutating func add(_ bytes: [UInt8]) throws {
            if checkPattern, matches, !Pattern.matches(bytes, at: count) { matches = false }
            count += bytes.count
            guard count <= limit else { throw Failure(description: "body larger than \(limit) bytes") }
            if keep { kept.append(contentsOf: bytes) }
            progress(count)
        }
    }
}
