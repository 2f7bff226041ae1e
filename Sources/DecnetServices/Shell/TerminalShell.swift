import DecnetCore
import DecnetServiceKit
import Foundation

/// The fake shell behind a terminal, for telnet and for an SSH session with a pty: what the tty's line
/// discipline does (echo, erase, `^C`, `^D`, `\n` out as `\r\n`), every command line recorded with its time since
/// login (for keystroke timing), and the whole session kept as a recording that replays.
struct TerminalShell {
    /// The result of some input.
    struct Output {
        var bytes: [UInt8] = []
        var events: [(EventID, EventFields)] = []
        /// The shell ended (`exit`, `logout`, `^D`); the connection closes after sending `bytes`.
        var exit = false
        /// The exit status of the last command.
        var status: Int32 = 0
    }

    static let maximumLine = 4096

    private(set) var shell: FakeShell
    private(set) var recording: SessionRecording
    /// Whether `\n` goes out as `\r\n` (a tty's ONLCR); true for a terminal.
    let translateNewlines: Bool
    private let started: ContinuousClock.Instant
    private var line: [UInt8] = []
    private var previous: UInt8 = 0
    /// Inside an escape sequence (arrow keys and the like), which a line editor swallows.
    private var escape = EscapeState.none
    /// Keystroke timing of the line being typed: when each read that added to it arrived (a person's keys come
    /// one read each; a paste, one read for the lot), and how many characters were erased.
    private var keyTimes: [Duration] = []
    private var readTime: Duration?
    private var corrections = 0
    /// Gaps kept per line (a longer line keeps its first ones).
    static let maximumKeyGaps = 128

    private enum EscapeState {
        case none
        case escape
        case sequence
    }

    init(
        shell: FakeShell,
        width: Int = 80,
        height: Int = 24,
        terminal: String = "xterm",
        translateNewlines: Bool = true,
        started: ContinuousClock.Instant = .now
    ) {
        self.shell = shell
        self.translateNewlines = translateNewlines
        self.started = started
        self.recording = SessionRecording(width: width, height: height, terminal: terminal)
    }

    /// The banner and the first prompt.
    mutating func start(banner: Bool = true) -> Output {
        self.send((banner ? self.shell.banner : "") + self.shell.prompt)
    }

    /// Keystrokes from the client.
    mutating func receive(_ bytes: some Sequence<UInt8>) -> Output {
        var output = Output()
        self.readTime = self.elapsed
        for byte in bytes {
            let step = self.character(byte)
            output.bytes += step.bytes
            output.events += step.events
            if step.exit {
                output.exit = true
                break
            }
        }
        return output
    }

    /// `^C` at the prompt: the line is dropped and a new prompt shown.
    mutating func interrupt() -> Output {
        self.line = []
        return self.send("^C\n" + self.shell.prompt)
    }

    /// Runs `command` with no terminal (`ssh host 'cmd'`): output as is, no prompt.
    mutating func run(_ command: String) -> Output {
        self.recording.input(command, at: self.elapsed)
        self.shell.timestamp = Self.timestamp(Date())
        var result = self.shell.execute(command)
        self.stamp(&result.events)
        var output = self.send(result.output)
        output.events = result.events
        output.exit = true
        output.status = result.status
        return output
    }

    /// The terminal was resized.
    mutating func resize(width: Int, height: Int) {
        self.recording.resize(width: width, height: height, at: self.elapsed)
    }

    private var elapsed: Duration { ContinuousClock.now - self.started }

    private mutating func character(_ byte: UInt8) -> Output {
        defer { self.previous = byte }
        switch self.escape {
        case .escape:
            self.escape = byte == UInt8(ascii: "[") || byte == UInt8(ascii: "O") ? .sequence : .none
            return Output()
        case .sequence:
            if (0x40...0x7E).contains(byte) { self.escape = .none }
            return Output()
        case .none:
            break
        }
        switch byte {
        case 0x0D:
            return self.endOfLine()
        case 0x0A, 0x00:
            return self.previous == 0x0D ? Output() : self.endOfLine()
        case 0x7F, 0x08:
            guard !self.line.isEmpty else { return Output() }
            self.line.removeLast()
            self.corrections += 1
            return self.send([0x08, 0x20, 0x08])
        case 0x03:
            return self.interrupt()
        case 0x04:
            guard self.line.isEmpty else { return Output() }
            var output = self.send("logout\n")
            output.exit = true
            return output
        case 0x15:  // ^U: erase the line
            let erase = Array(repeating: [UInt8]([0x08, 0x20, 0x08]), count: self.line.count).flatMap { $0 }
            self.line = []
            return self.send(erase)
        case 0x1B:
            self.escape = .escape
            return Output()
        case 0x09:
            return Output()
        default:
            guard self.line.count < Self.maximumLine, byte >= 0x20 else { return Output() }
            self.line.append(byte)
            if let time = self.readTime {
                self.keyTimes.append(time)
                self.readTime = nil
            }
            return self.send([byte])
        }
    }

