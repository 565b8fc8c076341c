/// A record of every step of one decision, for `gatehouse explain`. The hot path passes `nil` and pays nothing.
public final class DecisionTrace {
    /// One step: what was checked, whether it passed (`nil` for information), and details.
    public struct Step: Sendable {
        public let name: String
        public let passed: Bool?
        public let detail: String
    }

    /// The steps in order.
    public private(set) var steps: [Step] = []

    /// Creates an empty trace.
    public init() {}

    func record(_ name: String, _ passed: Bool?, _ detail: String) {
        steps.append(Step(name: name, passed: passed, detail: detail))
    }
}
