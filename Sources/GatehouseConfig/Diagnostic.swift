/// One problem found in a configuration file, reported as `file:line:col: severity: message`.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    /// How bad it is.
    public enum Severity: String, Sendable {
        case error
        case warning
    }

    /// The file, as the user named it.
    public let file: String
    /// Line, from 1.
    public let line: Int
    /// Column, from 1.
    public let column: Int
    /// Error or warning.
    public let severity: Severity
    /// What is wrong, and what to write instead where that helps.
    public let message: String

    /// Creates a diagnostic.
    public init(file: String, line: Int, column: Int, severity: Severity, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(severity.rawValue): \(message)" }

    /// `file:line:col`, for naming a place in another message.
    public var location: String { "\(file):\(line):\(column)" }
}

/// A configuration that could not be loaded: every problem found, errors and warnings, in file order.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// Every diagnostic.
    public let diagnostics: [Diagnostic]

    /// Creates the error.
    public init(diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// Only the errors.
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