    private mutating func endOfLine() -> Output {
        let text = String(decoding: self.line, as: UTF8.self)
        self.line = []
        defer {
            self.keyTimes = []
            self.corrections = 0
        }
        self.recording.input(text + "\r", at: self.elapsed)
        self.shell.timestamp = Self.timestamp(Date())
        var result = self.shell.execute(text)
        self.stamp(&result.events)
        if result.exit {
            var output = self.send("\nlogout\n")
            output.events = result.events
            output.exit = true
            return output
        }
        var output = self.send("\n" + result.output + self.shell.prompt)
        output.events = result.events
        return output
    }

    /// Adds the time since login to each recorded command.
    private func stamp(_ events: inout [(EventID, EventFields)]) {
        let elapsed = self.elapsed.components
        let milliseconds = elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
        // A typed line: `keystrokes` reads, `keystroke_ms` the gaps between them, `corrections` erased characters.
        var gaps: [String] = []
        for (earlier, later) in zip(self.keyTimes, self.keyTimes.dropFirst()).prefix(Self.maximumKeyGaps) {
            let gap = (later - earlier).components
            gaps.append(String(gap.seconds * 1000 + gap.attoseconds / 1_000_000_000_000_000))
        }
        for index in events.indices where events[index].0 == .commandInput {
            events[index].1.add("elapsed_ms", String(milliseconds))
            guard !self.keyTimes.isEmpty else { continue }
            events[index].1.add("keystrokes", String(self.keyTimes.count))
            events[index].1.add("keystroke_ms", gaps.joined(separator: ","))
            if self.corrections > 0 { events[index].1.add("corrections", String(self.corrections)) }
        }
    }

    private mutating func send(_ text: String) -> Output {
        self.send(Array((self.translateNewlines ? text.crlf : text).utf8))
    }

    private mutating func send(_ bytes: [UInt8]) -> Output {
        self.recording.output(bytes, at: self.elapsed)
        return Output(bytes: bytes)
    }

    /// `2026-11-21 13:05:24`, as wget prints the time.
    static func timestamp(_ date: Date) -> String { PosixDate.string(date, format: "yyyy-MM-dd HH:mm:ss") }
}

/// A terminal session as an asciicast v2 recording (the format `asciinema play` replays): a JSON header, then
/// one `[seconds, "o"|"i"|"r", data]` line per output, input or resize. Bounded: past `maximumSize` the rest
/// is dropped and the header says so.
struct SessionRecording {
    static let maximumSize = 1 << 20
    static let format = "asciicast-v2"

    let width: Int
    let height: Int
    let terminal: String
    let timestamp = Int(Date().timeIntervalSince1970)
    private(set) var lines: [UInt8] = []
    private(set) var truncated = false
    private(set) var duration: Duration = .zero
    private(set) var inputs = 0

    init(width: Int, height: Int, terminal: String) {
        self.width = max(1, min(width, 1000))
        self.height = max(1, min(height, 1000))
        self.terminal = terminal
    }

    var isEmpty: Bool { self.inputs == 0 }

    mutating func output(_ bytes: [UInt8], at time: Duration) {
        self.append(time, "o", String(decoding: bytes, as: UTF8.self))
    }

    mutating func input(_ text: String, at time: Duration) {
        self.inputs += 1
        self.append(time, "i", text)
    }

    mutating func resize(width: Int, height: Int, at time: Duration) {
        self.append(time, "r", "\(width)x\(height)")
    }

    /// The whole recording.
    var bytes: [UInt8] {
        var header: [String: Any] = [
            "version": 2, "width": self.width, "height": self.height, "timestamp": self.timestamp,
            "env": ["TERM": self.terminal, "SHELL": "/bin/bash"],
        ]
        if self.truncated { header["title"] = "truncated at \(Self.maximumSize) bytes" }
        let encoded =
            (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return Array(encoded) + [0x0A] + self.lines
    }

    private mutating func append(_ time: Duration, _ kind: String, _ data: String) {
        guard !self.truncated, !data.isEmpty else { return }
        self.duration = time
        let components = time.components
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        guard
            let encoded = try? JSONSerialization.data(
                withJSONObject: [(seconds * 1_000_000).rounded() / 1_000_000, kind, data],
                options: [.fragmentsAllowed, .withoutEscapingSlashes]
            )
        else { return }
        if self.lines.count + encoded.count + 1 > Self.maximumSize {
            self.truncated = true
            return
        }
        self.lines += encoded
        self.lines.append(0x0A)
    }
}

extension SessionRecording {
    /// Stores the recording as an artifact and raises `session.recorded`; a session in which nothing was typed
    /// is not kept.
    func keep(in artifacts: ArtifactStore, session: SessionEvents) {
        guard !self.isEmpty else { return }
        var fields = EventFields()
        fields.add("format", Self.format)
        let components = self.duration.components
        fields.add("duration_ms", String(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000))
        fields.add("inputs", String(self.inputs))
        artifacts.keep(self.bytes, as: .sessionRecorded, fields: fields, session: session)
    }
}
