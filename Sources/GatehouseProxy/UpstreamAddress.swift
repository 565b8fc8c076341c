/// Where requests are relayed: scheme, host and port of an upstream URL such as `http://127.0.0.1:3000`.
///
/// A class: each relayed request and pooled connection holds its address, and sharing one instance costs a reference
/// count instead of copying three strings. Equality and hashing still go by value.
final class UpstreamAddress: Hashable, Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    let tls: Bool

    /// The `Host` value for HTTP/1.0 clients that sent none.
    let authority: String

    /// `http(s)://authority`, computed once (it labels metrics and logs on every request).
    let description: String

    /// Parses an upstream URL as validated by the configuration loader.
    init?(url: String) {
        let lower = url.lowercased()
        let tls: Bool
        let rest: Substring
        if lower.hasPrefix("http://") {
            tls = false
            rest = url.dropFirst(7)
        } else if lower.hasPrefix("https://") {
            tls = true
            rest = url.dropFirst(8)
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" }
        var host = Substring(authority)
        var port = tls ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let value = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = value
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
        self.tls = tls
        let bracketed = host.contains(":") ? "[\(host)]" : String(host)
        self.authority = (tls && port == 443) || (!tls && port == 80) ? bracketed : "\(bracketed):\(port)"
        self.description = (tls ? "https://" : "http://") + authority
    }

    // `authority` and `description` follow from these three: hashing them too would cost every pool lookup.
    static func == (lhs: UpstreamAddress, rhs: UpstreamAddress) -> Bool {
        lhs.port == rhs.port && lhs.tls == rhs.tls && lhs.host == rhs.host
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(host)
        hasher.combine(port)
        hasher.combine(tls)
    }
}
