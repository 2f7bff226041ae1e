import DecnetCore
import DecnetServiceKit
import Foundation

/// The server side of SFTP version 3 (draft-ietf-secsh-filexfer-02) as OpenSSH's `sftp-server` answers it, over
/// the decky's fake filesystem. Uploads are kept whole as artifacts when their handle closes (or the session
/// ends); listings, stats and `realpath` agree with the shell; nothing is ever read from or written to the real
/// disk. OpenSSH 9's `scp` speaks this too.
struct SFTPServer {
    struct Step {
        var output: [UInt8] = []
        var events: [(EventID, EventFields)] = []
        var artifacts: [SSHArtifact] = []
        /// The client broke the protocol; sftp-server exits.
        var failed = false
    }

    /// sftp-server's SFTP_MAX_MSG_LENGTH.
    static let maximumMessage = 256 * 1024
    static let maximumHandles = 64
    /// The fake files' modification time (2024-09-09), as the shell's `ls -l` shows.
    static let modified: UInt32 = 1_725_869_642

    private enum Status: UInt32 {
        case ok = 0
        case endOfFile = 1
        case noSuchFile = 2
        case permissionDenied = 3
        case failure = 4
        case badMessage = 5
        case unsupported = 8

        var message: String {
            switch self {
            case .ok: "Success"
            case .endOfFile: "End of file"
            case .noSuchFile: "No such file"
            case .permissionDenied: "Permission denied"
            case .failure: "Failure"
            case .badMessage: "Bad message"
            case .unsupported: "Operation unsupported"
            }
        }
    }

    private enum Handle {
        case upload(path: String, bytes: [UInt8], size: Int)
        case read(path: String, bytes: [UInt8])
        case directory(path: String, listed: Bool)
    }

    let user: String
    let home: String
    private let files: ShellFileSystem
    private var buffer: [UInt8] = []
    private var handles: [UInt32: Handle] = [:]
    private var nextHandle: UInt32 = 0
    /// Files uploaded in this session, so a stat after the upload finds them.
    private var uploaded: [String: Int] = [:]
    /// Upload bytes held in memory across open handles; bounded by `ArtifactStore.maximumSize`.
    private var held = 0
    private var failed = false

    init(user: String, profile: ShellProfile) {
        self.user = user
        self.home = user == "root" ? "/root" : "/home/\(user)"
        self.files = ShellFileSystem(profile: profile, user: user, home: self.home)
    }

