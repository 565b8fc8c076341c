/// Durations as written in `routes.yaml` and on the command line: `500ms`, `30s`, `15m`, `1h`, `1d`, or plain
/// seconds.
public enum DurationText {
    /// Seconds, or `nil` when `text` is not a duration.
    public static func seconds(_ text: String) -> Double? {
        if let seconds = Int(text), seconds >= 0 { return Double(seconds) }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let amount = Int(text.dropLast(suffix.count)), amount >= 0, amount < 1_000_000_000 {
                return Double(amount) * factor
            }
        }
        return nil
    }
}
