import GatehouseConfig
import GatehousePolicy
import NIOCore
import NIOHTTP1

/// Client header hygiene and upstream header construction: one strict reading of the client's head, then a head
/// for the upstream that Gatehouse writes itself.
///
/// Order (see SECURITY.md): validate framing and syntax (``RequestParser``) → refuse a `Connection` that nominates a protected header →
/// drop hop-by-hop and nominated headers → drop every client copy of an identity header (any case, `_`/`.`
/// spellings) → drop path/method override headers → set forwarding metadata → inject the identity headers.
enum HeaderPolicy {
    /// How the client frames its body.
    enum BodyFraming: Equatable {
        case none
        case length(Int)
        case chunked

        var hasBody: Bool {
            switch self {
            case .none, .length(0): return false
            default: return true
            }
        }
    }

    /// A request refused before any decision: answered with `status` and closed.
    struct Refusal: Error, Equatable {
        let status: Int
        let detail: String
    }

    /// Hop-by-hop headers (RFC 9110 §7.6.1 and common practice): never forwarded in either direction.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authorization", "proxy-authenticate", "expect",
    ]

    /// Headers a client may use to make some server see a different path or method than the one judged.
    static let overrideHeaders: Set<String> = [
        "x-original-url", "x-rewrite-url", "x-original-uri", "x-forwarded-uri", "x-forwarded-path", "x-forwarded-prefix",
        "x-envoy-original-path", "x-http-method-override", "x-http-method", "x-method-override", "x-original-method",
    ]

    /// Forwarding metadata, replaced by Gatehouse unless the peer is a trusted proxy.
    static let forwardingHeaders: Set<String> = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"]

    /// Headers a `Connection` header may never nominate.
    static let protectedHeaders: Set<String> = ["authorization", "host", "content-length", "transfer-encoding"]

    /// The headers named in the sets above (and the few more the data path reads), one kind per name. Hop-by-hop
    /// names the data path treats apart have their own kind; the rest are `.hopByHop`.
    enum Known: Equatable {
        case hopByHop
        case connection
        case upgrade
        case transferEncoding
        case expect
        case proxyAuthenticate
        case override
        case xForwardedFor
        case forwarded
        case xForwardedProto
        case xForwardedHost
        case contentLength
        case requestID
        case authorization
        case host
        case other
    }

    /// The names above, each with its kind: a name is classified with a few byte comparisons, without allocating or
    /// hashing.
    private static let known: HeaderNameTable<Known> = {
        let own: [String: Known] = [
            "connection": .connection, "upgrade": .upgrade, "transfer-encoding": .transferEncoding, "expect": .expect,
            "proxy-authenticate": .proxyAuthenticate, "x-forwarded-for": .xForwardedFor, "forwarded": .forwarded,
            "x-forwarded-proto": .xForwardedProto, "x-forwarded-host": .xForwardedHost,
        ]
        var names: [(name: String, value: Known)] = []
        for name in hopByHop { names.append((name, own[name] ?? .hopByHop)) }
        for name in overrideHeaders { names.append((name, .override)) }
        for name in forwardingHeaders { names.append((name, own[name]!)) }
        names += [("content-length", .contentLength), ("x-request-id", .requestID), ("authorization", .authorization), ("host", .host)]
        return HeaderNameTable(names)
    }()

    /// What the name in `bytes` is, in any casing (exact bytes otherwise: `X_Forwarded_For` is `.other` here).
    static func classify(_ name: UnsafeRawBufferPointer) -> Known {
        known.value(for: name) ?? .other
    }

    /// Whether the name in `name` is one of the configured identity names or under the reserved `x-auth-` prefix,
    /// in any casing, for a name without `_` or `.` (those take ``isIdentityHeader(_:identityNames:)`` after folding).
    static func isIdentityName(_ name: UnsafeRawBufferPointer, identityNames: HeaderNameTable<Bool>) -> Bool {
        if name.count >= 7, HeaderName.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: name[0..<7]), "x-auth-") {
            return true
        }
        return identityNames.contains(name)
    }

    /// Whether a folded header name is an identity header: one of the configured names, or under the `x-auth-`
    /// prefix Gatehouse reserves.
    static func isIdentityHeader(_ folded: String, identityNames: HeaderNameTable<Bool>) -> Bool {
        identityNames.contains(folded) || folded.hasPrefix("x-auth-")
    }

    /// The origin-form target: the target itself, or the path and query of an absolute-form target for this host.
    static func originTarget(_ uri: String, host: String?) throws(Refusal) -> String {
        if uri.utf8.first == UInt8(ascii: "/") { return uri }
        let lower = uri.lowercased()
        for scheme in ["http://", "https://"] where lower.hasPrefix(scheme) {
            let rest = uri.dropFirst(scheme.count)
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            let host = host ?? ""
            guard !authority.isEmpty, authority.lowercased() == host.lowercased() else {
                throw Refusal(status: 400, detail: "absolute-form target for another host")
            }
            let target = rest.dropFirst(authority.count)
            return target.isEmpty ? "/" : (target.hasPrefix("?") ? "/" + target : String(target))
        }
        throw Refusal(status: 400, detail: "the request-target must be a path")
    }

    /// The tokens of the client's `Connection` header values, refusing ones that would strip a header Gatehouse
    /// relies on.
    static func connectionTokens(_ values: [String], identityNames: HeaderNameTable<Bool>) throws(Refusal) -> Set<String> {
        var tokens = Set<String>()
        for value in values {
            for token in value.split(separator: ",") {
                let name = HeaderName.trimmed(token).lowercased()
                if name.isEmpty { continue }
                if protectedHeaders.contains(name) || isIdentityHeader(HeaderName.fold(name), identityNames: identityNames)
                    || forwardingHeaders.contains(name) || name == "x-request-id"
                {
                    throw Refusal(status: 400, detail: "Connection may not nominate \(name.prefix(40))")
                }
                tokens.insert(name)
            }
        }
        return tokens
    }

    /// The request Gatehouse sends upstream, as bytes: `method target HTTP/1.1`, the client's headers after
    /// hygiene, then what Gatehouse adds (framing, `Connection: Upgrade`, forwarding headers, `X-Request-Id`, the
    /// identity headers, and `Host: defaultHost` when the client sent none).
    static func upstreamHead(
        target: String,
        from head: RequestHead,
        nominated: Set<String>,
        identity: [IdentityHeaderValue],
        identityNames: HeaderNameTable<Bool>,
        forwarding: Forwarding,
        requestID: String,
        forwardAuthorization: Bool,
        upgrade: String?,
        defaultHost: String,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let method = head.method
        var buffer = allocator.buffer(capacity: head.bytes.readableBytes + 512)
        var methodText = method.rawValue
        var targetText = target
        methodText.withUTF8 { methodBytes in
            targetText.withUTF8 { targetBytes in
                ("HTTP/1.1" as StaticString).withUTF8Buffer {
                    buffer.writeLine(UnsafeRawBufferPointer(methodBytes), UnsafeRawBufferPointer(targetBytes), UnsafeRawBufferPointer($0))
                }
            }
        }
        let trusted = forwarding.peerIsTrusted
        var priorForwardedFor: [String] = []
        var priorForwarded: [String] = []
        var sawHost = false
        var keptProto = false
        var keptForwardedHost = false
        head.bytes.withUnsafeReadableBytes { raw in
            for field in head.fields {
                let name = UnsafeRawBufferPointer(rebasing: raw[field.name])
                guard field.isPlain else {
                    // `_`/`.` spellings count: CGI/WSGI-style stacks read `X_Original_URL` as `X-Original-URL`.
                    let text = String(decoding: name, as: UTF8.self)
                    let folded = HeaderName.fold(text)
                    let lower = HeaderName.lowercase(text)
                    // Framing and hop-by-hop names go in these spellings too: a stack that reads `Transfer_Encoding`
                    // as `Transfer-Encoding` must not see a body framing Gatehouse did not check.
                    if hopByHop.contains(folded) || nominated.contains(lower) || overrideHeaders.contains(folded)
                        || folded == "content-length" || folded == "x-request-id"
                    {
                        continue
                    }
                    if isIdentityHeader(folded, identityNames: identityNames) { continue }
                    // Only the standard spelling of a forwarding header may come from a trusted proxy: these never do.
                    if forwardingHeaders.contains(folded) { continue }
                    buffer.writeField(field, in: raw)
                    continue
                }
                // The common case, decided without allocating: for such a name the folded and lower-case spellings
                // are the same, and the parser classified it ignoring case.
                let kind = field.kind
                switch kind {
                case .hopByHop, .connection, .upgrade, .transferEncoding, .expect, .proxyAuthenticate, .override,
                    .contentLength, .requestID:
                    continue
                case .authorization where !forwardAuthorization: continue
                default: break
                }
                if !nominated.isEmpty && nominated.contains(where: { HeaderName.equalsIgnoringCase(name, string: $0) }) { continue }
                if isIdentityName(name, identityNames: identityNames) { continue }
                switch kind {
                case .xForwardedFor, .forwarded:
                    if trusted {
                        let value = String(decoding: raw[field.value], as: UTF8.self)
                        if kind == .forwarded { priorForwarded.append(value) } else { priorForwardedFor.append(value) }
                    }
                    continue
                case .xForwardedProto, .xForwardedHost:
                    // A trusted proxy's X-Forwarded-Proto/Host are kept as they are.
                    guard trusted else { continue }
                    if kind == .xForwardedProto { keptProto = true } else { keptForwardedHost = true }
                case .host:
                    sawHost = true
                default:
                    break
                }
                buffer.writeField(field, in: raw)
            }
        }
        switch head.framing {
        case .length(let length): buffer.writeField("Content-Length", String(length))
        case .chunked: buffer.writeStaticString("Transfer-Encoding: chunked\r\n")
        case .none: if method.hasRequestBodyRequired { buffer.writeStaticString("Content-Length: 0\r\n") }
        }
        if let upgrade {
            buffer.writeStaticString("Connection: Upgrade\r\n")
            buffer.writeField("Upgrade", upgrade)
        }
        if !sawHost { buffer.writeField("Host", defaultHost) }
        let client = forwarding.clientAddress ?? "unknown"
        buffer.writeField("X-Forwarded-For", priorForwardedFor.isEmpty ? client : (priorForwardedFor + [client]).joined(separator: ", "))
        if !keptProto { buffer.writeField("X-Forwarded-Proto", forwarding.proto) }
        if !keptForwardedHost, let host = forwarding.host { buffer.writeField("X-Forwarded-Host", host) }
        // Written straight into the head: building the value as a string first cost more than the rest of the head.
        buffer.writeStaticString("Forwarded: ")
        for prior in priorForwarded {
            buffer.writeString(prior)
            buffer.writeStaticString(", ")
        }
        if client.utf8.contains(UInt8(ascii: ":")) {
            buffer.writeStaticString("for=\"[")
            buffer.writeString(client)
            buffer.writeStaticString("]\"")
        } else {
            buffer.writeStaticString("for=")
            buffer.writeString(client)
        }
        buffer.writeStaticString(";proto=")
        buffer.writeString(forwarding.proto)
        if let host = forwarding.host, host.utf8.allSatisfy(isForwardedHostByte) {
            buffer.writeStaticString(";host=")
            buffer.writeString(host)
        }
        buffer.writeStaticString("\r\n")
        buffer.writeField("X-Request-Id", requestID)
        for value in identity {
            buffer.writeField(value.name, value.value)
        }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// What Gatehouse knows about the client connection.
    struct Forwarding {
        /// The peer's IP address in text form.
        var clientAddress: String?
        /// Whether the peer is a trusted proxy.
        var peerIsTrusted: Bool
        /// `http` or `https`.
        var proto: String
        /// The client's Host header.
        var host: String?
    }

    /// Writes the upstream response's header fields for the client, as `name: value` lines: without hop-by-hop
    /// headers, the headers its `Connection` nominates and its `X-Request-Id` (Gatehouse adds its own, and frames the
    /// body itself). `Upgrade` and `Connection` stay on a `101` that is being spliced.
    static func writeResponseFields(of head: UpstreamResponseHead, keepUpgrade: Bool, into buffer: inout ByteBuffer) {
        head.bytes.withUnsafeReadableBytes { raw in
            var nominated: [UnsafeRawBufferPointer] = []
            if head.nominatesHeaders {
                for field in head.fields where field.kind == .connection {
                    HeadBytes.forEachElement(of: UnsafeRawBufferPointer(rebasing: raw[field.value])) { name in
                        if nominatesHeader(name) { nominated.append(name) }
                    }
                }
            }
            for field in head.fields {
                // The parser classified each name once: every relayed response passes here.
                switch field.kind {
                case .connection, .upgrade:
                    if keepUpgrade { buffer.writeField(field, in: raw) }
                    continue
                case .hopByHop, .transferEncoding, .expect, .requestID:
                    continue
                default:
                    // A proxy challenge (`Proxy-Authenticate`) stays with the response.
                    break
                }
                let name = UnsafeRawBufferPointer(rebasing: raw[field.name])
                if !nominated.isEmpty && nominated.contains(where: { HeaderName.equalsIgnoringCase(name, $0) }) {
                    continue
                }
                buffer.writeField(field, in: raw)
            }
        }
    }

    /// Whether a token of an upstream's `Connection` names a header to remove: `keep-alive` names a hop-by-hop
    /// header (dropped anyway), `close` names none, and the framing headers cannot be nominated away (the body was
    /// framed by them).
    static func nominatesHeader(_ token: UnsafeRawBufferPointer) -> Bool {
        !token.isEmpty && !HeaderName.equalsIgnoringCase(token, "keep-alive")
            && !HeaderName.equalsIgnoringCase(token, "close")
            && !HeaderName.equalsIgnoringCase(token, "content-length")
            && !HeaderName.equalsIgnoringCase(token, "transfer-encoding")
    }


    /// A client-supplied request id is kept when it is 1–128 characters of `A-Z a-z 0-9 - _ . : /`.
    static func isSaneRequestID(_ value: String) -> Bool {
        guard !value.isEmpty, value.utf8.count <= 128 else { return false }
        return value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: ":"), UInt8(ascii: "/"):
                return true
            default:
                return false
            }
        }
    }

    /// Whether `byte` may stand in the `host=` of a `Forwarded` element unquoted: a token byte, `:` or a bracket
    /// (a port, an IPv6 literal).
    static func isForwardedHostByte(_ byte: UInt8) -> Bool {
        HeaderName.isTokenByte(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "]")
    }
}
