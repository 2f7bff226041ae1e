import Foundation

/// The runtime state file, `decnet-state.json`: what was deployed, how, and the fully resolved fleet, so that
/// `status`, `teardown` and a restarted engine see exactly what `deploy` planned.
public struct FleetState: Codable, Sendable, Equatable {
    public static let fileName = "decnet-state.json"
    public static let currentFormat = 1

    public var format: Int
    /// `native` (network namespaces served by the engine) or `docker` (compose).
    public var driver: String
    /// `unihost` or `swarm`.
    public var mode: String
    /// False after `--dry-run`: the fleet was planned and written, not started.
    public var deployed: Bool
    public var createdAt: Date
    /// The compose file written for the Docker driver.
    public var composeFile: String?
    /// The fleet file the fleet came from, when there was one.
    public var configFile: String?
    /// How the native driver attached the fleet (nil for the Docker driver).
    public var native: NativeDeployment?
    public var fleet: Fleet

    public init(
        driver: String,
        mode: String,
        deployed: Bool,
        createdAt: Date = Date(),
        composeFile: String?,
        configFile: String?,
        native: NativeDeployment? = nil,
        fleet: Fleet
    ) {
        self.format = Self.currentFormat
        self.driver = driver
        self.mode = mode
        self.deployed = deployed
        self.createdAt = createdAt
        self.composeFile = composeFile
        self.configFile = configFile
        self.native = native
        self.fleet = fleet
    }

    /// Problems reading or writing the state file.
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(self.path): \(self.reason)" }
    }

    public static func path(in directory: String) -> String {
        (directory as NSString).appendingPathComponent(Self.fileName)
    }

    /// Writes the state atomically (a reader never sees half a file).
    public func write(toDirectory directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let path = Self.path(in: directory)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw Failure(path: path, reason: "cannot be written (\(error.localizedDescription))")
        }
    }

    /// The state in `directory`, or nil when nothing was ever deployed there.
    public static func read(fromDirectory directory: String) throws -> FleetState? {
        let path = Self.path(in: directory)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            let state = try decoder.decode(FleetState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            guard state.format == Self.currentFormat else {
                throw Failure(path: path, reason: "state format \(state.format) is not \(Self.currentFormat); redeploy")
            }
            return state
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(path: path, reason: "is not a DECNET state file (\(error))")
        }
    }
}
