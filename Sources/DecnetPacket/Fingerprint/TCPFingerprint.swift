/// A passive fingerprint of the stack that sent a SYN: a p0f-style signature, a JA4T-style string and our own
/// guess at the operating system family, with what the guess rests on.
///
/// The signature follows p0f 3's `ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass` layout so analysts can
/// read it next to p0f's output; the OS table is our own, from the option layouts each family's stack is known
/// to send (nothing of p0f's database is read or shipped).
public struct TCPFingerprint: Sendable, Equatable, Hashable {
    /// The p0f-style signature (`4:64+0:0:1460:mss*44,10:mss,sok,ts,nop,ws:df,id+:0`).
    public var signature: String
    /// JA4T-style: window, option kinds, MSS, window scale (`64240_2-4-8-1-3_1460_10`).
    public var ja4t: String
    /// The family guessed (`Linux`, `Windows`, `macOS`, `FreeBSD`, `OpenBSD`), or nil.
    public var osFamily: String?
    /// The tool that built the SYN, when it was not an operating system's stack.
    public var tool: String?
    /// What the guess rests on.
    public var basis: String
    /// The initial TTL guessed and the hops counted from it.
    public var initialTTL: Int
    public var distance: Int

    public init(_ syn: SYNShape, traits: Probe.Traits) {
        let initialTTL = Self.initialTTL(syn.ttl)
        self.initialTTL = initialTTL
        self.distance = initialTTL - Int(syn.ttl)
        let layout = Self.layout(syn.optionKinds)
        var quirks: [String] = []
        if syn.dontFragment { quirks.append("df") }
        if syn.dontFragment && syn.identification != 0 { quirks.append("id+") }
        if !syn.dontFragment && syn.identification == 0 { quirks.append("id-") }
        if syn.ecn { quirks.append("ecn") }
        if syn.acknowledgementNonZero { quirks.append("ack+") }
        if syn.timestampValue == 0 { quirks.append("ts1-") }
        if let scale = syn.windowScale, scale > 14 { quirks.append("exws") }
        let mss = syn.mss.map(String.init) ?? "*"
        let window: String
        if let value = syn.mss, value > 0, syn.window % value == 0, syn.window / value > 1 {
            window = "mss*\(syn.window / value)"
        } else {
            window = String(syn.window)
        }
        self.signature = [
            "4", "\(initialTTL)+\(self.distance)", syn.headerOptions ? "?" : "0", mss,
            "\(window),\(syn.windowScale.map(String.init) ?? "0")", layout.isEmpty ? "" : layout,
            quirks.joined(separator: ","), syn.payloadLength > 0 ? "+" : "0",
        ].joined(separator: ":")
        let kinds = syn.optionKinds.isEmpty ? "00" : syn.optionKinds.map(String.init).joined(separator: "-")
        self.ja4t =
            "\(syn.window)_\(kinds)_\(syn.mss.map(String.init) ?? "00")_\(syn.windowScale.map(String.init) ?? "00")"
        if let tool = Self.tool(traits) {
            self.tool = tool.name
            self.osFamily = nil
            self.basis = tool.basis
            return
        }
        self.tool = nil
        if let match = Self.families.first(where: { $0.initialTTL == initialTTL && $0.layout == layout }) {
            self.osFamily = match.family
            self.basis = "initial TTL \(initialTTL) and option layout \(layout) (\(match.note))"
        } else {
            self.osFamily = nil
            self.basis =
                "no known stack sends initial TTL \(initialTTL) with option layout \(layout.isEmpty ? "none" : layout)"
        }
    }

    /// The smallest common initial TTL at or above `ttl`.
    static func initialTTL(_ ttl: UInt8) -> Int {
        switch ttl {
        case 0...32: 32
        case 33...64: 64
        case 65...128: 128
        default: 255
        }
    }

    /// The option layout in p0f's words (`mss,sok,ts,nop,ws`; `eol+N` counts the padding after EOL).
    static func layout(_ kinds: [UInt8]) -> String {
        var words: [String] = []
        for (index, kind) in kinds.enumerated() {
            switch kind {
            case 0:
                words.append("eol+\(max(0, kinds.count - index - 1))")
                return words.joined(separator: ",")
            case 1: words.append("nop")
            case 2: words.append("mss")
            case 3: words.append("ws")
            case 4: words.append("sok")
            case 5: words.append("sack")
            case 8: words.append("ts")
            default: words.append("?\(kind)")
            }
        }
        return words.joined(separator: ",")
    }

    static func tool(_ traits: Probe.Traits) -> (name: String, basis: String)? {
        if traits.contains(.nmapRaw) {
            return ("nmap", "a raw SYN with window 1024-4096 and only the MSS 1460 option (nmap -sS)")
        }
        if traits.contains(.zmap) { return ("zmap", "IP ID 54321, window 65535 and no options (zmap)") }
        if traits.contains(.masscan) {
            return ("masscan", "window 1024, no options and an initial TTL of 255 (masscan)")
        }
        if traits.contains(.hping) { return ("hping3", "window 512 and no options (hping3's default SYN)") }
        return nil
    }

    /// Option layouts of the stacks we name: our own table, from what each family's kernel sends in a SYN.
    static let families: [(initialTTL: Int, layout: String, family: String, note: String)] = [
        (64, "mss,sok,ts,nop,ws", "Linux", "Linux 3.x and later"),
        (64, "mss,nop,nop,sok,nop,ws", "Linux", "Linux without timestamps"),
        (64, "mss,nop,nop,ts,nop,ws", "Linux", "Linux without SACK"),
        (64, "mss,sok,ts", "Linux", "Linux without window scaling"),
        (128, "mss,nop,ws,nop,nop,sok", "Windows", "Windows 7 to 11"),
        (128, "mss,nop,ws,sok,ts", "Windows", "Windows with timestamps on"),
        (128, "mss,nop,nop,sok", "Windows", "Windows XP"),
        (64, "mss,nop,ws,nop,nop,ts,sok,eol+1", "macOS", "macOS and iOS"),
        (64, "mss,nop,ws,sok,ts", "FreeBSD", "FreeBSD 9 and later"),
        (64, "mss,nop,nop,sok,nop,ws,nop,nop,ts", "OpenBSD", "OpenBSD"),
    ]
}
