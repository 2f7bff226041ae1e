import Crypto
import DecnetCore
import Foundation

/// Where captured files go: named by their SHA-256 under the artifact directory, written once (the same file
/// uploaded twice is stored once). Without a directory only the hash is kept.
public struct ArtifactStore: Sendable {
    public let directory: String?
    /// Largest artifact kept; bigger uploads are hashed and counted but truncated on disk.
    public static let maximumSize = 64 << 20

    public init(directory: String?) { self.directory = directory }

    /// The hex SHA-256 of `bytes`.
    public static func sha256(_ bytes: some Collection<UInt8>) -> String {
        Hex.lowercase(SHA256.hash(data: Array(bytes)))
    }

    /// Stores `bytes`; returns the hash and the path written (nil when nothing is stored).
    public func store(_ bytes: [UInt8]) -> (sha256: String, path: String?) {
        let digest = Self.sha256(bytes)
        guard let directory = self.directory else { return (digest, nil) }
        let path = (directory as NSString).appendingPathComponent(digest)
        if FileManager.default.fileExists(atPath: path) { return (digest, path) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(bytes.prefix(Self.maximumSize)).write(to: URL(fileURLWithPath: path), options: .atomic)
            return (digest, path)
        } catch {
            return (digest, nil)
        }
    }
}

extension ArtifactStore {
    /// Stores `bytes` and raises `id` with `size`, `sha256` and `path` (when stored) after `fields`: an upload
    /// (`file.upload`, with its `filename`) or a session recording (`session.recorded`).
    public func keep(_ bytes: [UInt8], as id: EventID, fields: EventFields, session: SessionEvents) {
        let stored = self.store(bytes)
        var fields = fields
        fields.add("size", String(bytes.count))
        fields.add("sha256", stored.sha256)
        if let location = stored.path { fields.add("path", location) }
        session.emit(id, fields)
    }
}
