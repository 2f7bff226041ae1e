import DecnetCore
import Foundation

/// What an attacker is doing, judged from event types and contents first and timing second (the seed classifies
/// on timing alone, so a slow brute-forcer reads as a beacon and a thinking human as a bot).
public enum BehaviourClass: String, Sendable, Codable, CaseIterable {
    case scanner
    case bruteForcer = "brute-forcer"
    case credentialStuffer = "credential-stuffer"
    case interactive
    case bot
    case exploitAttempt = "exploit-attempt"
    case unknown
}

/// The phases an intrusion goes through, in the order they are drawn (the tactics of MITRE ATT&CK that a honeypot
/// can see; the seed's "kill chain").
public enum IntrusionPhase: String, Sendable, Codable, CaseIterable, Comparable {
    case reconnaissance
    case credentialAccess = "credential-access"
    case discovery
    case execution
    case persistence
    case commandAndControl = "command-and-control"
    case lateralMovement = "lateral-movement"
    case collection
    case exfiltration

    public static func < (lhs: Self, rhs: Self) -> Bool {
        Self.allCases.firstIndex(of: lhs)! < Self.allCases.firstIndex(of: rhs)!
    }
}

/// One attacker's profile: a class with the evidence for it, the phases seen with when each was first seen, the
/// tools named with the table entry each matched, the timing, and a score.
public struct AttackerBehaviour: Sendable, Codable, Equatable {
    public struct Phase: Sendable, Codable, Equatable {
        public var phase: IntrusionPhase
        public var first: Date
        /// What showed it: the command or event, and where.
        public var evidence: String
    }

    public struct Tool: Sendable, Codable, Equatable {
        public var tool: String
        /// The value that matched and how (`client_version begins with "SSH-2.0-libssh_"`).
        public var evidence: String
        /// The table entry's source.
        public var source: String
    }

    public struct Timing: Sendable, Codable, Equatable {
        public var events: Int
        public var seconds: Double
        /// Gaps between consecutive events.
        public var meanGap: Double
        public var medianGap: Double
        /// Coefficient of variation of the gaps (stdev / mean): near 0 for a script, high for a person.
        public var gapVariation: Double
        /// The median pause between shell commands of one session, when there were any.
        public var commandPause: Double?
        /// A scanner's speed: the highest packet rate the packet layer measured in its scans (packets/s).
        public var scanPeakRate: Int?
    }

    public var behaviour: BehaviourClass
    public var evidence: [String]
    public var phases: [Phase]
    public var tools: [Tool]
    public var timing: Timing
    /// How shell lines were entered (typed, pasted, by a program), when the terminal recorded it.
    public var keystrokes: Keystrokes?
    /// 0–100: how far the attacker got and how dangerous what it did is.
    public var score: Int
}

/// Builds `AttackerBehaviour` from one attacker's events: a pure function of the events (shifting every timestamp
/// by the same amount changes only the phases' times), so it is tested on fixtures and runs wherever the events are.
public enum AttackerProfiler {
    /// The events most profiles need; older ones are not read (the API passes the latest this many).
    public static let maximumEvents = 5_000

    public static func profile(_ unsorted: [HoneypotEvent]) -> AttackerBehaviour {
        let events = unsorted.sorted { $0.time < $1.time }
        let signals = Signals(events)
        let timing = Self.timing(events, signals)
        let keystrokes = Keystrokes.measure(signals.shellCommands)
        let (behaviour, evidence) = Self.classify(signals, timing, keystrokes)
        let phases = Self.phases(events, signals)
        let tools = Self.tools(events)
        return AttackerBehaviour(
            behaviour: behaviour,
            evidence: evidence,
            phases: phases,
            tools: tools,
            timing: timing,
            keystrokes: keystrokes,
            score: Self.score(behaviour, phases, signals)
        )
    }

    // MARK: - Signals

    /// Counts the classifier reads, gathered in one pass.
    struct Signals {
        var scans: [HoneypotEvent] = []
        var logins: [HoneypotEvent] = []
        var accepted = 0
        var users: Set<String> = []
        var passwords: Set<String> = []
        var loginServices: Set<String> = []
        /// Shell commands (`command.input` of ssh, telnet and the exec streams of docker_api and k8s).
        var shellCommands: [HoneypotEvent] = []
        var exploits: [(HoneypotEvent, String)] = []
        var deckies: [String] = []
        var ports: Set<String> = []

        static let shellServices: Set<String> = ["ssh", "telnet", "docker_api", "k8s"]
        static let httpMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

        /// A command typed into (or sent to) a shell: not the API request that docker_api and k8s also record
        /// as `command.input` (method and path).
        static func isShellCommand(_ event: HoneypotEvent) -> Bool {
            guard event.id == .commandInput, Self.shellServices.contains(event.service.rawValue),
                let command = event[field: "command"]
            else { return false }
            return !(Self.httpMethods.contains(command) && (event[field: "args"] ?? "").hasPrefix("/"))
        }

