public import GatehousePolicy

/// The answer to "why was I denied?": every step `decide` took for one request, for `gatehouse explain`.
public struct Explanation: Sendable {
    /// The request method.
    public let method: String
    /// The raw request-target.
    public let target: String
    /// The decision.
    public let decision: Decision
    /// Each step with its result.
    public let steps: [DecisionTrace.Step]
    /// Every route that matches, most specific first (the first one decided).
    public let matchingRoutes: [Route]

    /// Decides `method target` with a trace.
    public static func explain(
        policy: Policy, method: String, target: String, credential: Policy.Credential, keys: KeySet, now: Double
    ) -> Explanation {
        let trace = DecisionTrace()
        let decision = policy.decide(method: method, target: target, credential: credential, keys: keys, now: now, trace: trace)
        var matching = [Route]()
        if let normalized = decision.target {
            matching = policy.routes.allMatches(segments: normalized.segments, method: method).map { policy.routes.routes[$0] }
        }
        return Explanation(method: method, target: target, decision: decision, steps: trace.steps, matchingRoutes: matching)
    }

    /// Plain text; the last line is always `decision: <status> <reason>`.
    public var text: String {
        var lines = ["request: \(method) \(target)"]
        if let normalized = decision.target {
            lines.append("normalised path: \(normalized.path)" + (normalized.query.map { "  (query ?\($0) is forwarded, never matched)" } ?? ""))
        }
        if let winner = matchingRoutes.first {
            lines.append("route: \(winner.id)  [\(winner.pattern)\(Self.methods(winner))]  \(winner.location)")
            for other in matchingRoutes.dropFirst() {
                lines.append("  also matches: \(other.id)  [\(other.pattern)\(Self.methods(other))]  -> loses: \(Self.whyLoses(other, to: winner))")
            }
        } else if decision.target != nil {
            lines.append("route: none matched; the default applies")
        }
        for step in steps {
            let mark = step.passed.map { $0 ? "pass" : "FAIL" } ?? "info"
            lines.append("  [\(mark)] \(step.name): \(step.detail)")
        }
        if let challenge = decision.challenge { lines.append("WWW-Authenticate: \(challenge)") }
        if decision.isAllowed {
            for header in decision.identity { lines.append("upstream header: \(header.name): \(header.value)") }
            if let normalized = decision.target { lines.append("forwarded as: \(method) \(normalized.forwardTarget)") }
        }
        lines.append("decision: \(decision.status) \(decision.reason.label)")
        return lines.joined(separator: "\n")
    }

    /// The same as one JSON object.
    public var json: String {
        var object: [String: JSONValue] = [
            "method": .string(method),
            "target": .string(target),
            "status": .number(Double(decision.status)),
            "reason": .string(decision.reason.label),
            "detail": .string(decision.detail),
            "route": .string(decision.routeID),
            "allowed": .bool(decision.isAllowed),
            "steps": .array(steps.map { step in
                .object([
                    "name": .string(step.name), "detail": .string(step.detail),
                    "passed": step.passed.map { .bool($0) } ?? .null,
                ])
            }),
            "matching_routes": .array(matchingRoutes.map { .string($0.id) }),
            "identity_headers": .object(Dictionary(decision.identity.map { ($0.name, JSONValue.string($0.value)) }, uniquingKeysWith: { a, _ in a })),
        ]
        if let normalized = decision.target { object["normalized_path"] = .string(normalized.path) }
        if let challenge = decision.challenge { object["www_authenticate"] = .string(challenge) }
        return JSONValue.object(object).jsonText
    }

    private static func methods(_ route: Route) -> String {
        guard let methods = route.methods else { return "" }
        return " " + methods.sorted().joined(separator: ",")
    }

    private static func whyLoses(_ loser: Route, to winner: Route) -> String {
        if loser.pattern == winner.pattern { return "the winner lists this method explicitly" }
        for (a, b) in zip(winner.pattern.segments, loser.pattern.segments) {
            switch (a, b) {
            case (.literal, .wildcard), (.literal, .parameter): return "a literal segment beats a wildcard"
            case (.literal(let x), .literal(let y)) where x == y: continue
            case (.wildcard, .wildcard), (.wildcard, .parameter), (.parameter, .wildcard), (.parameter, .parameter): continue
            default: break
            }
        }
        if loser.pattern.matchesSubtree && !winner.pattern.matchesSubtree { return "'**' is the least specific match" }
        return "less specific"
    }
}
