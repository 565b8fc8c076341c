/// A path into a token's claims: dotted (`realm_access.roles`) with a bracket form for keys containing dots or
/// slashes (`["https://example.com/roles"]`, `resource_access["my.app"].roles`).
public struct ClaimPath: Sendable, Hashable, CustomStringConvertible {
    /// The keys, outermost first.
    public let keys: [String]
    /// The path as written.
    public let description: String

    /// Why a claim path was refused.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Creates a path of keys.
    public init(keys: [String]) {
        self.keys = keys
        self.description = keys.map { $0.contains(".") || $0.contains("/") ? "[\"\($0)\"]" : $0 }.joined(separator: ".")
    }

    /// Parses a claim path as written in `routes.yaml`.
    public init(parsing text: String) throws(ParseError) {
        var keys = [String]()
        let chars = Array(text)
        var index = 0
        var current = ""
        var expectKey = true
        func fail(_ why: String) -> ParseError { ParseError(description: "invalid claim path '\(text)': \(why)") }
        if chars.isEmpty { throw fail("empty") }
        while index < chars.count {
            let char = chars[index]
            if char == "[" {
                if !current.isEmpty { keys.append(current); current = "" }
                guard index + 1 < chars.count, chars[index + 1] == "\"" || chars[index + 1] == "'" else {
                    throw fail("'[' must be followed by a quoted key")
                }
                let quote = chars[index + 1]
                var end = index + 2
                var key = ""
                while end < chars.count, chars[end] != quote {
                    key.append(chars[end])
                    end += 1
                }
                guard end + 1 < chars.count, chars[end + 1] == "]", !key.isEmpty else {
                    throw fail("unterminated bracket key")
                }
                keys.append(key)
                index = end + 2
                expectKey = false
                if index < chars.count {
                    if chars[index] == "." {
                        index += 1
                        expectKey = true
                        guard index < chars.count, chars[index] != "[" else { throw fail("'.' before '['") }
                    } else if chars[index] != "[" {
                        throw fail("expected '.' or '[' after ']'")
                    }
                }
                continue
            }
            if char == "." {
                guard !current.isEmpty else { throw fail("empty key") }
                keys.append(current)
                current = ""
                expectKey = true
                index += 1
                continue
            }
            if char == "]" || char == "\"" { throw fail("unexpected '\(char)'") }
            current.append(char)
            expectKey = false
            index += 1
        }
        if !current.isEmpty {
            keys.append(current)
        } else if expectKey {
            throw fail("ends with '.'")
        }
        self.init(keys: keys)
    }

    /// Sets `value` at this path in `claims`, creating objects on the way (for minting tokens).
    public func set(_ value: JSONValue, in claims: inout [String: JSONValue]) {
        Self.set(value, at: keys[...], in: &claims)
    }

    private static func set(_ value: JSONValue, at keys: ArraySlice<String>, in claims: inout [String: JSONValue]) {
        guard let first = keys.first else { return }
        if keys.count == 1 {
            claims[first] = value
            return
        }
        var inner: [String: JSONValue] = [:]
        if case .object(let existing)? = claims[first] { inner = existing }
        set(value, at: keys.dropFirst(), in: &inner)
        claims[first] = .object(inner)
    }

    /// The value at this path in `claims`, if every key exists.
    public func lookup(in claims: JSONValue) -> JSONValue? {
        var value = claims
        for key in keys {
            guard let next = value[key] else { return nil }
            value = next
        }
        return value
    }
}
