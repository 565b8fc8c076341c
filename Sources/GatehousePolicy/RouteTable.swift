/// The compiled, immutable route table: a trie over path segments, so that matching costs the depth of the path,
/// not the number of routes.
///
/// Precedence is most specific wins, segment by segment: a literal beats `{param}`/`*`, which beat `**`; at equal
/// patterns a route listing the request's method beats one without `methods`. Two routes that could match the same
/// request with equal specificity are refused when the table is built.
public struct RouteTable: Sendable {
    private struct Node: Sendable {
        var literals: [Substring: Int] = [:]
        var wildcard: Int? = nil
        /// Routes whose pattern ends at this node.
        var exact: [Int] = []
        /// Routes whose pattern ends at this node with `/**`.
        var subtree: [Int] = []
    }

    /// A route that matched, with the path segments it matched.
    public struct Match: Sendable {
        /// The route.
        public let route: Route
        /// The request's path segments.
        let segments: [Substring]

        /// Parameter name → percent-decoded value (absent when the bytes are not valid UTF-8). Built when asked:
        /// only a `path_parameter` claim condition reads it.
        public var parameters: [String: String] {
            var parameters = [String: String]()
            for (position, segment) in route.pattern.segments.enumerated() {
                if case .parameter(let name) = segment {
                    parameters[name] = PathNormalizer.decodeSegment(segments[position])
                }
            }
            return parameters
        }
    }

    /// Two routes that can match the same request with equal specificity.
    public struct Clash: Error, Sendable, CustomStringConvertible {
        /// The route written first.
        public let first: Route
        /// The route written second.
        public let second: Route
        public var description: String {
            "routes '\(first.id)' (\(first.location)) and '\(second.id)' (\(second.location)) match the same requests with equal precedence"
        }
    }

    /// The routes in the order written.
    public let routes: [Route]
    private let nodes: [Node]

    /// Builds the table, or throws every clash found.
    public init(_ routes: [Route]) throws(ClashList) {
        var nodes = [Node()]
        for (routeIndex, route) in routes.enumerated() {
            var current = 0
            for segment in route.pattern.segments {
                switch segment {
                case .literal(let text):
                    if let next = nodes[current].literals[Substring(text)] {
                        current = next
                    } else {
                        nodes.append(Node())
                        nodes[current].literals[Substring(text)] = nodes.count - 1
                        current = nodes.count - 1
                    }
                case .wildcard, .parameter:
                    if let next = nodes[current].wildcard {
                        current = next
                    } else {
                        nodes.append(Node())
                        nodes[current].wildcard = nodes.count - 1
                        current = nodes.count - 1
                    }
                }
            }
            if route.pattern.matchesSubtree {
                nodes[current].subtree.append(routeIndex)
            } else {
                nodes[current].exact.append(routeIndex)
            }
        }
        var clashes = [Clash]()
        for node in nodes {
            for list in [node.exact, node.subtree] where list.count > 1 {
                for i in 0..<list.count {
                    for j in (i + 1)..<list.count {
                        let a = routes[list[i]]
                        let b = routes[list[j]]
                        let overlap: Bool
                        switch (a.methods, b.methods) {
                        case (nil, nil): overlap = true
                        case (let x?, let y?): overlap = !x.isDisjoint(with: y)
                        default: overlap = false
                        }
                        if overlap { clashes.append(Clash(first: a, second: b)) }
                    }
                }
            }
        }
        if !clashes.isEmpty { throw ClashList(clashes: clashes) }
        self.routes = routes
        self.nodes = nodes
    }

    /// Every clash found while building a table.
    public struct ClashList: Error, Sendable {
        public let clashes: [Clash]
    }

    /// The most specific route for `segments` and `method` (upper case; `HEAD` is matched as `GET`).
    public func match(segments: [Substring], method: String) -> Match? {
        guard let index = search(node: 0, depth: 0, segments: segments, method: method) else { return nil }
        return Match(route: routes[index], segments: segments)
    }

