import ArgumentParser
import Foundation

/// Runs a command body and turns any error into one clear message on stderr and exit code 1.
/// Errors are printed through their `description`, which names the file, key or flag.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        FileHandle.standardError.write(Data("neuromask: error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}
