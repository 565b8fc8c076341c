import GatehousePolicy
import NIOCore
import NIOHTTP1

/// A client's request head as parsed by ``RequestParser``: its bytes, where each header field lies in them, and what
/// the data path reads, gathered in the one pass that checked it.
///
/// A class: the head is handed from the parser through the handler to the header policy, and passing one reference
/// on costs one count instead of one per string and array it holds.
final class RequestHead {
    typealias Field = HeadField

    /// The head, from the request line to the blank line (reader index 0).
    let bytes: ByteBuffer
    let method: HTTPMethod
    /// The request-target as sent (visible ASCII only).
    let target: String
    /// `HTTP/1.0` or `HTTP/1.1` (a head refused for its version says 1.1).
    let version: HTTPVersion
    let fields: [Field]
    let framing: HeaderPolicy.BodyFraming
    /// Whether the client lets the connection carry another request after this one (never after an upgrade request).
    let keepAlive: Bool
    /// The `Host` value.
    let host: String?
    /// Every `Authorization` value.
    let authorization: [Substring]
    /// The first `Expect`, `Upgrade` and `X-Request-Id` values.
    let expect: String?
    let upgrade: String?
    let requestID: String?
    /// The values of the `Connection` fields (their tokens are read by ``HeaderPolicy/connectionTokens(_:identityNames:)``).
    let connection: [String]
    /// Whether this is an upgrade request (an `Upgrade` field, nominated by `Connection`): nothing after it is parsed
    /// as HTTP.
    let isUpgrade: Bool
    /// Set when the head is well-formed but refused (conflicting framing, Host, version, a declared body over the
    /// limit): answered with this and closed; nothing after it is read.
    let refusal: HeaderPolicy.Refusal?

    init(
        bytes: ByteBuffer, method: HTTPMethod, target: String, version: HTTPVersion, fields: [Field],
        framing: HeaderPolicy.BodyFraming, keepAlive: Bool, host: String?, authorization: [Substring], expect: String?,
        upgrade: String?, requestID: String?, connection: [String], isUpgrade: Bool, refusal: HeaderPolicy.Refusal?
    ) {
        self.bytes = bytes
        self.method = method
        self.target = target
        self.version = version
        self.fields = fields
        self.framing = framing
        self.keepAlive = keepAlive
        self.host = host
        self.authorization = authorization
        self.expect = expect
        self.upgrade = upgrade
        self.requestID = requestID
        self.connection = connection
        self.isUpgrade = isUpgrade
        self.refusal = refusal
    }

    func name(_ field: Field) -> String { text(field.name) }
    func value(_ field: Field) -> String { text(field.value) }

    private func text(_ range: Range<Int>) -> String {
        bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
    }
}
