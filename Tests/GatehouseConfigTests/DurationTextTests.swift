import GatehouseConfig
import Testing

/// Durations as written in routes.yaml and on the command line.
struct DurationTextTests {
    @Test(
        "a whole number with a unit, or plain seconds",
        arguments: [("500ms", 0.5), ("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86_400), ("30", 30), ("0", 0), ("0s", 0)])
    func parses(text: String, seconds: Double) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test(
        "anything else is not a duration",
        arguments: ["", "s", "1.5h", "-1s", "-1", "1w", "1 h", " 1h", "1H", "1h30m", "ten", "99999999999999999999s"])
    func refuses(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }
}