    mutating func receive(_ data: [UInt8]) -> Step {
        var step = Step()
        guard !self.failed else { return step }
        self.buffer += data
        while self.buffer.count >= 4 {
            let length = Int(self.buffer.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            guard length >= 5, length <= Self.maximumMessage else {
                self.failed = true
                step.failed = true
                var fields = EventFields()
                fields.add("error", "sftp message of \(length) bytes")
                step.events.append((.clientMalformed, fields))
                return step
            }
            guard self.buffer.count >= 4 + length else { break }
            let message = Array(self.buffer[4..<4 + length])
            self.buffer.removeFirst(4 + length)
            self.handle(message, into: &step)
        }
        return step
    }

    /// The session ended: uploads whose handle was never closed are kept as they are.
    mutating func finish() -> [SSHArtifact] {
        var artifacts: [SSHArtifact] = []
        for id in self.handles.keys.sorted() {
            if case .upload(let path, let bytes, let size) = self.handles[id] {
                artifacts.append(Self.artifact(path, bytes, size: size, complete: false))
            }
        }
        self.handles = [:]
        return artifacts
    }

    // MARK: messages

    private mutating func handle(_ message: [UInt8], into step: inout Step) {
        var reader = SSHReader(message)
        do {
            let type = try reader.byte()
            if type == 1 {
                step.output += Self.version()
                return
            }
            let id = try reader.uint32()
            do {
                step.output += try self.request(type, id: id, &reader, into: &step)
            } catch {
                step.output += Self.status(id, .badMessage)
            }
        } catch {
            step.output += Self.status(0, .badMessage)
        }
    }

    private mutating func request(
        _ type: UInt8,
        id: UInt32,
        _ reader: inout SSHReader,
        into step: inout Step
    ) throws
        -> [UInt8]
    {
        switch type {
        case 3:  // OPEN
            let path = self.resolve(try reader.string(maximum: 4096))
            let flags = try reader.uint32()
            if flags & 0x02 != 0 {  // SSH_FXF_WRITE
                guard !self.files.isDirectory(path) else { return Self.status(id, .failure) }
                return self.open(.upload(path: path, bytes: [], size: 0), id)
            }
            guard let bytes = self.files.bytes(path) else {
                return Self.status(id, self.files.isDirectory(path) ? .failure : .noSuchFile)
            }
            return self.open(.read(path: path, bytes: bytes), id)
        case 4:  // CLOSE
            let handle = try self.handleID(&reader)
            guard let open = self.handles.removeValue(forKey: handle) else { return Self.status(id, .failure) }
            if case .upload(let path, let bytes, let size) = open {
                self.held -= bytes.count
                self.uploaded[path] = size
                step.artifacts.append(Self.artifact(path, bytes, size: size, complete: true))
            }
            return Self.status(id, .ok)
        case 5:  // READ
            let handle = try self.handleID(&reader)
            let offset = try reader.uint64()
            let length = Int(min(try reader.uint32(), UInt32(Self.maximumMessage - 1024)))
            guard case .read(_, let bytes) = self.handles[handle] else { return Self.status(id, .failure) }
            guard offset < UInt64(bytes.count) else { return Self.status(id, .endOfFile) }
            let start = Int(offset)
            var writer = SSHWriter()
            writer.byte(103)
            writer.uint32(id)
            writer.string(Array(bytes[start..<min(bytes.count, start + length)]))
            return Self.framed(writer.bytes)
        case 6:  // WRITE
            let handle = try self.handleID(&reader)
            let offset = try reader.uint64()
            let data = try reader.string(maximum: Self.maximumMessage)
            guard case .upload(let path, var bytes, let size) = self.handles[handle] else {
                return Self.status(id, .failure)
            }
            // The offset is the client's whole 64 bits: past what a file can hold is a failure, as pwrite's EFBIG.
            let (end, beyond) = offset.addingReportingOverflow(UInt64(data.count))
            guard !beyond else { return Self.status(id, .failure) }
            // Bytes past what is kept are counted, not held.
            if end <= UInt64(ArtifactStore.maximumSize),
                self.held + max(0, Int(end) - bytes.count) <= ArtifactStore.maximumSize
            {
                let start = Int(offset)
                if bytes.count < start + data.count {
                    self.held += start + data.count - bytes.count
                    bytes += [UInt8](repeating: 0, count: start + data.count - bytes.count)
                }
                bytes.replaceSubrange(start..<start + data.count, with: data)
            }
            let total = max(size, end > UInt64(Int.max) ? Int.max : Int(end))
            self.handles[handle] = .upload(path: path, bytes: bytes, size: total)
            return Self.status(id, .ok)
        case 7, 17:  // LSTAT, STAT
            let path = self.resolve(try reader.string(maximum: 4096))
            guard let attributes = self.attributes(path) else { return Self.status(id, .noSuchFile) }
            return self.attributesReply(id, attributes)
        case 8:  // FSTAT
            let handle = try self.handleID(&reader)
            let path: String
            switch self.handles[handle] {
            case .upload(let name, _, let size):
                return self.attributesReply(id, Self.fileAttributes(size: size, owner: name.hasPrefix(self.home)))
            case .read(let name, _): path = name
            case .directory(let name, _): path = name
            case nil: return Self.status(id, .failure)
            }
            return self.attributesReply(id, self.attributes(path) ?? Self.fileAttributes(size: 0, owner: false))
        case 9, 10:  // SETSTAT, FSETSTAT: modes and times of uploads are accepted and forgotten.
            return Self.status(id, .ok)
        case 11:  // OPENDIR
            let path = self.resolve(try reader.string(maximum: 4096))
            guard self.files.isDirectory(path) else {
                return Self.status(id, self.files.read(path) == nil ? .noSuchFile : .failure)
            }
            return self.open(.directory(path: path, listed: false), id)
        case 12:  // READDIR
            let handle = try self.handleID(&reader)
            guard case .directory(let path, let listed) = self.handles[handle] else { return Self.status(id, .failure) }
            guard !listed else { return Self.status(id, .endOfFile) }
            self.handles[handle] = .directory(path: path, listed: true)
            return self.listing(id, path)
        case 13, 14, 15, 18:  // REMOVE, MKDIR, RMDIR, RENAME: recorded, then answered as done.
            let path = self.resolve(try reader.string(maximum: 4096))
            let verb = [13: "rm", 14: "mkdir", 15: "rmdir", 18: "rename"][type] ?? "sftp"
            var fields = EventFields()
            fields.add("command", verb)
            var arguments = path
            if type == 18 { arguments += " " + self.resolve(try reader.string(maximum: 4096)) }
            fields.add("args", attackerText: arguments)
            fields.add("channel", "sftp")
            step.events.append((.commandInput, fields))
            if type == 13 { self.uploaded[path] = nil }
            return Self.status(id, .ok)
        case 16:  // REALPATH
            return self.name(id, self.resolve(try reader.string(maximum: 4096)))
        case 19:  // READLINK
            _ = try reader.string(maximum: 4096)
            return Self.status(id, .noSuchFile)
        case 20:  // SYMLINK
            return Self.status(id, .permissionDenied)
        case 200:
            return try self.extended(id, &reader)
        default:
            return Self.status(id, .unsupported)
        }
    }

    /// OpenSSH's extensions that a client asks for.
    private mutating func extended(_ id: UInt32, _ reader: inout SSHReader) throws -> [UInt8] {
        let name = try reader.text(maximum: 256)
        var writer = SSHWriter()
        writer.byte(201)
        writer.uint32(id)
        switch name {
        case "limits@openssh.com":
            writer.uint64(UInt64(Self.maximumMessage))
            writer.uint64(UInt64(Self.maximumMessage - 1024))
            writer.uint64(UInt64(Self.maximumMessage - 1024))
            writer.uint64(1019)
            return Self.framed(writer.bytes)
        case "expand-path@openssh.com":
            var path = try reader.text(maximum: 4096)
            if path == "~" || path.hasPrefix("~/") { path = self.home + path.dropFirst() }
            return self.name(id, self.resolve(Array(path.utf8)))
        case "statvfs@openssh.com", "fstatvfs@openssh.com":
            // A 20 GB ext4 root, as `df` shows.
            for value: UInt64 in [
                4096, 4096, 5_116_564, 3_318_326, 3_318_326, 1_310_720, 1_150_000, 1_150_000, 0x6b12_3c4d, 0, 255,
            ] {
                writer.uint64(value)
            }
            return Self.framed(writer.bytes)
        case "posix-rename@openssh.com", "hardlink@openssh.com", "fsync@openssh.com", "lsetstat@openssh.com":
            return Self.status(id, .ok)
        default:
            return Self.status(id, .unsupported)
        }
    }

    // MARK: replies

    /// VERSION 3 with the extensions OpenSSH 9.2's sftp-server announces.
    private static func version() -> [UInt8] {
        var writer = SSHWriter()
        writer.byte(2)
        writer.uint32(3)
        for (name, value) in [
            ("posix-rename@openssh.com", "1"), ("statvfs@openssh.com", "2"), ("fstatvfs@openssh.com", "2"),
            ("hardlink@openssh.com", "1"), ("fsync@openssh.com", "1"), ("lsetstat@openssh.com", "1"),
            ("limits@openssh.com", "1"), ("expand-path@openssh.com", "1"), ("copy-data", "1"),
        ] {
            writer.string(name)
            writer.string(value)
        }
        return Self.framed(writer.bytes)
    }

    private static func status(_ id: UInt32, _ status: Status) -> [UInt8] {
        var writer = SSHWriter()
        writer.byte(101)
        writer.uint32(id)
        writer.uint32(status.rawValue)
        writer.string(status.message)
        writer.string("")
        return Self.framed(writer.bytes)
    }

    private static func framed(_ message: [UInt8]) -> [UInt8] {
        var writer = SSHWriter()
        writer.string(message)
        return writer.bytes
    }

    private mutating func open(_ handle: Handle, _ id: UInt32) -> [UInt8] {
        guard self.handles.count < Self.maximumHandles else { return Self.status(id, .failure) }
        let number = self.nextHandle
        self.nextHandle &+= 1
        self.handles[number] = handle
        var writer = SSHWriter()
        writer.byte(102)
        writer.uint32(id)
        writer.string(withUnsafeBytes(of: number.bigEndian, Array.init))
        return Self.framed(writer.bytes)
    }

    private func handleID(_ reader: inout SSHReader) throws -> UInt32 {
        let bytes = try reader.string(maximum: 256)
        guard bytes.count == 4 else { return UInt32.max }
        return bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    private func resolve(_ path: [UInt8]) -> String {
        let text = String(decoding: path, as: UTF8.self)
        return FTPFileSystem.resolve(text.isEmpty ? "." : text, from: self.home)
    }

    private struct Attributes {
        var size: Int
        var permissions: UInt32
        var owner: Bool
    }

    private func attributes(_ path: String) -> Attributes? {
        let owner = path == self.home || path.hasPrefix(self.home + "/")
        if self.files.isDirectory(path) { return Attributes(size: 4096, permissions: 0o40755, owner: owner) }
        if let size = self.uploaded[path] ?? self.files.size(path) {
            return Self.fileAttributes(size: size, owner: owner)
        }
        return nil
    }

    private static func fileAttributes(size: Int, owner: Bool) -> Attributes {
        Attributes(size: size, permissions: 0o100644, owner: owner)
    }

    private func write(_ attributes: Attributes, to writer: inout SSHWriter) {
        writer.uint32(0x0F)  // size, uid/gid, permissions, times
        writer.uint64(UInt64(attributes.size))
        let id: UInt32 = attributes.owner && self.user != "root" ? 1000 : 0
        writer.uint32(id)
        writer.uint32(id)
        writer.uint32(attributes.permissions)
        writer.uint32(Self.modified)
        writer.uint32(Self.modified)
    }

    private func attributesReply(_ id: UInt32, _ attributes: Attributes) -> [UInt8] {
        var writer = SSHWriter()
        writer.byte(105)
        writer.uint32(id)
        self.write(attributes, to: &writer)
        return Self.framed(writer.bytes)
    }

    private func name(_ id: UInt32, _ path: String) -> [UInt8] {
        var writer = SSHWriter()
        writer.byte(104)
        writer.uint32(id)
        writer.uint32(1)
        writer.string(path)
        writer.string(path)
        writer.uint32(0)  // no attributes, as sftp-server's realpath
        return Self.framed(writer.bytes)
    }

    /// A directory's entries with `.` and `..`, and `ls -l` long names as sftp-server writes them.
    private func listing(_ id: UInt32, _ path: String) -> [UInt8] {
        var entries = [
            ShellFileSystem.Entry(name: ".", isDirectory: true, size: 4096),
            ShellFileSystem.Entry(name: "..", isDirectory: true, size: 4096),
        ]
        entries += self.files.entries(path) ?? []
        let prefix = path == "/" ? "/" : path + "/"
        for (name, size) in self.uploaded.sorted(by: { $0.key < $1.key }) where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            if !rest.contains("/"), !entries.contains(where: { $0.name == rest }) {
                entries.append(ShellFileSystem.Entry(name: String(rest), isDirectory: false, size: size))
            }
        }
        var writer = SSHWriter()
        writer.byte(104)
        writer.uint32(id)
        writer.uint32(UInt32(entries.count))
        for entry in entries {
            let full = entry.name == "." ? path : entry.name == ".." ? path : prefix + entry.name
            let owner = (full == self.home || full.hasPrefix(self.home + "/")) && self.user != "root"
            let ownerName = owner ? self.user : "root"
            let size = String(entry.size)
            let padding = String(repeating: " ", count: max(0, 8 - size.count))
            let mode = entry.isDirectory ? "drwxr-xr-x" : "-rw-r--r--"
            let paddedOwner = ownerName + String(repeating: " ", count: max(0, 8 - ownerName.count))
            writer.string(entry.name)
            writer.string(
                "\(mode)    \(entry.isDirectory ? 2 : 1) \(paddedOwner) \(paddedOwner) \(padding)\(size) Sep  9  2024 \(entry.name)"
            )
            self.write(
                Attributes(size: entry.size, permissions: entry.isDirectory ? 0o40755 : 0o100644, owner: owner),
                to: &writer
            )
        }
        return Self.framed(writer.bytes)
    }

    static func artifact(_ path: String, _ bytes: [UInt8], size: Int, complete: Bool) -> SSHArtifact {
        var fields = EventFields()
        fields.add("filename", attackerText: path)
        fields.add("channel", "sftp")
        if size != bytes.count { fields.add("received", String(size)) }
        if !complete { fields.add("complete", "false") }
        return SSHArtifact(id: .fileUpload, bytes: bytes, fields: fields)
    }
}

/// The sink side of the legacy scp protocol (`scp -O`, and OpenSSH before 9.0): the client runs `scp -t target`
/// here and sends `C`/`D`/`E`/`T` control lines, each file's bytes, each acknowledged with a zero byte. Every
/// file is kept as an artifact.
struct SCPSink {
    struct Step {
        var output: [UInt8] = []
        var artifacts: [SSHArtifact] = []
        var failed = false
    }

