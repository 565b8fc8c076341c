/// Turns a raw origin-form request-target into the one path that is both matched and forwarded.
///
/// The rule (also in the README):
/// 1. The target must start with `/`. It is split once, at the first `?`; the query is never matched and is forwarded
///    untouched, but may not contain a raw `#`, controls, spaces or non-ASCII bytes.
/// 2. Refused in the path (400): controls, space, non-ASCII, `\`, `#`, `;`, and characters RFC 3986 does not allow
///    in a path (`"<>[]^`{|}`); a `%` not followed by two hex digits; encoded `/`, `\`, `;`, `?`, `#`, NUL or
///    controls; `%25` followed by two hex digits (double encoding of anything); `.` and `..` segments, raw or
///    encoded.
/// 3. Escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded; every other escape is kept with
///    upper-case hex digits; runs of `/` become one.
public enum PathNormalizer {
    /// The longest request-target accepted.
    public static let maxTargetLength = 8192

    private static let flagUnreserved: UInt8 = 1
    private static let flagRawAllowed: UInt8 = 2

    private static let table: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = flagUnreserved | flagRawAllowed }
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = flagUnreserved | flagRawAllowed }
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = flagUnreserved | flagRawAllowed }
        for byte in "-._~".utf8 { table[Int(byte)] = flagUnreserved | flagRawAllowed }
        // sub-delims except ';', plus ':' and '@' (RFC 3986 pchar).
        for byte in "!$&'()*+,=:@".utf8 { table[Int(byte)] = flagRawAllowed }
        return table
    }()

    /// Normalises `target`, or throws the reason it is ambiguous.
    public static func normalize(_ target: String) throws(PathError) -> NormalizedTarget {
        if let normal = alreadyNormal(target) { return normal }
        return try normalizeEachByte(target)
    }

    /// The usual target, whose path is already in normal form (nothing to decode, no repeated `/`, no dot segment)
    /// and whose query is clean: used as it is, without building a copy byte by byte. `nil` for anything else,
    /// including everything refused, which takes the full normalisation.
    package static func alreadyNormal(_ target: String) -> NormalizedTarget? {
        var text = target
        guard let pathEnd = text.withUTF8(normalPathEnd) else { return nil }
        let utf8 = target.utf8
        guard pathEnd < utf8.count else { return NormalizedTarget(path: target, query: nil) }
        let questionMark = utf8.index(utf8.startIndex, offsetBy: pathEnd)
        return NormalizedTarget(path: String(target[..<questionMark]), query: target[utf8.index(after: questionMark)...])
    }

    /// Where the path ends (the length, or the offset of the `?`) when `bytes` is a target already in normal form.
    private static func normalPathEnd(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count <= maxTargetLength, bytes.first == UInt8(ascii: "/") else { return nil }
        var segmentStart = 1
        var index = 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "/") {
                guard isPlainSegment(bytes, from: segmentStart, to: index) else { return nil }
                segmentStart = index + 1
            } else if byte == UInt8(ascii: "?") {
                break
            } else if table[Int(byte)] & flagRawAllowed == 0 {
                return nil
            }
            index += 1
        }
        // The last segment may be empty (a trailing `/`), never a dot segment.
        guard segmentStart == index || isPlainSegment(bytes, from: segmentStart, to: index) else { return nil }
        if index < bytes.count {
            for byte in bytes[(index + 1)...] where byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "#") {
                return nil
            }
        }
        return index
    }

    @inline(__always)
    private static func isPlainSegment(_ path: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Bool {
        switch end - start {
        case 0: return false
        case 1: return path[start] != UInt8(ascii: ".")
        case 2: return path[start] != UInt8(ascii: ".") || path[start + 1] != UInt8(ascii: ".")
        default: return true
        }
    }

    /// The full normalisation, byte by byte (also the reference the shortcut is tested against).
    package static func normalizeEachByte(_ target: String) throws(PathError) -> NormalizedTarget {
        let utf8 = target.utf8
        guard utf8.count <= maxTargetLength else { throw .tooLong }
        guard utf8.first == UInt8(ascii: "/") else { throw .notOriginForm }

        var pathEnd = utf8.endIndex
        var query: Substring? = nil
        if let questionMark = utf8.firstIndex(of: UInt8(ascii: "?")) {
            pathEnd = questionMark
            let queryStart = utf8.index(after: questionMark)
            for byte in utf8[queryStart...] {
                if byte == UInt8(ascii: "#") { throw .forbiddenCharacter(byte) }
                if byte <= 0x20 || byte >= 0x7F { throw .controlOrNonASCII }
            }
            query = target[queryStart...]
        }

        let raw = Array(utf8[utf8.startIndex..<pathEnd])
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        // Start of the current segment in `out` (just after its '/').
        var segmentStart = 0
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            if byte == UInt8(ascii: "/") {
                try checkDotSegment(out, from: segmentStart)
                if out.last != UInt8(ascii: "/") { out.append(byte) }
                segmentStart = out.count
                index += 1
                continue
            }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < raw.count, let high = hexValue(raw[index + 1]), let low = hexValue(raw[index + 2]) else {
                    throw .badEscape
                }
                let value = high << 4 | low
                if table[Int(value)] & flagUnreserved != 0 {
                    out.append(value)
                } else if isDangerous(value) {
                    throw .encodedSeparator
                } else {
                    // `%25` followed by two hex digits reads as a different character to a server that decodes
                    // twice (`%2561dmin` is `/admin` there): refused whatever the inner character.
                    if value == UInt8(ascii: "%"), index + 4 < raw.count, hexValue(raw[index + 3]) != nil,
                        hexValue(raw[index + 4]) != nil
                    {
                        throw .doubleEncoding
                    }
                    out.append(UInt8(ascii: "%"))
                    out.append(hexDigit(value >> 4))
                    out.append(hexDigit(value & 0xF))
                }
                index += 3
                continue
            }
            if byte <= 0x20 || byte >= 0x7F { throw .controlOrNonASCII }
            if byte == UInt8(ascii: ";") { throw .pathParameter }
            guard table[Int(byte)] & flagRawAllowed != 0 else { throw .forbiddenCharacter(byte) }
            out.append(byte)
            index += 1
        }
        try checkDotSegment(out, from: segmentStart)
        return NormalizedTarget(path: String(decoding: out, as: UTF8.self), query: query)
    }

    @inline(__always)
    private static func isDangerous(_ value: UInt8) -> Bool {
        value < 0x20 || value == 0x7F || value == UInt8(ascii: "/") || value == UInt8(ascii: "\\")
            || value == UInt8(ascii: ";") || value == UInt8(ascii: "?") || value == UInt8(ascii: "#")
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }

    private static func checkDotSegment(_ out: [UInt8], from start: Int) throws(PathError) {
        let length = out.count - start
        if length == 1, out[start] == UInt8(ascii: ".") { throw .dotSegment }
        if length == 2, out[start] == UInt8(ascii: "."), out[start + 1] == UInt8(ascii: ".") { throw .dotSegment }
    }

    /// Fully percent-decodes one normalised segment (safe: separators were refused before), for comparing a
    /// captured `{param}` with a claim; `nil` when the bytes are not valid UTF-8 (so they match no claim).
    public static func decodeSegment(_ segment: Substring) -> String? {
        guard segment.utf8.contains(UInt8(ascii: "%")) else { return String(segment) }
        let bytes = Array(segment.utf8)
        var out = [UInt8]()
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}
