import ArgumentParser
import DecnetConfig
import DecnetCore
import Foundation

/// Loads `DecnetEnvironment` for a command, turning its errors into a clear failure.
enum EnvironmentLoading {
    static func load() async throws -> DecnetEnvironment {
        do {
            return try await DecnetEnvironment.load(environment: ProcessInfo.processInfo.environment)
        } catch let error as ConfigurationError {
            throw CommandFailure(error.description, exitCode: .validationFailure)
        }
    }
}