    private enum State {
        case control
        case data(name: String, size: Int, bytes: [UInt8], received: Int)
        /// The file's bytes are in; the client's trailing zero byte comes next.
        case trailer(name: String, size: Int, bytes: [UInt8])
        case failed
    }

    let target: String
    private var directories: [String] = []
    private var buffer: [UInt8] = []
    private var state = State.control

    /// Whether the target names a directory (the file's own name is then appended).
    let targetIsDirectory: Bool

    /// `scp -t [-r] [-p] [-d] [-v] target`; nil for anything else (`-f` is a download).
    init?(arguments: [String], isDirectory: (String) -> Bool) {
        guard arguments.contains("-t"), let target = arguments.last, !target.hasPrefix("-") else { return nil }
        self.target = target
        self.targetIsDirectory = arguments.contains("-d") || target.hasSuffix("/") || isDirectory(target)
    }

    mutating func receive(_ data: [UInt8]) -> Step {
        var step = Step()
        self.buffer += data
        while !self.buffer.isEmpty {
            switch self.state {
            case .failed:
                self.buffer = []
                return step
            case .control:
                guard let newline = self.buffer.firstIndex(of: 0x0A) else {
                    if self.buffer.count > 1024 { self.fail("protocol error: control line too long", &step) }
                    return step
                }
                let line = String(decoding: self.buffer[..<newline], as: UTF8.self)
                self.buffer.removeSubrange(...newline)
                self.control(line, &step)
            case .data(let name, let size, var bytes, let received):
                let count = min(size - received, self.buffer.count)
                if bytes.count < ArtifactStore.maximumSize {
                    bytes += self.buffer.prefix(min(count, ArtifactStore.maximumSize - bytes.count))
                }
                self.buffer.removeFirst(count)
                self.state =
                    received + count == size
                    ? .trailer(name: name, size: size, bytes: bytes)
                    : .data(name: name, size: size, bytes: bytes, received: received + count)
            case .trailer(let name, let size, let bytes):
                self.buffer.removeFirst()
                step.artifacts.append(self.artifact(name, bytes, size: size, complete: true))
                step.output.append(0)
                self.state = .control
            }
        }
        return step
    }

