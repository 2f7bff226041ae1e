import DecnetCore
import DecnetServiceKit

/// Something a session produced that is kept as an artifact: an upload (`file.upload`) or a shell session's
/// recording (`session.recorded`).
struct SSHArtifact: Equatable {
    var id: EventID
    var bytes: [UInt8]
    var fields: EventFields
}

/// The SSH connection protocol (RFC 4254) after a successful login, as OpenSSH's sshd answers it with
/// forwarding disabled: session channels with pty-req, env, shell, exec, subsystem sftp and window-change; the
/// legacy scp sink behind `exec scp -t`; port forwarding (direct-tcpip, tcpip-forward) recorded and refused with
/// sshd's "administratively prohibited: open failed". Payloads in, payloads out; the transport protects them.
struct SSHConnection {
    enum Action: Equatable {
        /// A payload for the transport to send.
        case send([UInt8])
        case emit(EventID, EventFields)
        case keep(SSHArtifact)
    }

    /// sshd's session channel window and packet size (CHAN_SES_WINDOW_DEFAULT, CHAN_SES_PACKET_DEFAULT).
    static let window: UInt32 = 2 * 1024 * 1024
    static let maximumPacket = 32 * 1024
    /// sshd's MaxSessions default.
    static let maximumChannels = 10
    /// Output held back for a client that does not open its window; past this the channel is closed.
    static let maximumPending = 1 << 20

    private enum Program {
        case none
        case shell(TerminalShell)
        /// A shell without a terminal (`ssh -T`, a pipe): lines from stdin, no prompt, no echo.
        case pipe(FakeShell, [UInt8])
        case sftp(SFTPServer)
        case scp(SCPSink)
        case finished
    }

    private struct Channel {
        let remote: UInt32
        var remoteWindow: UInt64
        let remotePacket: Int
        var received: UInt32 = 0
        var unadjusted: UInt32 = 0
        var terminal: (type: String, width: Int, height: Int)?
        var environment: [String] = []
        var program = Program.none
        var pending: [UInt8] = []
        /// The exit status to send once the pending output is out; then EOF and CLOSE.
        var exitStatus: Int32?
        var sentClose = false
    }

    let profile: ShellProfile
    let user: String
    /// Whether the client is OpenSSH (it gets sshd's `eow@openssh.com` before EOF).
    let clientIsOpenSSH: Bool
    let started: ContinuousClock.Instant
    private var channels: [UInt32: Channel] = [:]
    private var nextChannel: UInt32 = 0

    init(profile: ShellProfile, user: String, clientIsOpenSSH: Bool, started: ContinuousClock.Instant = .now) {
        self.profile = profile
        self.user = user
        self.clientIsOpenSSH = clientIsOpenSSH
        self.started = started
    }

    /// One connection-protocol message (numbers 80 to 100).
    mutating func receive(_ payload: [UInt8]) throws -> [Action] {
        var reader = SSHReader(payload)
        switch try reader.byte() {
        case 80: return try self.globalRequest(&reader)
        case 90: return try self.open(&reader)
        case 93:
            let id = try reader.uint32()
            let adjust = UInt64(try reader.uint32())
            guard var channel = self.channels[id] else { return [] }
            // sshd treats a window past 2^32 - 1 as a protocol error.
            guard channel.remoteWindow + adjust <= UInt64(UInt32.max) else {
                throw SSHWire.ProtocolError("channel \(id): window adjust \(adjust) overflows the window")
            }
            channel.remoteWindow += adjust
            self.channels[id] = channel
            return self.flush(id)
        case 94, 95:
            let extended = payload[0] == 95
            let id = try reader.uint32()
            if extended { _ = try reader.uint32() }
            let data = try reader.string(maximum: 1 << 20)
            return try self.data(data, channel: id, extended: extended)
        case 96:
            return self.endOfInput(try reader.uint32())
        case 97:
            return self.closed(try reader.uint32())
        case 98:
            return try self.request(&reader)
        case 81, 82, 99, 100:
            // Answers to requests the server never makes.
            return []
        default:
            throw SSHWire.ProtocolError("unexpected message \(payload[0])")
        }
    }

