/// HTTP header names as Gatehouse compares them: one implementation for the configuration loader and the data path.
public enum HeaderName {
    /// Whether `byte` is an RFC 9110 `tchar`. Public and inlinable so that its body reaches the parsers of the data
    /// path, which call it for every byte of a name (a package-level declaration is called out of line there).
    @inlinable @inline(__always)
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        // One bit per ASCII byte: ALPHA, DIGIT and !#$%&'*+-.^_`|~ (checked against that list in the tests).
        switch byte {
        case 0..<64: return (0x03FF_6CFA_0000_0000 as UInt64) >> byte & 1 == 1
        case 64..<128: return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> (byte - 64) & 1 == 1
        default: return false
        }
    }

    /// Whether `text` is a non-empty RFC 9110 token (a header name, a method).
    package static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenByte)
    }

    /// Folds a name the way identity headers are compared: lower case, `_` and `.` read as `-` (as CGI/WSGI-style
    /// stacks read them).
    package static func fold(_ name: String) -> String {
        map(name) { byte in
            switch byte {
            case UInt8(ascii: "_"), UInt8(ascii: "."): return UInt8(ascii: "-")
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte | 0x20
            default: return byte
            }
        }
    }

    /// ASCII lower case (header names are ASCII tokens).
    package static func lowercase(_ name: String) -> String {
        map(name) { byte in byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte }
    }

    /// `name` with each byte mapped; `name` itself (no copy) when nothing changes. Runs once per header per request.
    @inline(__always)
    private static func map(_ name: String, _ transform: (UInt8) -> UInt8) -> String {
        guard name.utf8.contains(where: { transform($0) != $0 }) else { return name }
        return String(unsafeUninitializedCapacity: name.utf8.count) { buffer in
            var index = 0
            for byte in name.utf8 {
                buffer[index] = transform(byte)
                index += 1
            }
            return index
        }
    }

    // The helpers below take concrete byte buffers, not generic collections: they run per header on the data path,
    // in another module, where a generic would be called unspecialized (metadata lookups on every call).

    /// ASCII case-insensitive equality of two byte sequences (header names, tokens, schemes).
    package static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for index in 0..<a.count where asciiLower(a[index]) != asciiLower(b[index]) { return false }
        return true
    }

    /// ASCII case-insensitive equality of bytes with a literal.
    package static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: StaticString) -> Bool {
        b.withUTF8Buffer { equalsIgnoringCase(a, UnsafeRawBufferPointer($0)) }
    }

    /// ASCII case-insensitive equality of bytes with a string. Labelled, so that a literal takes the
    /// `StaticString` overload, which reads it in place instead of making a `String` of it on every call.
    package static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, string b: String) -> Bool {
        guard a.count == b.utf8.count else { return false }
        var b = b
        return b.withUTF8 { equalsIgnoringCase(a, UnsafeRawBufferPointer($0)) }
    }

    /// ASCII case-insensitive equality of two strings.
    package static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a
        var b = b
        return a.withUTF8 { a in b.withUTF8 { b in equalsIgnoringCase(UnsafeRawBufferPointer(a), UnsafeRawBufferPointer(b)) } }
    }

    @inline(__always)
    private static func asciiLower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// `bytes` without leading and trailing spaces and tabs.
    package static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// `text` without leading and trailing spaces and tabs.
    package static func trimmed(_ text: Substring) -> Substring {
        let utf8 = text.utf8
        var start = utf8.startIndex
        var end = utf8.endIndex
        while start < end, utf8[start] == 0x20 || utf8[start] == 0x09 { start = utf8.index(after: start) }
        while end > start, utf8[utf8.index(before: end)] == 0x20 || utf8[utf8.index(before: end)] == 0x09 {
            end = utf8.index(before: end)
        }
        // Spaces and tabs are ASCII: these indices are scalar boundaries.
        return Substring(utf8[start..<end])
    }
}
