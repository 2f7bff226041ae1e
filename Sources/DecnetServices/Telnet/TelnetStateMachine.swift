import DecnetCore
import DecnetServiceKit
import Foundation

/// A telnet login (netkit's `in.telnetd` + `login`, or BusyBox's telnetd on embedded deckies) and, after a
/// successful login, the fake shell. Without I/O: telnet messages in, bytes and events out.
struct TelnetStateMachine {
    /// What the connection does with one step's result.
    typealias Action = ProtocolAction

    /// Where the session is.
    private enum Phase {
        /// Options offered; the login prompt goes out at the client's first word.
        case negotiating
        /// Reading the login name.
        case login
        /// Reading the password (no echo) of this user.
        case password(user: String)
        /// Logged in.
        case shell
        /// Over.
        case closed
    }

    let configuration: TelnetService.Configuration
    private var phase = Phase.negotiating
    private var line: [UInt8] = []
    private var previous: UInt8 = 0
    private var failures = 0
    /// The logged-in shell; its recording is kept when the connection ends.
    private(set) var shell: TerminalShell?
    private var terminal: String?
    private let started: ContinuousClock.Instant
    /// inetutils' getterminaltype(): the options whose answers it waits for before anything else (ENCRYPT by
    /// DO/DONT; TTYPE, TSPEED, XDISPLOC, NEW-ENVIRON and OLD-ENVIRON by WILL/WONT), and those the client will do.
    private var awaiting: Set<UInt8> = [38, 24, 32, 35, 39, 36]
    private var clientWill: Set<UInt8> = []

    static let maximumLine = 4096

    init(configuration: TelnetService.Configuration, started: ContinuousClock.Instant = .now) {
        self.configuration = configuration
        self.started = started
    }

    /// What the server sends on connect: netkit asks for terminal type, speed, X display and environment and
    /// waits (the exact bytes nmap knows as "Linux telnetd"); BusyBox negotiates echo and prompts at once.
    mutating func greeting() -> [UInt8] {
        let prompt = Array(self.configuration.loginPrompt.utf8)
        switch self.configuration.dialect {
        case .busybox:
            self.phase = .login
            return [255, 253, 1, 255, 253, 31, 255, 253, 33, 255, 251, 1, 255, 251, 3] + prompt
        case .ios:
            // IOS: will echo, will suppress go-ahead, do terminal type, do window size; then the banner.
            self.phase = .login
            return [255, 251, 1, 255, 251, 3, 255, 253, 24, 255, 253, 31]
                + Array("\r\n\r\nUser Access Verification\r\n".utf8) + prompt
        case .windows:
            // Microsoft Telnet Service: do authentication, will echo, will suppress go-ahead, do new environment,
            // do window size, do and will binary; then its welcome.
            self.phase = .login
            return [255, 253, 37, 255, 251, 1, 255, 251, 3, 255, 253, 39, 255, 253, 31, 255, 253, 0, 255, 251, 0]
                + Array("Welcome to Microsoft Telnet Service \r\n".utf8) + prompt
        case .netkit:
            return [255, 253, 24, 255, 253, 32, 255, 253, 35, 255, 253, 39]
        case .inetutils:
            // WILL AUTHENTICATION, WILL ENCRYPT, then DO TTYPE, TSPEED, XDISPLOC, NEW-ENVIRON, OLD-ENVIRON: what
            // Debian 12's telnetd sends, and nothing more until the client answers an option.
            return [255, 251, 37, 255, 251, 38, 255, 253, 24, 255, 253, 32, 255, 253, 35, 255, 253, 39, 255, 253, 36]
        }
    }

    mutating func received(_ message: TelnetMessage) -> [Action] {
        if case .closed = self.phase { return [] }
        var actions: [Action] = []
        if case .negotiating = self.phase, self.configuration.dialect == .inetutils {
            return self.inetutilsNegotiating(message)
        }
        if case .negotiating = self.phase {
            // The client spoke: finish the option dance (its answer first, as netkit does) and prompt.
            self.phase = .login
            let prompt = Action.send(
                [255, 251, 1, 255, 251, 3, 255, 253, 31]
                    + Array("\r\n\(self.configuration.issue)\(self.configuration.loginPrompt)".utf8)
            )
            if case .data = message {
                actions.append(prompt)
            } else {
                return self.received(message) + [prompt]
            }
        }
        switch message {
        case .negotiation(let command, let option):
            return actions + self.negotiate(command, option)
        case .subnegotiation(let option, let bytes):
            if option == 24, bytes.first == 0 {
                let name = String(decoding: bytes.dropFirst(), as: UTF8.self)
                self.terminal = name
                var fields = EventFields()
                fields.add("terminal", attackerText: name)
                actions.append(.emit(.clientFingerprint, fields))
            }
            return actions
        case .command(let code):
            // Interrupt (IP) or Abort Output: like ^C at a prompt.
            if code == 244 || code == 245 { return actions + self.interrupt() }
            return actions
        case .data(let bytes):
            for (index, byte) in bytes.enumerated() {
                if case .shell = self.phase {
                    // The rest goes to the shell's line discipline.
                    return actions + self.shellInput(bytes.dropFirst(index))
                }
                actions += self.character(byte)
            }
            return actions
        }
    }

