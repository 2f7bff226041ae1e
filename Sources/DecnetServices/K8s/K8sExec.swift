import DecnetCore
import Foundation

/// A remote command inside a fake container: what it prints and how it ends, without I/O. The container is the
/// pod's (hostname the pod name, the image's distro, the node's kernel); commands run in the fake shell and are
/// recorded, nothing ever runs.
struct K8sExecSession {
    let request: K8sExecRequest
    private var shell: FakeShell
    /// The interactive terminal (`kubectl exec -it … -- sh`).
    private(set) var terminal: TerminalShell?

    static let shells: Set<String> = [
        "sh", "bash", "ash", "dash", "zsh", "/bin/sh", "/bin/bash", "/bin/ash", "/bin/dash", "/usr/bin/bash",
        "/bin/zsh",
    ]

    init(request: K8sExecRequest, profile: ShellProfile) {
        self.request = request
        var profile = profile
        profile.hostname = request.pod
        profile.ip = request.podIP
        if request.image.contains("alpine"), let alpine = DistroCatalogue.profile(for: "alpine") {
            profile.distro = alpine
        }
        self.shell = FakeShell(profile: profile, user: "root")
        if request.tty && (request.stdin || request.attach) {
            self.terminal = TerminalShell(shell: self.shell)
        }
    }

    /// Whether the command is an interactive shell that reads its input (`sh`, `bash -i`, attach).
    var readsInput: Bool {
        guard self.request.stdin else { return false }
        if self.request.attach { return true }
        guard let first = self.request.command.first else { return false }
        return Self.shells.contains(first) && !self.request.command.contains("-c")
    }

    /// A command that runs without input: its output, exit status and recorded commands.
    mutating func run() -> (output: [UInt8], status: K8sExitStatus, events: [(EventID, EventFields)]) {
        let command = self.request.command
        guard let first = command.first else { return ([], .success, []) }
        let line: String
        if Self.shells.contains(first), let flag = command.firstIndex(of: "-c"), flag + 1 < command.count {
            line = command[(flag + 1)...].joined(separator: " ")
        } else if Self.shells.contains(first) {
            return ([], .success, [])
        } else {
            line = command.map(Self.quoted).joined(separator: " ")
            let program = first.split(separator: "/").last.map(String.init) ?? first
            var probe = FakeShell(profile: self.shell.profile, user: "root")
            if probe.execute(program).status == 127 {
                return ([], .notFound(first, exec: self.execID), [])
            }
        }
        return self.script(line)
    }

    /// Runs `text` line by line (a script piped to `sh`, or `sh -c`'s argument).
    mutating func script(_ text: String) -> (output: [UInt8], status: K8sExitStatus, events: [(EventID, EventFields)]) {
        var output = ""
        var status: Int32 = 0
        var events: [(EventID, EventFields)] = []
        for part in text.split(whereSeparator: { $0 == "\n" || $0 == ";" }).map({
            String($0).trimmingCharacters(in: .whitespaces)
        })
        where !part.isEmpty {
            if part == "exit" || part.hasPrefix("exit ") {
                status = Int32(part.dropFirst(4).trimmingCharacters(in: .whitespaces)) ?? status
                break
            }
            let result = self.shell.execute(part)
            output += result.output
            status = result.status
            events += result.events
            if result.exit { break }
        }
        let bytes = Array(output.replacingOccurrences(of: "\r\n", with: "\n").utf8)
        return (bytes, status == 0 ? .success : .exitCode(Int(status & 0xFF), command: self.request.command), events)
    }

    /// The terminal's first prompt.
    mutating func start() -> [UInt8] { self.terminal?.start(banner: false).bytes ?? [] }

    /// Keystrokes into the terminal.
    mutating func type(_ bytes: [UInt8]) -> (output: [UInt8], exit: Bool, events: [(EventID, EventFields)]) {
        guard var terminal = self.terminal else { return ([], false, []) }
        let result = terminal.receive(bytes)
        self.terminal = terminal
        return (result.bytes, result.exit, result.events)
    }

    mutating func resize(width: Int, height: Int) { self.terminal?.resize(width: width, height: height) }

    /// An exec instance id as containerd shows it in errors.
    var execID: String {
        var random = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
    }

    static func quoted(_ word: String) -> String {
        word.isEmpty || word.contains(where: { " \t\"'$`\\;&|<>()".contains($0) })
            ? "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" : word
    }
}

/// How a remote command ended, as the v4/v5 error channel carries it.
enum K8sExitStatus: Equatable, Sendable {
    case success
    case exitCode(Int, command: [String])
    /// The program does not exist in the container (containerd's error).
    case notFound(String, exec: String)

    var code: Int {
        switch self {
        case .success: 0
        case .exitCode(let code, _): code
        case .notFound: 126
        }
    }

    /// What the pre-v4 protocols write on the error channel: a failure's message alone (nothing for success).
    var failureMessage: [UInt8]? {
        guard self != .success, let message = K8sJSON.parse(self.document)?["message"]?.stringValue else { return nil }
        return Array(message.utf8)
    }

    /// The `metav1.Status` the error channel ends with.
    var document: [UInt8] {
        switch self {
        case .success:
            return K8sJSON.object([("metadata", .empty), ("status", "Success")]).encoded.dropLast().map { $0 }
        case .exitCode(let code, let command):
            return K8sJSON.object([
                ("metadata", .empty), ("status", "Failure"),
                (
                    "message",
                    .string(
                        "command terminated with non-zero exit code: error executing command [\(command.joined(separator: " "))], exit code \(code)"
                    )
                ),
                ("reason", "NonZeroExitCode"),
                (
                    "details",
                    .object([
                        ("causes", .array([.object([("reason", "ExitCode"), ("message", .string(String(code)))])]))
                    ])
                ),
            ]).encoded.dropLast().map { $0 }
        case .notFound(let program, let exec):
            let message =
                "Internal error occurred: error executing command in container: failed to exec in container: failed to start exec \"\(exec)\": OCI runtime exec failed: exec failed: unable to start container process: exec: \"\(program)\": executable file not found in $PATH: unknown"
            return K8sJSON.object([
                ("metadata", .empty), ("status", "Failure"), ("message", .string(message)), ("reason", "InternalError"),
                ("details", .object([("causes", .array([.object([("message", .string(message))])]))])), ("code", 500),
            ]).encoded.dropLast().map { $0 }
        }
    }
}
