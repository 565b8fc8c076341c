import FoundationEssentials
import GatehousePolicy
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Writes each log entry as one JSON object per line: `time`, `level`, `message`, then the metadata keys.
/// The access log uses it on standard output; tokens never appear in metadata.
struct JSONLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    let label: String
    let fileDescriptor: Int32

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: JSONValue] = [
            "time": .string(Date().formatted(.iso8601)),
            "level": .string(event.level.rawValue),
            "message": .string(event.message.description),
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
            object[key] = Self.json(value)
        }
        let line = JSONValue.object(object).jsonText + "\n"
        _ = line.utf8CString.withUnsafeBufferPointer { buffer in
            write(fileDescriptor, buffer.baseAddress, buffer.count - 1)
        }
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let convertible):
            if let number = Double(convertible.description) { return .number(number) }
            return .string(convertible.description)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let values): return .object(values.mapValues(json))
        }
    }
}

/// Logging for the long-running commands: access entries (label `gatehouse.access`) as JSON on standard output,
/// everything else as JSON on standard error.
enum LoggingSetup {
    static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label, fileDescriptor: label == "gatehouse.access" ? 1 : 2)
            handler.logLevel = level
            return handler
        }
    }
}