        init(_ events: [HoneypotEvent]) {
            for event in events {
                if event.service.rawValue != "sniffer", !self.deckies.contains(event.decky) {
                    self.deckies.append(event.decky)
                }
                switch event.id {
                case .scanDetected, .scanProgress:
                    self.scans.append(event)
                case .loginFailed, .loginSuccess:
                    self.logins.append(event)
                    if event.id == .loginSuccess { self.accepted += 1 }
                    if let user = event[field: "username"] { self.users.insert(user) }
                    if let password = event[field: "password"] { self.passwords.insert(password) }
                    self.loginServices.insert(event.service.rawValue)
                case .commandInput:
                    if Self.isShellCommand(event) { self.shellCommands.append(event) }
                    if let pattern = ExploitPatterns.match(event) { self.exploits.append((event, pattern)) }
                case .connectionOpen:
                    self.ports.insert("\(event.destination.ip):\(event.destination.port)")
                default:
                    if let pattern = ExploitPatterns.match(event) { self.exploits.append((event, pattern)) }
                }
            }
        }
    }

    static func commandLine(_ event: HoneypotEvent) -> String {
        [event[field: "command"], event[field: "args"]].compactMap { $0 }.joined(separator: " ")
    }

    // MARK: - Timing

    static func timing(_ events: [HoneypotEvent], _ signals: Signals) -> AttackerBehaviour.Timing {
        let gaps = zip(events, events.dropFirst()).map { $1.time.timeIntervalSince($0.time) }
        var pauses: [Double] = []
        let bySession = Dictionary(grouping: signals.shellCommands, by: \.session)
        for commands in bySession.values {
            // Commands of one typed line share a time: the pause is between lines.
            let times = commands.map(\.time).reduce(into: [Date]()) { times, time in
                if times.last != time { times.append(time) }
            }
            pauses += zip(times, times.dropFirst()).map { $1.timeIntervalSince($0) }
        }
        return AttackerBehaviour.Timing(
            events: events.count,
            seconds: (events.last?.time.timeIntervalSince(events.first?.time ?? Date())) ?? 0,
            meanGap: Self.mean(gaps),
            medianGap: Self.median(gaps),
            gapVariation: Self.variation(gaps),
            commandPause: pauses.isEmpty ? nil : Self.median(pauses),
            scanPeakRate: signals.scans.compactMap { $0[field: "peak_pps"].flatMap(Int.init) }.max()
        )
    }

    static func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func variation(_ values: [Double]) -> Double {
        let average = Self.mean(values)
        guard average > 0, values.count > 1 else { return 0 }
        let variance = values.reduce(0) { $0 + ($1 - average) * ($1 - average) } / Double(values.count)
        return variance.squareRoot() / average
    }

    // MARK: - Class

    /// A person types a shell command every second or more, unevenly; a script sends its next at once.
    static let humanPause = 1.0

    static func classify(
        _ signals: Signals,
        _ timing: AttackerBehaviour.Timing,
        _ keystrokes: Keystrokes? = nil
    ) -> (BehaviourClass, [String]) {
        var evidence: [String] = []
        if let (event, pattern) = signals.exploits.first {
            evidence.append(
                "\(signals.exploits.count) request(s) carrying an exploit (\(pattern), \(event.service) on \(event.decky))"
            )
            return (.exploitAttempt, evidence)
        }
        if let keystrokes, keystrokes.isHuman || keystrokes.entry == .machine, !signals.shellCommands.isEmpty {
            let sessions = Set(signals.shellCommands.map(\.session)).count
            evidence.append(
                "\(signals.shellCommands.count) shell commands in \(sessions) session(s): \(keystrokes.summary)"
            )
            return (keystrokes.isHuman ? .interactive : .bot, evidence)
        }
        if signals.shellCommands.count >= 2, let pause = timing.commandPause {
            let sessions = Set(signals.shellCommands.map(\.session)).count
            let described = String(format: "%.1f", pause)
            if pause >= Self.humanPause {
                evidence.append(
                    "\(signals.shellCommands.count) shell commands in \(sessions) session(s), typed a median \(described) s apart"
                )
                return (.interactive, evidence)
            }
            evidence.append(
                "\(signals.shellCommands.count) shell commands in \(sessions) session(s), a median \(described) s apart (no person types that fast)"
            )
            return (.bot, evidence)
        }
        if signals.shellCommands.count == 1 {
            evidence.append("one command sent with its login, as scripts do")
            return (.bot, evidence)
        }
        if signals.logins.count >= 3 {
            let services = signals.loginServices.sorted().joined(separator: ", ")
            if signals.users.count >= 2, signals.passwords.count >= 2 || signals.loginServices.count >= 2 {
                evidence.append(
                    "\(signals.logins.count) logins with \(signals.users.count) user names and \(signals.passwords.count) passwords against \(services): a credential list"
                )
                return (.credentialStuffer, evidence)
            }
            evidence.append(
                "\(signals.logins.count) logins as \(signals.users.sorted().prefix(3).joined(separator: ", ")) with \(signals.passwords.count) passwords against \(services)"
            )
            return (.bruteForcer, evidence)
        }
        if let scan = signals.scans.first {
            let type = scan[field: "scan_type"] ?? "scan"
            let speed = timing.scanPeakRate.map { ", up to \($0) packets/s" } ?? ""
            evidence.append(
                "\(signals.scans.count) scan report(s) from the packet layer (\(type), \(scan[field: "ports"] ?? "?") ports\(speed))"
            )
            return (.scanner, evidence)
        }
        if signals.ports.count >= 5, signals.logins.isEmpty {
            evidence.append("connections to \(signals.ports.count) ports without a login")
            return (.scanner, evidence)
        }
        return (.unknown, ["too little to judge"])
    }