    /// The client went away: a file being received is kept as far as it came.
    mutating func finish() -> [SSHArtifact] {
        defer { self.state = .control }
        switch self.state {
        case .data(let name, _, let bytes, let received):
            return [self.artifact(name, bytes, size: received, complete: false)]
        case .trailer(let name, let size, let bytes): return [self.artifact(name, bytes, size: size, complete: true)]
        default: return []
        }
    }

    private mutating func control(_ line: String, _ step: inout Step) {
        guard let kind = line.first else { return self.fail("protocol error: empty line", &step) }
        switch kind {
        case "C", "D":
            // C0644 <size> <name>
            let parts = line.dropFirst().split(separator: " ", maxSplits: 2)
            guard parts.count == 3, let size = Int(parts[1]), size >= 0, !parts[2].contains("/") || parts[2] == ".."
            else {
                return self.fail("protocol error: bad mode", &step)
            }
            let name = String(parts[2])
            if kind == "D" {
                self.directories.append(name)
                step.output.append(0)
            } else if size == 0 {
                step.output.append(0)
                self.state = .trailer(name: name, size: 0, bytes: [])
            } else {
                step.output.append(0)
                self.state = .data(name: name, size: size, bytes: [], received: 0)
            }
        case "E":
            _ = self.directories.popLast()
            step.output.append(0)
        case "T":
            step.output.append(0)
        case "\u{1}", "\u{2}":
            break
        default:
            self.fail("protocol error: unexpected <\(kind)>", &step)
        }
    }

    private mutating func fail(_ message: String, _ step: inout Step) {
        self.state = .failed
        step.output += Array("\u{1}scp: \(message)\n".utf8)
        step.failed = true
    }

    private func artifact(_ name: String, _ bytes: [UInt8], size: Int, complete: Bool) -> SSHArtifact {
        // `scp file host:/tmp/` names a directory, `scp file host:/tmp/x` the file itself.
        let base =
            self.targetIsDirectory || !self.directories.isEmpty
            ? ([self.target] + self.directories + [name]).joined(separator: "/")
            : self.target
        var fields = EventFields()
        fields.add("filename", attackerText: base.replacingOccurrences(of: "//", with: "/"))
        fields.add("channel", "scp")
        if size != bytes.count { fields.add("received", String(size)) }
        if !complete { fields.add("complete", "false") }
        return SSHArtifact(id: .fileUpload, bytes: bytes, fields: fields)
    }
}
