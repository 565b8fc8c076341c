/// HTTP header names as Gatehouse compares them: one implementation for the configuration loader and the data path.
package enum HeaderName {
    /// Whether `byte` is an RFC 9110 `tchar`.
    @inline(__always)
    package static func isTokenByte(_ byte: UInt8) -> Bool {
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

    /// ASCII case-insensitive equality of two byte sequences (header names, tokens, schemes).
    @inlinable
    package static func equalsIgnoringCase<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        @inline(__always) func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
        return a.count == b.count && zip(a, b).allSatisfy { lower($0) == lower($1) }
    }

    /// ASCII case-insensitive equality of two strings.
    @inlinable
    package static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        equalsIgnoringCase(a.utf8, b.utf8)
    }

    /// `bytes` without leading and trailing spaces and tabs.
    @inlinable
    package static func trimmed<Bytes: BidirectionalCollection<UInt8>>(_ bytes: Bytes) -> Bytes.SubSequence {
        var slice = bytes[...]
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }
}
