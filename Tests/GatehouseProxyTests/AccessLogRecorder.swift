import Logging
import Synchronization

/// Collects the proxy's access-log entries (message and metadata) so that tests can check what was logged.
final class AccessLogRecorder: Sendable {
    struct Entry: Sendable {
        let message: String
        let metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    /// Everything logged so far.
    var logged: [Entry] { entries.withLock { $0 } }

    /// A logger whose entries land here.
    func logger(label: String) -> Logger {
        Logger(label: label) { _ in Handler(recorder: self) }
    }

    fileprivate func append(_ entry: Entry) {
        entries.withLock { $0.append(entry) }
    }

    private struct Handler: LogHandler {
        let recorder: AccessLogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var flat = [String: String]()
            for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
                flat[key] = "\(value)"
            }
            recorder.append(Entry(message: event.message.description, metadata: flat))
        }
    }
}