    /// The connection ended: recordings of shells still open are kept.
    mutating func finish() -> [Action] {
        var actions: [Action] = []
        for id in self.channels.keys.sorted() {
            actions += self.keepRecording(id)
        }
        self.channels = [:]
        return actions
    }

    // MARK: global requests and channel opens

    private mutating func globalRequest(_ reader: inout SSHReader) throws -> [Action] {
        let name = try reader.text(maximum: 256)
        let wantReply = try reader.bool()
        var actions: [Action] = []
        if name == "tcpip-forward" || name == "cancel-tcpip-forward" || name == "streamlocal-forward@openssh.com" {
            let address = try reader.text(maximum: 1024)
            let port = name == "streamlocal-forward@openssh.com" ? nil : try reader.uint32()
            var fields = EventFields()
            fields.add("command", name)
            fields.add("args", attackerText: port.map { "\(address):\($0)" } ?? address)
            actions.append(.emit(.commandInput, fields))
        }
        // sshd answers every global request it does not honour with REQUEST_FAILURE.
        if wantReply { actions.append(.send([82])) }
        return actions
    }

    private mutating func open(_ reader: inout SSHReader) throws -> [Action] {
        let type = try reader.text(maximum: 256)
        let sender = try reader.uint32()
        let window = try reader.uint32()
        let packet = try reader.uint32()
        var actions: [Action] = []
        if type == "direct-tcpip" || type == "direct-streamlocal@openssh.com" {
            // Proxy abuse: where the client wanted to go through this host.
            let host = try reader.text(maximum: 1024)
            var fields = EventFields()
            fields.add("command", type)
            if type == "direct-tcpip" {
                let port = try reader.uint32()
                let originator = try reader.text(maximum: 256)
                let originatorPort = try reader.uint32()
                fields.add("args", attackerText: "\(host):\(port)")
                fields.add("originator", attackerText: "\(originator):\(originatorPort)")
            } else {
                fields.add("args", attackerText: host)
            }
            actions.append(.emit(.commandInput, fields))
        }
        guard type == "session", self.channels.count < Self.maximumChannels else {
            // SSH2_OPEN_ADMINISTRATIVELY_PROHIBITED, "open failed": what sshd says with forwarding disabled.
            var writer = SSHWriter()
            writer.byte(92)
            writer.uint32(sender)
            writer.uint32(1)
            writer.string("open failed")
            writer.string("")
            return actions + [.send(writer.bytes)]
        }
        let id = self.nextChannel
        self.nextChannel &+= 1
        self.channels[id] = Channel(
            remote: sender,
            remoteWindow: UInt64(window),
            remotePacket: max(1, min(Int(packet), Self.maximumPacket))
        )
        var writer = SSHWriter()
        writer.byte(91)
        writer.uint32(sender)
        writer.uint32(id)
        writer.uint32(Self.window)
        writer.uint32(UInt32(Self.maximumPacket))
        return actions + [.send(writer.bytes)]
    }

    // MARK: channel requests

