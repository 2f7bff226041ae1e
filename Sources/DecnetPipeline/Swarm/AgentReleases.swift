import Foundation

/// Which `decnet` binary an agent runs (`decnet updater push|rollback`), kept in `<state>/agent/release.json`
/// and replaced by an atomic rename, so a crash at any point leaves either the old record or the new one.
///
/// Pushed binaries live in `<state>/agent/releases/<sha256>/decnet`. A push makes its binary `current` on trial,
/// with the binary that ran before as `previous`; the agent's supervisor confirms it once the new agent is up
/// and serving (its health marker), and otherwise puts `previous` back. A rollback on request swaps the two.
public struct AgentRelease: Codable, Sendable, Equatable {
    /// The binary the agent runs; nil: the one its supervisor was started from.
    public var current: String?
    /// What a rollback returns to.
    public var previous: String?
    /// While a push is on trial: what `previous` was before it, so a failed trial leaves the record as it was.
    public var earlier: String?
    /// `trial` (pushed, not yet up), `confirmed`, or `rolled-back`.
    public var state: String
    /// Why the state is what it is (shown by `updater push` and the agent's health).
    public var message: String
    public var changed: Date

    public init(current: String?, previous: String?, state: String, message: String, changed: Date = Date()) {
        self.current = current
        self.previous = previous
        self.state = state
        self.message = message
        self.changed = changed
    }
}

public struct AgentReleases: Sendable {
    public let directory: String

    /// `directory`: the agent's own folder in its state directory (`<state>/agent`).
    public init(directory: String) {
        self.directory = directory
    }

    public var recordPath: String { (self.directory as NSString).appendingPathComponent("release.json") }
    public var healthPath: String { (self.directory as NSString).appendingPathComponent("healthy") }
    var releasesDirectory: String { (self.directory as NSString).appendingPathComponent("releases") }

    public func load() -> AgentRelease? {
        guard let data = FileManager.default.contents(atPath: self.recordPath) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(AgentRelease.self, from: data)
    }

    public func save(_ record: AgentRelease) throws {
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        // Data.write(options: .atomic) writes a temporary file and renames it over the record.
        try encoder.encode(record).write(to: URL(fileURLWithPath: self.recordPath), options: .atomic)
    }

    /// A folder for payloads while they arrive (on the same file system as the releases, so staging is a rename).
    public func incomingDirectory() throws -> String {
        let path = (self.directory as NSString).appendingPathComponent("incoming")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Moves a verified payload to `releases/<sha256>/decnet` (mode 0755) and returns that path.
    public func stage(_ payload: String, sha256: String) throws -> String {
        let folder = (self.releasesDirectory as NSString).appendingPathComponent(sha256)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let binary = (folder as NSString).appendingPathComponent("decnet")
        if FileManager.default.fileExists(atPath: binary) { try FileManager.default.removeItem(atPath: binary) }
        try FileManager.default.moveItem(atPath: payload, toPath: binary)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary)
        return binary
    }

    /// The pushed binary becomes current, on trial; the one running now is what a failure returns to.
    public func beginTrial(of binary: String, replacing running: String, sha256: String) throws {
        var record = AgentRelease(
            current: binary,
            previous: running,
            state: "trial",
            message: "pushed \(sha256.prefix(12)), starting"
        )
        record.earlier = self.load()?.previous
        try self.save(record)
    }

    /// The trial's agent is up: the push holds.
    public func confirm() throws {
        guard var record = self.load(), record.state == "trial" else { return }
        record.state = "confirmed"
        record.message = "the pushed release is up"
        record.earlier = nil
        record.changed = Date()
        try self.save(record)
    }

    /// Back to `previous`: after a failed trial (whose binary is then forgotten: `previous` is what it was before
    /// the push), or on request (the two swap, so a second rollback undoes the first). Returns the binary now
    /// current, or nil when there is nothing to go back to.
    @discardableResult
    public func rollBack(because reason: String) throws -> String? {
        guard var record = self.load(), let previous = record.previous else { return nil }
        let from = record.current
        record.previous = record.state == "trial" ? record.earlier : from
        record.current = previous
        record.earlier = nil
        record.state = "rolled-back"
        record.message = reason
        record.changed = Date()
        try self.save(record)
        return previous
    }
}

/// An agent's answer to `health`: who and what it runs.
public struct AgentHealth: Codable, Sendable, Equatable {
    public var host: String
    public var version: String
    /// The SHA-256 of the binary the agent runs.
    public var sha256: String
    public var pid: Int32
    /// Its release's state (`AgentRelease.state`, or `installed` before any push).
    public var release: String
    public var message: String

    public init(host: String, version: String, sha256: String, pid: Int32, release: String, message: String) {
        self.host = host
        self.version = version
        self.sha256 = sha256
        self.pid = pid
        self.release = release
        self.message = message
    }
}