    /// inetutils' telnetd before its login prompt (Debian 12's, measured in bench/differential): data gets
    /// nothing, other options their answers at once, and once the six awaited options are answered it asks for
    /// the values the client offered, sets its modes, prints the host line and runs login.
    private mutating func inetutilsNegotiating(_ message: TelnetMessage) -> [Action] {
        switch message {
        case .data, .subnegotiation: return []
        case .command(246): return [.send(Array("\r\n[Yes]\r\n".utf8))]  // Are You There
        case .command: return []
        case .negotiation(let command, let option):
            let answers =
                option == 38
                ? command == TelnetDecoder.do || command == TelnetDecoder.dont
                : command == TelnetDecoder.will || command == TelnetDecoder.wont
            if self.awaiting.contains(option) && answers {
                self.awaiting.remove(option)
                if command == TelnetDecoder.will { self.clientWill.insert(option) }
                return self.awaiting.isEmpty ? self.inetutilsLogin() : []
            }
            if [24, 32, 35, 36, 37, 38, 39].contains(option) { return [] }
            return self.inetutilsOption(command, option)
        }
    }

    /// The answers of inetutils' option table to options outside the awaited six (measured one by one).
    private func inetutilsOption(_ command: UInt8, _ option: UInt8) -> [Action] {
        switch (command, option) {
        case (TelnetDecoder.will, 0), (TelnetDecoder.will, 3), (TelnetDecoder.will, 31), (TelnetDecoder.will, 33):
            return [.send([255, 253, option])]  // DO
        case (TelnetDecoder.do, 0), (TelnetDecoder.do, 1), (TelnetDecoder.do, 3), (TelnetDecoder.do, 5),
            (TelnetDecoder.do, 6):
            return [.send([255, 251, option])]  // WILL
        case (TelnetDecoder.will, 1): return [.send([255, 254, 1])]  // DONT ECHO
        case (TelnetDecoder.will, 6): return []
        case (TelnetDecoder.will, 34): return [.send([255, 253, 34, 255, 250, 34, 1, 0x10, 255, 240, 0])]
        case (TelnetDecoder.will, _): return [.send([255, 254, option])]
        case (TelnetDecoder.do, _): return [.send([255, 252, option])]
        default: return []
        }
    }

    /// After the six answers: SB SEND for each value offered (TSPEED, XDISPLOC, NEW-ENVIRON or else OLD-ENVIRON,
    /// TTYPE), its modes (WILL SGA, DO ECHO, DO LINEMODE, DO NAWS, WILL STATUS, DO LFLOW, WILL ECHO, DO
    /// TIMING-MARK), the host line (`Linux <release> (<host>) (pts/0)`) and login's prompt. inetutils prints no
    /// /etc/issue.net.
    private mutating func inetutilsLogin() -> [Action] {
        self.phase = .login
        var bytes: [UInt8] = []
        var asked: [UInt8] = [32, 35]
        asked.append(self.clientWill.contains(39) ? 39 : 36)
        asked.append(24)
        for option in asked where self.clientWill.contains(option) { bytes += [255, 250, option, 1, 255, 240] }
        bytes += [
            255, 251, 3, 255, 253, 1, 255, 253, 34, 255, 253, 31, 255, 251, 5, 255, 253, 33, 255, 251, 1, 255, 253, 6,
        ]
        let profile = self.configuration.profile
        bytes += Array(
            "\r\nLinux \(profile.kernel) (\(profile.hostname)) (pts/0)\r\n\r\n\(profile.hostname) login: ".utf8
        )
        return [.send(bytes)]
    }