    private mutating func request(_ reader: inout SSHReader) throws -> [Action] {
        let id = try reader.uint32()
        let type = try reader.text(maximum: 256)
        let wantReply = try reader.bool()
        guard var channel = self.channels[id] else { return [] }
        var succeeded = false
        var actions: [Action] = []
        var start: Start?
        let idle: Bool = {
            if case .none = channel.program { return true }
            return false
        }()
        switch type {
        case "pty-req" where idle:
            let term = try reader.text(maximum: 256)
            let width = Int(try reader.uint32())
            let height = Int(try reader.uint32())
            channel.terminal = (term, width, height)
            succeeded = true
        case "env" where idle:
            let name = try reader.string(maximum: 1024)
            let value = try reader.string(maximum: 8192)
            if channel.environment.count < 64 {
                channel.environment.append(String(decoding: name + [UInt8(ascii: "=")] + value, as: UTF8.self))
            }
            // Debian's sshd_config: AcceptEnv LANG LC_*.
            let text = String(decoding: name, as: UTF8.self)
            succeeded = text == "LANG" || text.hasPrefix("LC_")
        case "window-change":
            let width = Int(try reader.uint32())
            let height = Int(try reader.uint32())
            if let terminal = channel.terminal { channel.terminal = (terminal.type, width, height) }
            if case .shell(var shell) = channel.program {
                shell.resize(width: width, height: height)
                channel.program = .shell(shell)
            }
            succeeded = true
        case "shell" where idle:
            succeeded = true
            start = .shell
        case "exec" where idle:
            let command = String(decoding: try reader.string(maximum: 256 * 1024), as: UTF8.self)
            succeeded = true
            start = .exec(command)
        case "subsystem" where idle:
            let name = try reader.text(maximum: 256)
            succeeded = name == "sftp"
            start = succeeded ? .sftp : nil
        default:
            break
        }
        self.channels[id] = channel
        if wantReply {
            var writer = SSHWriter()
            writer.byte(succeeded ? 99 : 100)
            writer.uint32(channel.remote)
            actions.append(.send(writer.bytes))
        }
        switch start {
        case .shell: actions += self.startShell(id)
        case .exec(let command): actions += self.exec(command, channel: id)
        case .sftp:
            let server = SFTPServer(user: self.user, profile: self.profile)
            self.channels[id]?.program = .sftp(server)
            actions += self.describe(id, program: "sftp")
        case nil: break
        }
        return actions
    }

    private enum Start {
        case shell
        case exec(String)
        case sftp
    }

    /// What the client asked of the session before it started: terminal, size, environment.
    private func describe(_ id: UInt32, program: String) -> [Action] {
        guard let channel = self.channels[id] else { return [] }
        var fields = EventFields()
        fields.add("client", "ssh session")
        fields.add("program", program)
        if let terminal = channel.terminal {
            fields.add("terminal", attackerText: terminal.type)
            fields.add("window", "\(terminal.width)x\(terminal.height)")
        }
        if !channel.environment.isEmpty {
            fields.add("environment", attackerText: channel.environment.joined(separator: " "))
        }
        return [.emit(.clientFingerprint, fields)]
    }

    private func makeShell() -> FakeShell { FakeShell(profile: self.profile, user: self.user) }

    private mutating func startShell(_ id: UInt32) -> [Action] {
        guard let channel = self.channels[id] else { return [] }
        var actions = self.describe(id, program: "shell")
        guard let terminal = channel.terminal else {
            let shell = self.makeShell()
            self.channels[id]?.program = .pipe(shell, [])
            return actions
        }
        var shell = TerminalShell(
            shell: self.makeShell(),
            width: terminal.width,
            height: terminal.height,
            terminal: terminal.type,
            started: self.started
        )
        let greeting = shell.start()
        self.channels[id]?.program = .shell(shell)
        actions += self.write(greeting.bytes, to: id)
        return actions
    }

    private mutating func exec(_ command: String, channel id: UInt32) -> [Action] {
        var actions = self.describe(id, program: "exec")
        let words = FakeShell.words(command)
        if words.first == "scp" || words.first == "/usr/bin/scp" {
            var fields = EventFields()
            fields.add("command", "scp")
            fields.add("args", attackerText: words.dropFirst().joined(separator: " "))
            actions.append(.emit(.commandInput, fields))
            let home = self.user == "root" ? "/root" : "/home/\(self.user)"
            let files = ShellFileSystem(profile: self.profile, user: self.user, home: home)
            let isDirectory = { files.isDirectory(FTPFileSystem.resolve($0, from: home)) }
            if let sink = SCPSink(arguments: Array(words.dropFirst()), isDirectory: isDirectory) {
                self.channels[id]?.program = .scp(sink)
                return actions + self.write([0], to: id)
            }
            // `scp -f`: a download from here; nothing by that name.
            let path = words.last ?? ""
            return actions + self.write(Array("\u{1}scp: \(path): No such file or directory\n".utf8), to: id)
                + self.exit(id, status: 1)
        }
        var shell = TerminalShell(
            shell: self.makeShell(),
            translateNewlines: self.channels[id]?.terminal != nil,
            started: self.started
        )
        let output = shell.run(command)
        actions += output.events.map { .emit($0.0, $0.1) }
        actions += self.write(output.bytes, to: id)
        return actions + self.exit(id, status: output.status)
    }

