/// One entry of the route table.
///
/// A class: every decision carries its route, and sharing one immutable instance costs a reference count instead of
/// copying each field.
public final class Route: Sendable {
    /// The id used in logs, metrics and error bodies (defaults to the path pattern).
    public let id: String
    /// The path pattern.
    public let pattern: PathPattern
    /// The methods this route applies to (upper case); `nil` for every method. A `HEAD` request also matches a
    /// route listing `GET`.
    public let methods: Set<String>?
    /// What the route requires.
    public let access: Access
    /// An upstream overriding the top-level one, as written.
    public let upstream: String?
    /// Where the route was written (`file:line:col`), for messages.
    public let location: String

    /// Creates a route.
    public init(
        id: String? = nil, pattern: PathPattern, methods: Set<String>? = nil, access: Access, upstream: String? = nil,
        location: String = ""
    ) {
        self.id = id ?? pattern.description
        self.pattern = pattern
        self.methods = methods.map { Set($0.map { $0.uppercased() }) }
        self.access = access
        self.upstream = upstream
        self.location = location
    }

    /// Whether this route applies to `method`.
    @inline(__always)
    func applies(to method: String) -> Bool {
        guard let methods else { return true }
        return methods.contains(method) || (method == "HEAD" && methods.contains("GET"))
    }
}
