import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import NIOSSL

/// Fetches a document over HTTP(S): the seam between key sources and the network.
public protocol KeyFetcher: Sendable {
    /// GETs `url`; throws on transport failure, timeout, or a body larger than `maxBytes`.
    func get(_ url: String, timeout: Double, maxBytes: Int) async throws -> FetchedDocument

    /// Releases the fetcher's resources.
    func shutdown() async
}

extension KeyFetcher {
    public func shutdown() async {}
}

/// What a fetch returned.
public struct FetchedDocument: Sendable {
    /// The HTTP status.
    public let status: Int
    /// `Cache-Control` `max-age`, in seconds, if the response gave one.
    public let maxAge: Double?
    /// The body.
    public let body: [UInt8]

    /// Creates a fetched document.
    public init(status: Int, maxAge: Double?, body: [UInt8]) {
        self.status = status
        self.maxAge = maxAge
        self.body = body
    }
}

/// The real fetcher: AsyncHTTPClient, system trust store or a configured CA file, redirects refused (a key set
/// must come from where it was configured), bounded bodies.
public final class HTTPKeyFetcher: KeyFetcher {
    private let client: HTTPClient

    /// Creates a fetcher; `caFile` replaces the system trust store with the certificates in that PEM file.
    public init(caFile: String? = nil) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5), read: .seconds(10))
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    public func get(_ url: String, timeout: Double, maxBytes: Int) async throws -> FetchedDocument {
        var prepared = HTTPClientRequest(url: url)
        prepared.headers.add(name: "Accept", value: "application/json")
        prepared.headers.add(name: "User-Agent", value: "gatehouse")
        let request = prepared
        let client = self.client
        // The deadline covers the whole exchange, body included (a dripping server cannot hold a fetch open).
        return try await withThrowingTaskGroup(of: FetchedDocument?.self) { group in
            group.addTask {
                let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
                let body = try await response.body.collect(upTo: maxBytes)
                return FetchedDocument(
                    status: Int(response.status.code), maxAge: Self.maxAge(response.headers["cache-control"]),
                    body: Array(buffer: body))
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let document = first else { throw FetchTimeout() }
            return document
        }
    }

    struct FetchTimeout: Error, CustomStringConvertible {
        var description: String { "the fetch did not complete in time" }
    }

    /// `max-age` from `Cache-Control` values.
    static func maxAge(_ values: [String]) -> Double? {
        for value in values {
            for directive in value.split(separator: ",") {
                let parts = directive.split(separator: "=", maxSplits: 1).map {
                    String($0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
                }
                if parts.count == 2, parts[0].lowercased() == "max-age", let seconds = Double(parts[1]), seconds >= 0 {
                    return seconds
                }
            }
        }
        return nil
    }
}