    // MARK: data

    private mutating func data(_ data: [UInt8], channel id: UInt32, extended: Bool) throws -> [Action] {
        guard var channel = self.channels[id] else { return [] }
        guard UInt64(channel.received) + UInt64(data.count) <= UInt64(Self.window) else {
            throw SSHWire.ProtocolError("channel \(id): the client sent past its window")
        }
        channel.received += UInt32(data.count)
        channel.unadjusted += UInt32(data.count)
        var actions: [Action] = []
        // Open the window again once half of it is used, as sshd does.
        if channel.unadjusted >= Self.window / 2 {
            var writer = SSHWriter()
            writer.byte(93)
            writer.uint32(channel.remote)
            writer.uint32(channel.unadjusted)
            actions.append(.send(writer.bytes))
            channel.received -= channel.unadjusted
            channel.unadjusted = 0
        }
        self.channels[id] = channel
        guard !extended else { return actions }
        switch channel.program {
        case .shell(var shell):
            let output = shell.receive(data)
            self.channels[id]?.program = .shell(shell)
            actions += output.events.map { .emit($0.0, $0.1) }
            actions += self.write(output.bytes, to: id)
            if output.exit { actions += self.exit(id, status: 0) }
        case .pipe(var shell, var buffer):
            buffer += data
            var output: [UInt8] = []
            while let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                let result = shell.execute(line)
                actions += result.events.map { .emit($0.0, $0.1) }
                output += Array(result.output.utf8)
                if result.exit {
                    self.channels[id]?.program = .finished
                    return actions + self.write(output, to: id) + self.exit(id, status: 0)
                }
            }
            if buffer.count > TerminalShell.maximumLine { buffer.removeAll() }
            self.channels[id]?.program = .pipe(shell, buffer)
            actions += self.write(output, to: id)
        case .sftp(var server):
            let step = server.receive(data)
            self.channels[id]?.program = .sftp(server)
            actions += step.events.map { .emit($0.0, $0.1) } + step.artifacts.map { .keep($0) }
            actions += self.write(step.output, to: id)
            if step.failed { actions += self.exit(id, status: 1) }
        case .scp(var sink):
            let step = sink.receive(data)
            self.channels[id]?.program = .scp(sink)
            actions += step.artifacts.map { .keep($0) }
            actions += self.write(step.output, to: id)
            if step.failed { actions += self.exit(id, status: 1) }
        case .none, .finished:
            break
        }
        return actions
    }

    /// The client will send no more: a shell reading stdin ends, an upload is complete.
    private mutating func endOfInput(_ id: UInt32) -> [Action] {
        guard let channel = self.channels[id], channel.exitStatus == nil else { return [] }
        switch channel.program {
        case .pipe(var shell, let buffer):
            var actions: [Action] = []
            if !buffer.isEmpty {
                let result = shell.execute(String(decoding: buffer, as: UTF8.self))
                actions += result.events.map { .emit($0.0, $0.1) }
                actions += self.write(Array(result.output.utf8), to: id)
            }
            self.channels[id]?.program = .finished
            return actions + self.exit(id, status: 0)
        case .scp(var sink):
            let artifacts = sink.finish()
            self.channels[id]?.program = .finished
            return artifacts.map { .keep($0) } + self.exit(id, status: 0)
        case .sftp(var server):
            let artifacts = server.finish()
            self.channels[id]?.program = .finished
            return artifacts.map { .keep($0) } + self.exit(id, status: 0)
        case .shell:
            return self.exit(id, status: 0)
        case .none, .finished:
            return []
        }
    }

    private mutating func closed(_ id: UInt32) -> [Action] {
        guard let channel = self.channels[id] else { return [] }
        var actions = self.keepRecording(id)
        switch channel.program {
        case .scp(var sink): actions += sink.finish().map { .keep($0) }
        case .sftp(var server): actions += server.finish().map { .keep($0) }
        default: break
        }
        if !channel.sentClose {
            var writer = SSHWriter()
            writer.byte(97)
            writer.uint32(channel.remote)
            actions.append(.send(writer.bytes))
        }
        self.channels[id] = nil
        return actions
    }

    private mutating func keepRecording(_ id: UInt32) -> [Action] {
        guard case .shell(let shell) = self.channels[id]?.program, !shell.recording.isEmpty else { return [] }
        self.channels[id]?.program = .finished
        let recording = shell.recording
        var fields = EventFields()
        fields.add("format", SessionRecording.format)
        let components = recording.duration.components
        fields.add("duration_ms", String(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000))
        fields.add("inputs", String(recording.inputs))
        return [.keep(SSHArtifact(id: .sessionRecorded, bytes: recording.bytes, fields: fields))]
    }

    // MARK: output

    /// Queues output on a channel and sends what its window allows.
    private mutating func write(_ bytes: [UInt8], to id: UInt32) -> [Action] {
        guard !bytes.isEmpty, var channel = self.channels[id], !channel.sentClose, channel.exitStatus == nil
        else { return [] }
        channel.pending += bytes
        if channel.pending.count > Self.maximumPending {
            channel.pending = []
            self.channels[id] = channel
            return self.exit(id, status: 1)
        }
        self.channels[id] = channel
        return self.flush(id)
    }

    /// Ends the program on a channel: once its output is out, exit-status, eow@openssh.com, EOF and CLOSE (the
    /// order sshd sends them in).
    private mutating func exit(_ id: UInt32, status: Int32) -> [Action] {
        guard var channel = self.channels[id], channel.exitStatus == nil else { return [] }
        channel.exitStatus = status
        self.channels[id] = channel
        var actions = self.keepRecording(id)
        self.channels[id]?.program = .finished
        actions += self.flush(id)
        return actions
    }

    private mutating func flush(_ id: UInt32) -> [Action] {
        guard var channel = self.channels[id], !channel.sentClose else { return [] }
        var actions: [Action] = []
        var offset = 0
        while offset < channel.pending.count, channel.remoteWindow > 0 {
            let size = min(channel.pending.count - offset, channel.remotePacket, Int(channel.remoteWindow))
            var writer = SSHWriter()
            writer.byte(94)
            writer.uint32(channel.remote)
            writer.string(Array(channel.pending[offset..<offset + size]))
            actions.append(.send(writer.bytes))
            offset += size
            channel.remoteWindow -= UInt64(size)
        }
        channel.pending.removeFirst(offset)
        if channel.pending.isEmpty, let status = channel.exitStatus {
            var request = SSHWriter()
            request.byte(98)
            request.uint32(channel.remote)
            request.string("exit-status")
            request.bool(false)
            request.uint32(UInt32(bitPattern: status))
            actions.append(.send(request.bytes))
            if self.clientIsOpenSSH {
                var endOfWrite = SSHWriter()
                endOfWrite.byte(98)
                endOfWrite.uint32(channel.remote)
                endOfWrite.string("eow@openssh.com")
                endOfWrite.bool(false)
                actions.append(.send(endOfWrite.bytes))
            }
            var eof = SSHWriter()
            eof.byte(96)
            eof.uint32(channel.remote)
            actions.append(.send(eof.bytes))
            var close = SSHWriter()
            close.byte(97)
            close.uint32(channel.remote)
            actions.append(.send(close.bytes))
            channel.sentClose = true
        }
        self.channels[id] = channel
        return actions
    }
}
