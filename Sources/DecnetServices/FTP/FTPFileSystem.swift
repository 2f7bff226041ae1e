import DecnetServiceKit

/// The small tree an FTP login sees: a `pub` folder for anonymous users, a home with tempting files for
/// accounts, and whatever the attacker uploads (listed with its size, like a real server would).
struct FTPFileSystem: Equatable {
    enum Entry: Equatable {
        case directory
        case file([UInt8], size: Int)
    }

    private(set) var entries: [String: Entry]
    static let maximumKeptUpload = 1 << 20

    init(home: String) {
        var entries: [String: Entry] = ["/": .directory, "/pub": .directory]
        entries["/pub/README"] = Self.file("Mirror of internal tools. Contact it-support for access to /incoming.\n")
        if home != "/" {
            var path = ""
            for part in home.split(separator: "/") {
                path += "/" + part
                entries[path] = .directory
            }
            entries[home + "/backup"] = .directory
            entries[home + "/notes.txt"] = Self.file("db: 10.0.0.21 user svc_backup\nrotate keys before Q4 audit\n")
            entries[home + "/backup/site-2024-09-08.tar.gz"] = Self.file(Array(repeating: "\u{1f}", count: 64).joined())
        }
        self.entries = entries
    }

    /// Adds the decky's planted files: all of them at their paths for an account, those under `/srv/ftp` (the
    /// anonymous root) for an anonymous login.
    mutating func add(_ planted: PlantedFiles, anonymous: Bool) {
        let files =
            anonymous
            ? planted.files(under: "/srv/ftp").map { ("/" + $0.relative, $0.file) }
            : planted.all().map { ($0.path, $0) }
        for (path, file) in files {
            guard let bytes = file.contents() else { continue }
            var parent = ""
            for part in path.split(separator: "/").dropLast() {
                parent += "/" + part
                if self.entries[parent] == nil { self.entries[parent] = .directory }
            }
            self.entries[path] = .file(bytes, size: bytes.count)
        }
    }

    static func file(_ text: String) -> Entry { .file(Array(text.utf8), size: text.utf8.count) }

    /// An absolute, normalized path for `argument` relative to `cwd` (`..` never climbs above `/`).
    static func resolve(_ argument: String, from cwd: String) -> String {
        let start = argument.hasPrefix("/") ? [] : cwd.split(separator: "/").map(String.init)
        var parts = start
        for part in argument.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(String(part))
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    func entry(_ path: String) -> Entry? { self.entries[path] }

    func isDirectory(_ path: String) -> Bool { self.entries[path] == .directory }

    /// The children of a directory, sorted.
    func children(of directory: String) -> [(name: String, entry: Entry)] {
        let prefix = directory == "/" ? "/" : directory + "/"
        return self.entries.keys.filter {
            $0.hasPrefix(prefix) && $0 != directory && !$0.dropFirst(prefix.count).contains("/")
        }
        .sorted().map { (String($0.dropFirst(prefix.count)), self.entries[$0]!) }
    }

    /// `ls -l` lines as vsftpd writes them.
    func listing(of directory: String, namesOnly: Bool) -> String {
        self.children(of: directory).map { name, entry in
            if namesOnly { return name + "\r\n" }
            switch entry {
            case .directory: return "drwxr-xr-x    2 1000     1000         4096 Sep 09  2024 \(name)\r\n"
            case .file(_, let size):
                let sizeText = String(size)
                let padded = String(repeating: " ", count: max(0, 12 - sizeText.count)) + sizeText
                return "-rw-r--r--    1 1000     1000     \(padded) Sep 09  2024 \(name)\r\n"
            }
        }.joined()
    }

    mutating func store(_ path: String, _ bytes: [UInt8]) {
        self.entries[path] = .file(bytes.count <= Self.maximumKeptUpload ? bytes : [], size: bytes.count)
    }

    mutating func makeDirectory(_ path: String) { self.entries[path] = .directory }

    mutating func remove(_ path: String) { self.entries[path] = nil }

    mutating func move(_ from: String, to: String) {
        guard let entry = self.entries.removeValue(forKey: from) else { return }
        self.entries[to] = entry
    }
}
