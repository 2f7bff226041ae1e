import ArgumentParser

/// A command that could not do its job: the message goes to standard error, and the process exits non-zero.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    let exitCode: ExitCode

    init(_ message: String, exitCode: ExitCode = .failure) {
        self.description = message
        self.exitCode = exitCode
    }
}
