import DecnetCore

/// What a service instance knows of where it runs. Services read nothing global: everything is here.
public struct ServiceContext: Sendable {
    public var decky: String
    public var hostname: String
    public var service: ServiceKind
    /// Effective persona (defaults overlaid with the operator's keys).
    public var persona: [String: String]
    public var sink: any EventSink
    /// Where captured files (uploads, mail bodies) are stored; nil keeps only their hashes.
    public var artifactDirectory: String?
    /// The decky's OS family and distro facts, for the details services show (`uname`, INFO `os:`).
    public var osFamily: OSFamily
    public var kernelVersion: String?
    /// Distro slug (`debian`, `ubuntu22` …), for distro-flavoured banners.
    public var distro: String?
    /// Extra sockets (FTP data connections), opened where the decky lives.
    public var dataChannels: any DataChannels
    /// The decky's MAC, for what a shell shows of its interface.
    public var macAddress: String?
    /// Local ports on which the service speaks TLS (443 for http, 993 for imap …), as the runtime binds them.
    public var tlsPorts: Set<Int>
    /// Where the decky keeps key material that must survive restarts (TLS certificate, SSH host keys), so a
    /// returning attacker sees the same keys; nil makes fresh keys each start.
    public var keyDirectory: String?
    /// The decky's own IPv4 address, for answers that name it (LLMNR, mDNS) and sockets bound to every address.
    public var address: String?

    /// Ports that speak TLS by convention.
    public static let conventionalTLSPorts: Set<Int> = [443, 993, 995, 636, 2376, 6443]

    /// Files the operator planted on the decky (canary documents), which the file-serving services show.
    public var planted = PlantedFiles(root: nil)
    /// The canary tokens the `canary` service answers for; nil: it answers for none.
    public var canaryTokens: CanaryTokenLookup?

    /// The directed broadcast address of the decky's LAN (NBT-NS asks it), when the decky is on one.
    public var broadcast: String?

    public init(
        decky: String,
        hostname: String,
        service: ServiceKind,
        persona: [String: String],
        sink: any EventSink,
        artifactDirectory: String? = nil,
        osFamily: OSFamily = .linux,
        kernelVersion: String? = nil,
        distro: String? = nil,
        dataChannels: any DataChannels = NoDataChannels(),
        macAddress: String? = nil,
        tlsPorts: Set<Int> = [],
        keyDirectory: String? = nil,
        address: String? = nil
    ) {
        self.address = address
        self.keyDirectory = keyDirectory
        self.tlsPorts = tlsPorts
        self.macAddress = macAddress
        self.dataChannels = dataChannels
        self.distro = distro
        self.osFamily = osFamily
        self.kernelVersion = kernelVersion
        self.decky = decky
        self.hostname = hostname
        self.service = service
        self.persona = persona
        self.sink = sink
        self.artifactDirectory = artifactDirectory
    }
}
