#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 network, e.g. `10.0.0.0/8` or `::1/128`; a bare address is a network of one.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    /// The network address bytes (4 or 16).
    public let bytes: [UInt8]
    /// The prefix length in bits.
    public let prefix: Int
    public let description: String

    /// Parses `text`, or returns `nil`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let address = parts.first, let bytes = CIDR.addressBytes(address) else { return nil }
        let maxPrefix = bytes.count * 8
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maxPrefix).contains(value) else { return nil }
            prefix = value
        }
        self.bytes = bytes
        self.prefix = prefix
        self.description = text
    }

    /// The bytes of an IPv4 or IPv6 address in text form.
    public static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// Whether `address` (4 or 16 bytes) is inside this network. IPv4-mapped IPv6 addresses match IPv4 networks.
    public func contains(_ address: [UInt8]) -> Bool {
        var candidate = address
        if bytes.count == 4, address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF,
            address[11] == 0xFF
        {
            candidate = Array(address[12...])
        }
        guard candidate.count == bytes.count else { return false }
        var remaining = prefix
        for (a, b) in zip(candidate, bytes) {
            if remaining <= 0 { return true }
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if a & mask != b & mask { return false }
            remaining -= 8
        }
        return true
    }
}
