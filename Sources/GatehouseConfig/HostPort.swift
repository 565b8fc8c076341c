/// `host:port` as written for `listen` and `admin` (`[::1]:8080` for IPv6): validated by the loader, split by the
/// commands that bind it.
public enum HostPort {
    /// The host (without brackets) and port, or `nil` when `text` is not `host:port` with a port from 0 to 65535.
    public static func split(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }
}