    // MARK: - Phases

    static func phases(_ events: [HoneypotEvent], _ signals: Signals) -> [AttackerBehaviour.Phase] {
        var seen: [IntrusionPhase: AttackerBehaviour.Phase] = [:]
        func mark(_ phase: IntrusionPhase, _ event: HoneypotEvent, _ evidence: String) {
            guard seen[phase] == nil else { return }
            seen[phase] = AttackerBehaviour.Phase(phase: phase, first: event.time, evidence: evidence)
        }
        var firstDecky: String?
        for event in events {
            if event.service.rawValue != "sniffer" {
                if let first = firstDecky, first != event.decky {
                    mark(.lateralMovement, event, "moved from \(first) to \(event.decky)")
                }
                firstDecky = firstDecky ?? event.decky
            }
            switch event.id {
            case .scanDetected, .scanProgress:
                mark(.reconnaissance, event, "\(event[field: "scan_type"] ?? "scan") of \(event.decky)")
            case .loginFailed, .loginSuccess:
                mark(
                    .credentialAccess,
                    event,
                    "\(event.service) login as \(event[field: "username"] ?? "?") on \(event.decky)"
                )
            case .commandInput where Signals.isShellCommand(event):
                let line = Self.commandLine(event)
                mark(.execution, event, "shell command on \(event.decky): \(line.prefix(120))")
                for (phase, matches) in CommandPhases.rules where matches(event[field: "command"] ?? "", line) {
                    mark(phase, event, "\(line.prefix(120)) on \(event.decky)")
                }
            case .commandInput, .payloadReceived, .fileDownload:
                if CommandPhases.isCollection(event) {
                    mark(.collection, event, "\(event.service) data read on \(event.decky)")
                }
            case .fileUpload:
                mark(.commandAndControl, event, "file uploaded to \(event.decky) over \(event.service)")
            default:
                break
            }
        }
        return seen.values.sorted { ($0.first, $0.phase) < ($1.first, $1.phase) }
    }

    // MARK: - Tools

    static func tools(_ events: [HoneypotEvent]) -> [AttackerBehaviour.Tool] {
        var found: [AttackerBehaviour.Tool] = []
        func add(_ tool: String, _ evidence: String, _ source: String) {
            guard !found.contains(where: { $0.tool == tool }) else { return }
            found.append(AttackerBehaviour.Tool(tool: tool, evidence: evidence, source: source))
        }
        for event in events {
            if event.id == .scanDetected, let tool = event[field: "tool"] {
                add(
                    tool,
                    "scan.detected tool=\(tool) (\(event[field: "tool_basis"] ?? "packet layer"))",
                    "DecnetPacket's scan classifier"
                )
            }
            if event.id == .clientFingerprint, event.service.rawValue == "sniffer", let tool = event[field: "tool"] {
                add(tool, "TCP SYN \(event[field: "ja4t"] ?? "")", "DecnetPacket's TCP fingerprints")
            }
            let candidates: [(ToolSignature.Field, String)] = [
                (.userAgent, "user_agent"), (.sshClient, "client_version"), (.hassh, "hassh"), (.ja4, "ja4"),
                (.clientName, "driver"), (.clientName, "client"), (.clientName, "application"),
            ]
            for (field, name) in candidates {
                guard let value = event[field: name], let signature = ToolSignature.first(field, value) else {
                    continue
                }
                add(signature.tool, "\(name) \(signature.match.description): \(value.prefix(80))", signature.source)
            }
        }
        return found
    }

    // MARK: - Score

    static func score(_ behaviour: BehaviourClass, _ phases: [AttackerBehaviour.Phase], _ signals: Signals) -> Int {
        let base: [BehaviourClass: Int] = [
            .exploitAttempt: 40, .interactive: 35, .bot: 30, .credentialStuffer: 20, .bruteForcer: 15, .scanner: 5,
            .unknown: 0,
        ]
        let weights: [IntrusionPhase: Int] = [
            .reconnaissance: 2, .credentialAccess: 5, .discovery: 5, .execution: 10, .persistence: 15,
            .commandAndControl: 15, .lateralMovement: 15, .collection: 10, .exfiltration: 15,
        ]
        var score = base[behaviour, default: 0] + phases.reduce(0) { $0 + weights[$1.phase, default: 0] }
        if signals.accepted > 0 { score += 10 }
        return min(100, score)
    }
}