    private func search(node nodeIndex: Int, depth: Int, segments: [Substring], method: String) -> Int? {
        // Each field is read in place: a copy of the node would retain and release its three arrays and dictionary
        // at every level of every request's path.
        if depth == segments.count {
            if let found = pick(nodes[nodeIndex].exact, method: method) { return found }
        } else {
            let segment = segments[depth]
            if let child = nodes[nodeIndex].literals[segment],
                let found = search(node: child, depth: depth + 1, segments: segments, method: method)
            {
                return found
            }
            if !segment.isEmpty, let child = nodes[nodeIndex].wildcard,
                let found = search(node: child, depth: depth + 1, segments: segments, method: method)
            {
                return found
            }
        }
        return pick(nodes[nodeIndex].subtree, method: method)
    }

    /// The route among equal patterns: one listing the method, then (for `HEAD`) one listing `GET`, then one
    /// without `methods`.
    @inline(__always)
    private func pick(_ candidates: [Int], method: String) -> Int? {
        var headAsGet: Int? = nil
        var fallback: Int? = nil
        for index in candidates {
            guard let methods = routes[index].methods else {
                fallback = index
                continue
            }
            if methods.contains(method) { return index }
            if method == "HEAD" && methods.contains("GET") { headAsGet = index }
        }
        return headAsGet ?? fallback
    }

    /// Every route whose pattern and methods match, most specific first (for `explain`; not for the hot path).
    public func allMatches(segments: [Substring], method: String) -> [Int] {
        var found = [Int]()
        collect(node: 0, depth: 0, segments: segments, method: method, into: &found)
        return found
    }

    private func collect(node nodeIndex: Int, depth: Int, segments: [Substring], method: String, into found: inout [Int]) {
        let node = nodes[nodeIndex]
        func add(_ list: [Int]) {
            let applicable = list.filter { routes[$0].applies(to: method) }
            found += applicable.filter { routes[$0].methods != nil } + applicable.filter { routes[$0].methods == nil }
        }
        if depth == segments.count {
            add(node.exact)
        } else {
            let segment = segments[depth]
            if let child = node.literals[segment] {
                collect(node: child, depth: depth + 1, segments: segments, method: method, into: &found)
            }
            if !segment.isEmpty, let child = node.wildcard {
                collect(node: child, depth: depth + 1, segments: segments, method: method, into: &found)
            }
        }
        add(node.subtree)
    }

    /// Pairs (public route, protected route) where the public one wins for requests the protected one would
    /// otherwise cover: a hole in a protected area that `check` warns about.
    public func publicShadows() -> [(publicRoute: Route, protectedRoute: Route)] {
        var result = [(Route, Route)]()
        let publicRoutes = routes.filter { $0.access == .public }
        let protectedRoutes = routes.filter { if case .require = $0.access { return true } else { return false } }
        for p in publicRoutes {
            for q in protectedRoutes where RouteTable.covers(q, p) && RouteTable.methodsOverlap(p, q) {
                result.append((p, q))
            }
        }
        return result
    }

    private static func methodsOverlap(_ a: Route, _ b: Route) -> Bool {
        guard let x = a.methods, let y = b.methods else { return true }
        return !x.isDisjoint(with: y)
    }

    /// Whether every request `inner` matches is also matched by `outer`'s pattern (and `inner` is more specific).
    private static func covers(_ outer: Route, _ inner: Route) -> Bool {
        let o = outer.pattern
        let i = inner.pattern
        if o.segments.count > i.segments.count { return false }
        if !o.matchesSubtree && (o.segments.count != i.segments.count || i.matchesSubtree) { return false }
        for (a, b) in zip(o.segments, i.segments) {
            switch (a, b) {
            case (.literal(let x), .literal(let y)): if x != y { return false }
            case (.literal, _): return false
            case (_, .literal(let y)): if y.isEmpty { return false }
            default: break
            }
        }
        return o != i || outer.methods == nil
    }
}
