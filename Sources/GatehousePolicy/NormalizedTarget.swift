/// A request-target after normalisation: the path that is matched **and** forwarded, and the untouched query.
public struct NormalizedTarget: Sendable, Equatable {
    /// The normalised path, always starting with `/`.
    public let path: String
    /// The query without its `?`, exactly as the client sent it; `nil` when the target had no `?`.
    public let query: Substring?

    /// The path's segments: `/` is `[""]`, `/a/` is `["a", ""]`.
    public var segments: [Substring] {
        // One pass and one array: this runs on every request.
        let utf8 = path.utf8
        var result: [Substring] = []
        result.reserveCapacity(8)
        var start = utf8.index(after: utf8.startIndex)
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: "/") {
                result.append(Substring(utf8[start..<index]))
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        result.append(Substring(utf8[start..<utf8.endIndex]))
        return result
    }

    /// The target to send upstream: the normalised path followed by the original query.
    public var forwardTarget: String {
        guard let query else { return path }
        return path + "?" + query
    }
}

/// Why a request-target was refused: every case is something two servers could read differently.
public struct PathError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: String, Sendable {
        case notOriginForm = "not_origin_form"
        case controlOrNonASCII = "control_or_non_ascii"
        case forbiddenCharacter = "forbidden_character"
        case badEscape = "bad_escape"
        case encodedSeparator = "encoded_separator"
        case doubleEncoding = "double_encoding"
        case pathParameter = "path_parameter"
        case dotSegment = "dot_segment"
        case tooLong = "too_long"
    }

    private let code: Code
    /// A human explanation, safe to show to the client.
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// A short stable label for logs and tests.
    public var label: String { code.rawValue }
    public var description: String { detail }

    static let notOriginForm = PathError(.notOriginForm, "the request-target must be a path starting with /")
    static let controlOrNonASCII = PathError(.controlOrNonASCII, "control, space or non-ASCII byte in the request-target")
    static func forbiddenCharacter(_ byte: UInt8) -> PathError {
        PathError(.forbiddenCharacter, "character '\(Character(Unicode.Scalar(byte)))' is not allowed in a path")
    }
    static let badEscape = PathError(.badEscape, "malformed percent-escape")
    static let encodedSeparator = PathError(
        .encodedSeparator, "encoded '/', '\\', ';', '?', '#' or control character in the path")
    static let doubleEncoding = PathError(.doubleEncoding, "double percent-encoding in the path")
    static let pathParameter = PathError(.pathParameter, "';' path parameters are not allowed")
    static let dotSegment = PathError(.dotSegment, "'.' or '..' segment in the path")
    static let tooLong = PathError(.tooLong, "the request-target is too long")
}
