import ArgumentParser
import FoundationEssentials
import GatehouseConfig

#if canImport(Glibc)
import Glibc
#endif

/// Prints to standard error.
func printError(_ text: String) {
    let line = text + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { buffer in
        write(2, buffer.baseAddress, buffer.count - 1)
    }
}

/// Prints to standard output at once (long-running commands must not leave their text in a buffer).
func printNow(_ text: String) {
    let line = text + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { buffer in
        write(1, buffer.baseAddress, buffer.count - 1)
    }
}

/// Seconds since 1970, now.
func currentTime() -> Double {
    Date().timeIntervalSince1970
}

/// Loads the configuration or prints every problem and exits 1.
func loadConfiguration(_ path: String) async throws -> GatehouseConfiguration {
    do {
        let configuration = try await ConfigurationLoader().load(path: path)
        for warning in configuration.warnings { printError(warning.description) }
        return configuration
    } catch {
        for diagnostic in error.diagnostics { printError(diagnostic.description) }
        printError("\(path): \(error.errors.count) error(s)")
        throw ExitCode(1)
    }
}