    /// Answers option offers: agree to what was asked for, refuse the rest (never answer a refusal, so
    /// negotiation cannot loop).
    private mutating func negotiate(_ command: UInt8, _ option: UInt8) -> [Action] {
        switch command {
        case TelnetDecoder.will where option == 24:
            return [.send([255, 250, 24, 1, 255, 240])]  // SB TTYPE SEND
        case TelnetDecoder.will where [31, 32, 35, 39, 33, 36].contains(option):
            return []
        case TelnetDecoder.will where option == 0 && self.configuration.dialect == .inetutils:
            return [.send([255, 253, 0])]  // DO BINARY, as inetutils agrees to it
        case TelnetDecoder.do where option == 0 && self.configuration.dialect == .inetutils:
            return [.send([255, 251, 0])]  // WILL BINARY
        case TelnetDecoder.will:
            return [.send([255, 254, option])]
        case TelnetDecoder.do where option == 1 || option == 3:
            return []
        case TelnetDecoder.do:
            return [.send([255, 252, option])]
        default:
            return []
        }
    }

    private mutating func character(_ byte: UInt8) -> [Action] {
        defer { self.previous = byte }
        let echo: Bool = {
            if case .password = self.phase { return false }
            return true
        }()
        switch byte {
        case 0x0D:
            return self.endOfLine()
        case 0x0A, 0x00:
            return self.previous == 0x0D ? [] : self.endOfLine()
        case 0x7F, 0x08:
            guard !self.line.isEmpty else { return [] }
            self.line.removeLast()
            return echo ? [.send([0x08, 0x20, 0x08])] : []
        case 0x03:
            return self.interrupt()
        case 0x04:
            return []
        default:
            guard self.line.count < Self.maximumLine else { return [] }
            self.line.append(byte)
            return echo && byte >= 0x20 ? [.send([byte])] : []
        }
    }

    private mutating func interrupt() -> [Action] {
        self.line = []
        guard case .shell = self.phase, var shell = self.shell else { return [] }
        defer { self.shell = shell }
        return self.actions(shell.interrupt())
    }

    private mutating func shellInput(_ bytes: some Sequence<UInt8>) -> [Action] {
        guard var shell = self.shell else { return [] }
        defer { self.shell = shell }
        return self.actions(shell.receive(bytes))
    }

    private mutating func actions(_ output: TerminalShell.Output) -> [Action] {
        var actions: [Action] = output.events.map { .emit($0.0, $0.1) }
        if !output.bytes.isEmpty { actions.append(.send(output.bytes)) }
        if output.exit {
            self.phase = .closed
            actions.append(.close)
        }
        return actions
    }

    private mutating func endOfLine() -> [Action] {
        let bytes = self.line
        self.line = []
        let text = String(decoding: bytes, as: UTF8.self)
        switch self.phase {
        case .negotiating, .login:
            if text.isEmpty { return [.send(Array(self.configuration.loginPrompt.utf8))] }
            self.phase = .password(user: text)
            return [.send(Array(self.configuration.passwordPrompt.utf8))]
        case .password(let user):
            var fields = EventFields()
            fields.add("username", attackerText: user)
            fields.add("password", attackerBytes: bytes, secret: true)
            fields.add("method", "login")
            guard self.configuration.users.accepts(user: user, password: text) else {
                self.failures += 1
                if self.failures >= 3 {
                    self.phase = .closed
                    return [
                        .emit(.loginFailed, fields), .send(Array((self.configuration.failure + "\r\n").utf8)), .close,
                    ]
                }
                self.phase = .login
                // login(1) under inetutils: the newline at once, then its failure delay before the verdict.
                let pause: [Action] =
                    self.configuration.dialect == .inetutils ? [.send([13, 10]), .delay(.milliseconds(2400))] : []
                return [.emit(.loginFailed, fields)] + pause + [
                    .send(Array((self.configuration.failure + self.configuration.loginPrompt).utf8))
                ]
            }
            var shell = TerminalShell(
                shell: FakeShell(profile: self.configuration.profile, user: user),
                terminal: self.terminal ?? "xterm",
                started: self.started
            )
            let greeting = shell.start()
            self.shell = shell
            self.phase = .shell
            return [.emit(.loginSuccess, fields), .send(Array("\r\n".utf8) + greeting.bytes)]
        case .shell:
            return []
        case .closed:
            return []
        }
    }
}

extension String {
    /// `\n` as `\r\n`, as a terminal on the wire expects.
    var crlf: String {
        var output = ""
        output.reserveCapacity(self.utf8.count + 16)
        var last: Character = " "
        for character in self {
            if character == "\n" && last != "\r" { output.append("\r") }
            output.append(character)
            last = character
        }
        return output
    }
}
