import DecnetServiceKit

/// The PBX a decky's `sip` service plays: what its responses name, the realm it challenges in, its extensions
/// and the accounts whose passwords it knows.
struct SIPPersona: Sendable {
    /// The product string (`Asterisk PBX 18.20.0`), sent in `serverHeader`.
    var server: String
    /// `Server` for PBXs and proxies; FreeSWITCH's sofia stack names itself in `User-Agent`.
    var serverHeader: String
    /// The Allow and Supported values of the product.
    var allow: String
    var supported: String
    /// The digest realm (`sip_domain`).
    var realm: String
    /// Accounts whose digest can succeed (`users`, `100:secret`).
    var users: AcceptedCredentials
    /// Every extension that exists: `sip_extensions` and the accounts of `users`.
    var extensions: Set<String>

    static let defaultServer = "Asterisk PBX 18.20.0"
    /// chan_sip's ALLOWED_METHODS (channels/sip/include/sip.h, Asterisk 11 to 20) and its Supported for a
    /// dialog with session timers on (its default).
    static let asteriskAllow = "INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE"
    static let asteriskSupported = "replaces, timer"
    /// mod_sofia's Allow and Supported (FreeSWITCH 1.10).
    static let freeswitchAllow =
        "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY, PUBLISH, SUBSCRIBE"
    static let freeswitchSupported = "timer, path, replaces"
    /// A small office's extensions when the persona lists none.
    static let defaultExtensions = "100-119"
    /// Most extensions a persona may list (ranges are expanded).
    static let maximumExtensions = 10_000

    /// Reads `sip_server`, `sip_domain`, `users` and `sip_extensions`; the realm defaults to the domain of the
    /// decky's hostname (`pbx01.corp.example` → `corp.example`), or the hostname when it has no domain.
    init(persona: [String: String], hostname: String) {
        let configured = Self.headerSafe(persona["sip_server"] ?? "")
        let server = configured.isEmpty ? Self.defaultServer : configured
        self.server = server
        if server.lowercased().hasPrefix("freeswitch") {
            self.serverHeader = "User-Agent"
            self.allow = Self.freeswitchAllow
            self.supported = Self.freeswitchSupported
        } else {
            self.serverHeader = "Server"
            self.allow = Self.asteriskAllow
            self.supported = Self.asteriskSupported
        }
        let domain = Self.headerSafe(persona["sip_domain"] ?? "").filter { $0 != "\"" && $0 != "\\" }
        if !domain.isEmpty {
            self.realm = domain
        } else {
            let labels = hostname.lowercased().split(separator: ".")
            let derived = Self.headerSafe(labels.count > 1 ? labels.dropFirst().joined(separator: ".") : hostname)
                .lowercased().filter { $0 != "\"" && $0 != "\\" && !$0.isWhitespace }
            // chan_sip's own default realm, for a decky without a name.
            self.realm = derived.isEmpty ? "asterisk" : derived
        }
        self.users = AcceptedCredentials(persona["users"])
        var extensions = Self.extensions(persona["sip_extensions"] ?? Self.defaultExtensions)
        for pair in self.users.pairs where extensions.count < Self.maximumExtensions { extensions.insert(pair.user) }
        self.extensions = extensions
    }

    /// `100-119,200,reception`: single names and numeric ranges, at most `maximumExtensions` in all.
    static func extensions(_ text: String) -> Set<String> {
        var result: Set<String> = []
        for item in text.split(separator: ",") {
            let entry = SIPParser.trimmed(item)
            guard !entry.isEmpty else { continue }
            let bounds = entry.split(separator: "-", maxSplits: 1)
            if bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), low <= high,
                bounds[0].allSatisfy(\.isNumber)
            {
                let width = bounds[0].count
                for number in low...min(high, low + self.maximumExtensions) {
                    guard result.count < self.maximumExtensions else { break }
                    let digits = String(number)
                    result.insert(String(repeating: "0", count: max(0, width - digits.count)) + digits)
                }
            } else if result.count < self.maximumExtensions {
                result.insert(entry)
            }
        }
        return result
    }

    /// The password the persona holds for an account (`*` accepts any), nil when it has none.
    func password(for account: String) -> String? {
        self.users.pairs.first { $0.user == account }?.password
    }

    /// A persona value fit for a header line: no control characters.
    static func headerSafe(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
    }
}

/// The SIP scanners and attack tools that say who they are (their User-Agent), and nmap's -sV probe, which
/// does not.
enum SIPScanner {
    /// Lower-cased User-Agent fragment → tool.
    static let userAgents: [(fragment: String, tool: String)] = [
        ("friendly-scanner", "sipvicious"), ("sipvicious", "sipvicious"), ("sipcli", "sipcli"),
        ("vaxsipuseragent", "vaxsip"), ("sipsak", "sipsak"), ("sundayddr", "sundayddr"), ("iwar", "iwar"),
        ("sip-scan", "sip-scan"), ("sipscan", "sip-scan"), ("smap", "smap"), ("nmap nse", "nmap"),
        ("pplsip", "pplsip"), ("sippts", "sippts"), ("sipp/", "sipp"), ("voipsniff", "voipsniff"),
        ("siparator-scan", "siparator-scan"), ("sip-brute", "sip-brute"),
    ]

    /// `userAgents`' fragments as bytes: matched with a byte search, not `String.contains` (a generic substring
    /// search by Characters, seventeen times per request, was a fifth of the CPU of a SIP flood).
    private static let fragments: [(bytes: [UInt8], tool: String)] = Self.userAgents.map {
        (Array($0.fragment.utf8), $0.tool)
    }

    /// The tool a request names or looks like, and why we think so.
    static func identify(_ request: SIPRequest) -> (tool: String, basis: String)? {
        if let agent = request.first("user-agent") {
            let lowered = Array(agent.lowercased().utf8)
            if let match = self.fragments.first(where: { Self.contains(lowered, $0.bytes) }) {
                return (match.tool, "User-Agent")
            }
        }
        if request.method == "OPTIONS", request.uri == "sip:nm", request.first("call-id") == "50000",
            request.first("via")?.contains("branch=foo") == true
        {
            return ("nmap", "nmap -sV SIPOptions probe")
        }
        return nil
    }

    static func contains(_ text: [UInt8], _ fragment: [UInt8]) -> Bool {
        guard let first = fragment.first else { return true }
        guard text.count >= fragment.count else { return false }
        for start in 0...(text.count - fragment.count) where text[start] == first {
            if text[start..<(start + fragment.count)].elementsEqual(fragment) { return true }
        }
        return false
    }
}
