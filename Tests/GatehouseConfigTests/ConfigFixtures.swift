import Foundation
import GatehouseConfig
import GatehouseKeys
import GatehousePolicy
import Testing

/// The injected clock: tokens are minted relative to it.
let testNow: Double = 1_760_000_000

/// A line and column, both from 1.
struct Location: Equatable, Sendable, CustomStringConvertible {
    let line: Int
    let column: Int
    var description: String { "\(line):\(column)" }
}

/// YAML text with `«` markers where a diagnostic must point: the markers are removed and their positions kept, so
/// expected line:col values are written in place rather than counted by hand.
struct MarkedYAML: Sendable {
    static let marker: Character = "«"

    let text: String
    let marks: [Location]

    init(_ source: String) {
        var text = ""
        var marks = [Location]()
        var line = 1
        var column = 1
        for character in source {
            if character == Self.marker {
                marks.append(Location(line: line, column: column))
                continue
            }
            text.append(character)
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        self.text = text
        self.marks = marks
    }
}

/// What one load produced.
struct LoadOutcome: Sendable {
    let configuration: GatehouseConfiguration?
    let diagnostics: [Diagnostic]

    var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }

    /// Every diagnostic, one per line, for failure messages.
    var listing: String { diagnostics.map(\.description).joined(separator: "\n") }

    func diagnostic(at location: Location, _ severity: Diagnostic.Severity, containing text: String) -> Diagnostic? {
        diagnostics.first {
            $0.line == location.line && $0.column == location.column && $0.severity == severity && $0.message.contains(text)
        }
    }
}

enum ConfigFixture {
    static let file = "routes.yaml"
    static let secret = String(repeating: "0123456789abcdef", count: 4)
    static let environment = ["GH_SECRET": secret]

    /// A valid file; cases below change one thing in it.
    static let valid = """
        version: 1
        tokens:
          issuers:
            - issuer: https://id.example.test/
              audience: orders-api
              algorithms: [HS256]
              secret_env: GH_SECRET
        routes:
          - path: /healthz
            methods: [GET]
            public: true
          - id: admin
            path: /admin/**
            roles: [admin]
          - id: own-profile
            path: /users/{id}/**
            claims:
              sub: "{id}"
        tests:
          - request: GET /healthz
            expect: 200

        """

    /// `valid` with `old` replaced by `new` (which may carry markers).
    static func valid(replacing old: String, with new: String) -> String {
        precondition(valid.contains(old), "the valid file does not contain \(old)")
        return valid.replacingOccurrences(of: old, with: new)
    }

    static func load(
        _ yaml: String, environment: [String: String] = environment, directory: String = "/nonexistent-gatehouse-dir"
    ) async -> LoadOutcome {
        do {
            let configuration = try await ConfigurationLoader(environment: environment).load(
                yaml: yaml, file: file, directory: directory)
            return LoadOutcome(configuration: configuration, diagnostics: configuration.warnings)
        } catch {
            return LoadOutcome(configuration: nil, diagnostics: error.diagnostics)
        }
    }

    /// The repository root (this file is `Tests/GatehouseConfigTests/ConfigFixtures.swift`).
    static let repositoryRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
}

/// A fresh directory for key files, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path + "/keys", withIntermediateDirectories: true)
    }

    func write(_ text: String, to relativePath: String) throws {
        try text.write(toFile: path + "/" + relativePath, atomically: true, encoding: .utf8)
    }

    /// Writes the public half of a fresh P-256 key as PEM.
    func writeP256PublicKey(to relativePath: String) throws {
        guard case .p256Private(let key) = try KeyMaterial.generate(.p256) else {
            throw KeyError("expected a P-256 key")
        }
        try write(key.publicKey.pemRepresentation, to: relativePath)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
