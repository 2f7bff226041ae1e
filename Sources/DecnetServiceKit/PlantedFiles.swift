import Foundation

/// Files the operator planted on a decky (canary documents, bait), kept as the decky's own tree under
/// `<state>/deckies/<decky>/planted/`: `…/planted/home/admin/passwords.docx` is the decky's
/// `/home/admin/passwords.docx`, with the mode and modification time the services show for it. Services read the
/// tree at each look (a listing, an open), so a file planted or removed shows at once, without a restart.
///
/// Which service shows what: the shell and FTP the whole tree; HTTP what is under `/var/www/html/`; SMB what is
/// under `/srv/shares/<share>/`; POP3 and IMAP the `.eml` files under `/var/mail/`.
public struct PlantedFiles: Sendable, Equatable {
    public struct File: Sendable, Equatable {
        /// The path on the decky: absolute, `/`-separated, without `.` or `..`.
        public var path: String
        public var size: Int
        /// Permission bits (0o600, 0o644 …).
        public var mode: UInt16
        public var modified: Date
        /// Where the bytes are on this host.
        let location: String

        public var name: String { String(self.path.split(separator: "/").last ?? "") }

        public func contents() -> [UInt8]? {
            FileManager.default.contents(atPath: self.location).map { Array($0) }
        }
    }

    /// The tree's root on this host; nil when the decky has no planted files (a service run on its own).
    public let root: String?
    /// At most this many files are read from a tree (a planted tree is small; this bounds a mistake).
    static let maximumFiles = 2000

    public init(root: String?) { self.root = root }

    /// `<state>/deckies/<decky>/planted`.
    public static func root(stateDirectory: String, decky: String) -> String {
        (((stateDirectory as NSString).appendingPathComponent("deckies") as NSString).appendingPathComponent(decky)
            as NSString).appendingPathComponent("planted")
    }

    /// Every planted file, sorted by path. Symbolic links and special files are not followed or shown.
    public func all() -> [File] {
        guard let root = self.root else { return [] }
        var files: [File] = []
        var pending = [""]
        while let relative = pending.popLast(), files.count < Self.maximumFiles {
            let directory = relative.isEmpty ? root : root + relative
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names where !name.hasPrefix(".planting-") {
                let location = directory + "/" + name
                var info = stat()
                guard lstat(location, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    pending.append(relative + "/" + name)
                case S_IFREG:
                    files.append(
                        File(
                            path: relative + "/" + name,
                            size: Int(info.st_size),
                            mode: UInt16(info.st_mode & 0o7777),
                            modified: Date(
                                timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)
                                    + TimeInterval(info.st_mtim.tv_nsec) / 1e9
                            ),
                            location: location
                        )
                    )
                default:
                    continue
                }
            }
        }
        return files.sorted { $0.path < $1.path }
    }

    /// The file at a decky path (compared as given: callers normalise attacker paths first).
    public func file(at path: String) -> File? { self.all().first { $0.path == path } }

    /// The files under a decky directory, with their paths relative to it (`/var/www/html` → `docs/a.pdf`).
    public func files(under directory: String) -> [(relative: String, file: File)] {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return self.all().compactMap { file in
            file.path.hasPrefix(prefix) ? (String(file.path.dropFirst(prefix.count)), file) : nil
        }
    }

    /// Whether a decky path is one the tree may hold: absolute, no empty, `.` or `..` parts, no NUL.
    public static func isPlantable(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return path.hasPrefix("/") && parts.count >= 2 && !path.contains("\0")
            && parts.dropFirst().allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// Writes a file into the tree (replacing one at the same path), with its mode and modification time.
    public func plant(_ data: [UInt8], at path: String, mode: UInt16, modified: Date) throws {
        guard let root = self.root, Self.isPlantable(path) else {
            throw CocoaError(.fileWriteInvalidFileName, userInfo: [NSFilePathErrorKey: path])
        }
        let location = root + path
        let directory = (location as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = directory + "/.planting-\(getpid())-" + (path.split(separator: "/").last.map(String.init) ?? "")
        try Data(data).write(to: URL(fileURLWithPath: temporary))
        chmod(temporary, mode_t(mode))
        var times = [
            timespec(tv_sec: Int(modified.timeIntervalSince1970), tv_nsec: 0),
            timespec(tv_sec: Int(modified.timeIntervalSince1970), tv_nsec: 0),
        ]
        utimensat(AT_FDCWD, temporary, &times, 0)
        guard rename(temporary, location) == 0 else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: location])
        }
    }

    /// Removes a planted file; true when there was one.
    @discardableResult
    public func remove(_ path: String) -> Bool {
        guard let root = self.root, Self.isPlantable(path) else { return false }
        return unlink(root + path) == 0
    }
}
