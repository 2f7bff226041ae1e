import Foundation
import Synchronization

/// A canary token: a URL or host name planted on a decky inside a file an intruder would open, so that its use
/// (a request to the URL, a lookup of the name) tells who took it, from where and how.
///
/// The token's id is also its slug: the path segment of its URL (`/c/<id>`) and the leftmost label of its DNS
/// name (`<id>.<zone>`). It is 20 characters of lower-case base32 (100 random bits): unguessable, a valid DNS
/// label, and unchanged by the letter-case games resolvers play (0x20 randomisation), since lookups compare it
/// case-insensitively.
public struct CanaryToken: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A URL in a text file (`.env`, bookmarks, notes); fires when requested.
        case url
        /// A host name in a configuration file (`.git/config`, `~/.ssh/config`); fires when resolved.
        case dns
        /// A DOCX or PDF document that fetches the token's URL when opened.
        case document
        /// An SVG image that loads the token's URL when displayed.
        case image
        /// A mail in the decky's mailbox with the token's URL as its link.
        case email
    }

    public var id: String
    public var kind: Kind
    /// The decky the token is planted on, and where (an absolute path in the decky's file tree); nil for a token
    /// minted for the operator to place elsewhere (`decnet canary plant` without `--decky`).
    public var decky: String?
    public var path: String?
    public var label: String
    /// What fires it: the URL (every kind but `dns`), the host name (`dns`; also carried by documents as a
    /// fallback for readers that resolve but never fetch).
    public var url: String?
    public var hostname: String?
    public var created: Date
    public var revoked: Date?

    public init(
        id: String,
        kind: Kind,
        decky: String?,
        path: String?,
        label: String,
        url: String?,
        hostname: String?,
        created: Date,
        revoked: Date? = nil
    ) {
        self.id = id
        self.kind = kind
        self.decky = decky
        self.path = path
        self.label = label
        self.url = url
        self.hostname = hostname
        self.created = created
        self.revoked = revoked
    }

    public var isActive: Bool { self.revoked == nil }

    /// A fresh id: 20 characters of RFC 4648 base32 in lower case (no padding).
    public static func newID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int.random(in: 0..<32, using: &generator)] })
    }

    /// Whether `text` has the shape of an id (lookups are case-insensitive, so upper case is accepted).
    public static func isID(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 20
            && text.utf8.allSatisfy { (0x61...0x7A).contains($0 | 0x20) || (0x32...0x37).contains($0) }
    }
}

/// The tokens of one state directory: a JSON file per token in `<state>/canary/tokens/`, written whole and
/// renamed into place, so a reader never sees half a token. The engine's canary service reads them at every
/// request that carries an id; the CLI and the API write them.
public struct CanaryTokenDirectory: Sendable {
    public let root: String

    public init(stateDirectory: String) {
        self.root = ((stateDirectory as NSString).appendingPathComponent("canary") as NSString)
            .appendingPathComponent("tokens")
    }

    public init(root: String) { self.root = root }

    func file(_ id: String) -> String { (self.root as NSString).appendingPathComponent(id.lowercased() + ".json") }

    /// Every token, oldest first; files that do not parse are skipped (a newer version's, or damaged).
    public func all() -> [CanaryToken] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: self.root)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            FileManager.default.contents(atPath: (self.root as NSString).appendingPathComponent(name))
                .flatMap { try? Self.decoder.decode(CanaryToken.self, from: $0) }
        }.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    public func token(_ id: String) -> CanaryToken? {
        guard CanaryToken.isID(id), let data = FileManager.default.contents(atPath: self.file(id)) else { return nil }
        return try? Self.decoder.decode(CanaryToken.self, from: data)
    }

    public func save(_ token: CanaryToken) throws {
        try FileManager.default.createDirectory(atPath: self.root, withIntermediateDirectories: true)
        let temporary = (self.root as NSString).appendingPathComponent(".\(token.id).\(getpid()).tmp")
        try Self.encoder.encode(token).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, self.file(token.id)) == 0 else {
            let error = errno
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: self.file(token.id), "errno": error])
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// The tokens as a server answering for them needs them: looked up by id, case-insensitively, and read again
/// whenever the directory changed (a plant or a revoke renames a file into it; one `stat` per lookup tells), so
/// a token revoked a moment ago is already silent.
public final class CanaryTokenLookup: Sendable {
    let directory: CanaryTokenDirectory
    private let state = Mutex<(modified: timespec?, tokens: [String: CanaryToken])>((nil, [:]))

    public init(_ directory: CanaryTokenDirectory) { self.directory = directory }

    /// The token with this id, revoked or not; nil for an id nobody planted.
    public func token(_ id: some StringProtocol) -> CanaryToken? {
        let key = id.lowercased()
        return self.state.withLock { state in
            var info = stat()
            let modified = stat(self.directory.root, &info) == 0 ? info.st_mtim : nil
            if modified?.tv_sec != state.modified?.tv_sec || modified?.tv_nsec != state.modified?.tv_nsec
                || state.modified == nil
            {
                state.modified = modified
                state.tokens = Dictionary(
                    self.directory.all().map { ($0.id, $0) },
                    uniquingKeysWith: { _, last in last }
                )
            }
            return state.tokens[key]
        }
    }
}
