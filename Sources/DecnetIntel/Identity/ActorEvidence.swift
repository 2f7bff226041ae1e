import DecnetCore
import Foundation

/// What identity and campaign clustering compare, for one attacker address: the traits an actor carries from one
/// address to the next (the client it runs, the credential list it works through, the commands it types, its pace,
/// the network it comes from). Made from the attacker's events and profile; no absolute time enters a comparison
/// (only `first` and `last`, which campaigns use as distances), so shifting every timestamp changes nothing.
public struct ActorEvidence: Sendable, Codable, Equatable {
    public var ip: String
    public var first: Date
    public var last: Date
    /// Client fingerprints, `kind:value` (`hassh:…`, `ja3:…`, `ja4:…`, `ja4h:…`), in the order first seen.
    public var fingerprints: [String]
    /// What the clients call themselves (SSH `client_version`, HTTP `user_agent`), for the reader.
    public var clients: [String]
    /// Credentials tried, `user:password`, each once, in the order first tried.
    public var credentials: [String]
    /// Shell command lines, in order (at most `maximumCommands`).
    public var commands: [String]
    /// Hosts payloads were fetched from (`wget`/`curl` arguments, downloads), each once.
    public var payloadHosts: [String]
    public var deckies: [String]
    public var services: [String]
    /// The median gap between the attacker's events, in seconds.
    public var pace: Double
    /// Whether a program sent them (not a person typing).
    public var automated: Bool
    /// The address's /24 (IPv4) or /48 (IPv6) when it is public; nil for private, lab and other special addresses,
    /// where every attacker inside the network shares one.
    public var network: String?
    /// The autonomous system (public addresses, when the GeoIP database knows it).
    public var asn: UInt32?
    public var behaviour: BehaviourClass
    public var phases: [IntrusionPhase]
    public var tools: [String]

    public static let maximumCommands = 50
    public static let maximumCredentials = 500

    public init(
        ip: String,
        first: Date,
        last: Date,
        fingerprints: [String] = [],
        clients: [String] = [],
        credentials: [String] = [],
        commands: [String] = [],
        payloadHosts: [String] = [],
        deckies: [String] = [],
        services: [String] = [],
        pace: Double = 0,
        automated: Bool = true,
        network: String? = nil,
        asn: UInt32? = nil,
        behaviour: BehaviourClass = .unknown,
        phases: [IntrusionPhase] = [],
        tools: [String] = []
    ) {
        self.ip = ip
        self.first = first
        self.last = last
        self.fingerprints = fingerprints
        self.clients = clients
        self.credentials = credentials
        self.commands = commands
        self.payloadHosts = payloadHosts
        self.deckies = deckies
        self.services = services
        self.pace = pace
        self.automated = automated
        self.network = network
        self.asn = asn
        self.behaviour = behaviour
        self.phases = phases
        self.tools = tools
    }

    /// From one attacker's events (any order) and the profile made of them.
    public init(ip: String, events unsorted: [HoneypotEvent], profile: AttackerBehaviour, asn: UInt32? = nil) {
        let events = unsorted.sorted { $0.time < $1.time }
        self.init(
            ip: ip,
            first: events.first?.time ?? Date(timeIntervalSince1970: 0),
            last: events.last?.time ?? Date(timeIntervalSince1970: 0)
        )
        var seen = Set<String>()
        func once(_ value: String, _ list: inout [String], limit: Int = .max) {
            guard list.count < limit, seen.insert(value).inserted else { return }
            list.append(value)
        }
        for event in events {
            if event.service.rawValue != "sniffer" {
                once("decky:" + event.decky, &self.deckies)
                once("service:" + event.service.rawValue, &self.services)
            }
            switch event.id {
            case .clientFingerprint:
                for kind in ["hassh", "ja3", "ja4", "ja4h"] {
                    if let value = event[field: kind], !value.isEmpty { once(kind + ":" + value, &self.fingerprints) }
                }
                for name in ["client_version", "user_agent"] {
                    if let value = event[field: name], !value.isEmpty { once("client:" + value, &self.clients) }
                }
            case .loginFailed, .loginSuccess:
                guard event[field: "username"] != nil || event[field: "password"] != nil else { break }
                let credential = (event[field: "username"] ?? "") + ":" + (event[field: "password"] ?? "")
                once("credential:" + credential, &self.credentials, limit: Self.maximumCredentials)
            case .commandInput where AttackerProfiler.Signals.isShellCommand(event):
                let line = AttackerProfiler.commandLine(event)
                if self.commands.count < Self.maximumCommands { self.commands.append(line) }
                if let host = Self.payloadHost(line) { once("host:" + host, &self.payloadHosts) }
            case .fileDownload:
                if let url = event[field: "url"], let host = Self.payloadHost("wget " + url) {
                    once("host:" + host, &self.payloadHosts)
                }
            default:
                if let agent = event[field: "user_agent"], !agent.isEmpty { once("client:" + agent, &self.clients) }
            }
        }
        // The prefixes kept the one `seen` set from mixing kinds; the lists hold bare values.
        func strip(_ list: inout [String]) {
            list = list.map { String($0[$0.index(after: $0.firstIndex(of: ":")!)...]) }
        }
        strip(&self.deckies)
        strip(&self.services)
        strip(&self.clients)
        strip(&self.credentials)
        strip(&self.payloadHosts)
        self.pace = profile.timing.medianGap
        self.automated = profile.behaviour != .interactive
        self.network = Self.network(of: ip)
        self.asn = self.network == nil ? nil : asn
        self.behaviour = profile.behaviour
        self.phases = profile.phases.map(\.phase)
        self.tools = profile.tools.map(\.tool)
    }

    /// The /24 or /48 of a public address; nil otherwise.
    public static func network(of ip: String) -> String? {
        guard let bytes = AddressScope.bytes(of: ip), AddressScope(bytes: bytes) == .public else { return nil }
        if bytes.count == 4 { return "\(bytes[0]).\(bytes[1]).\(bytes[2]).0/24" }
        let groups = stride(from: 0, to: 6, by: 2).map {
            String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
        }
        return groups.joined(separator: ":") + "::/48"
    }

    /// The host a `wget`/`curl`/`tftp`/`ftpget` command line fetches from.
    static func payloadHost(_ line: String) -> String? {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ";" || $0 == "|" || $0 == "&" })
        guard let tool = words.first.map({ ($0 as Substring).split(separator: "/").last ?? $0 }),
            ["wget", "curl", "tftp", "ftpget", "busybox"].contains(String(tool))
        else { return nil }
        for word in words.dropFirst() {
            var text = String(word).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            if let scheme = text.range(of: "://") {
                text = String(text[scheme.upperBound...])
            } else if text.hasPrefix("-") {
                continue
            }
            let host = text.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
            let bare = host.split(separator: "@").last.map(String.init) ?? host
            let name = bare.hasPrefix("[") ? bare : String(bare.split(separator: ":").first ?? "")
            if name.contains(".") || name.hasPrefix("["), name.count <= 253 { return name.lowercased() }
        }
        return nil
    }
}
