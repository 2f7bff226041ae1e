import DecnetCore
import DecnetServiceKit
import Dispatch
import NIOCore

/// Fuzz entry points of the Windows-facing services (mssql, ldap, smb, rdp) and of vnc and mqtt: each input through
/// the service's own frame decoder into its state machine, as its `handle` wires them, with no sockets. Challenges,
/// clocks and salts are fixed (the ones the services' unit tests and recorded replays use), so a run replays the
/// same way; an action that needs the channel (start or end TLS) is ignored and the input goes on in the clear.
///
/// mssql, ldap and rdp make a TLS context in their initialiser (and start the decky's certificate in the
/// background): those services are made once per process, not once per input. The others are made per input, as
/// the entries in `FuzzEntries.swift` are, so no state (SMB's shares, MQTT's retained store) outlives an input.
extension FuzzEntries {
    /// A Windows decky's context: its host name (the one the service's unit tests use) and OS family.
    static func windowsContext(_ kind: ServiceKind, hostname: String, _ persona: [String: String]) -> ServiceContext {
        var context = self.context(kind, persona)
        context.hostname = hostname
        context.osFamily = .windows
        return context
    }

    /// A fixed FILETIME (2024-12-03), for the NTLM CHALLENGE's timestamp.
    static let windowsNow: UInt64 = 133_777_000_000_000_000

    private static let mssqlService: MSSQLService? = try? MSSQLService(
        context: FuzzEntries.windowsContext(
            "mssql",
            hostname: "SQL01",
            ["mssql_version": "15.0.2000.5", "os_version": "Windows Server 2019 Standard 17763", "workgroup": "CORP"]
        )
    )

    private static let ldapService: LDAPService? = try? LDAPService(
        context: FuzzEntries.windowsContext(
            "ldap",
            hostname: "DC01",
            [
                "os_version": "Windows Server 2019 Standard 17763", "workgroup": "CORP", "domain": "corp.local",
                "users": "anna.keller:Spring2024!", "ldap_anonymous": "false",
            ]
        )
    )

    private static let rdpService: RDPService? = try? RDPService(
        context: FuzzEntries.windowsContext(
            "rdp",
            hostname: "TS01",
            ["os_version": "Windows Server 2019", "build": "17763", "workgroup": "CORP"]
        )
    )

    /// The three services above, made, and the decky certificates they started in the background finished: a
    /// key still being generated when libFuzzer exits is reported by LeakSanitizer as a leak (16 bytes of a
    /// BIGNUM), which is the exit's, not the decoders'.
    static let settled: Void = {
        _ = (FuzzEntries.mssqlService, FuzzEntries.ldapService, FuzzEntries.rdpService)
        BackgroundMade<Int>.queue.sync {}
    }()

    /// mssql: TDS packet reassembly, then PRELOGIN, LOGIN7 (SQL and integrated) and the SSPI AUTHENTICATE.
    /// The challenge is the one impacket's recorded integrated login answered (`Replays/mssql/`).
    public static func mssql(_ bytes: [UInt8]) {
        _ = Self.settled
        guard let service = self.mssqlService else { return }
        var machine = MSSQLStateMachine(
            configuration: service.configuration,
            random: { [0x33, 0x36, 0x31, 0x48, 0x9A, 0x22, 0xDB, 0x6C] },
            now: { FuzzEntries.windowsNow }
        )
        self.decode(TDSMessageDecoder(), bytes) { _ = machine.received($0) }
    }

    /// ldap: BER framing, then binds (simple, Sicily, SASL NTLM), the rootDSE, directory searches once bound
    /// (anna.keller / Spring2024!; anonymous reads off), StartTLS and the rest of the LDAPMessage choices.
    public static func ldap(_ bytes: [UInt8]) {
        _ = Self.settled
        guard var configuration = self.ldapService?.configuration else { return }
        configuration.highestCommittedUSN = 200_000  // the service draws it at random
        var machine = LDAPStateMachine(
            configuration: configuration,
            random: { [1, 2, 3, 4, 5, 6, 7, 8] },
            now: { FuzzEntries.windowsNow },
            generalizedTime: { "20261205120000.0Z" }
        )
        self.decode(LDAPMessageDecoder(), bytes) { _ = machine.received($0) }
    }

    /// smb: NBSS framing, then SMB1's NEGOTIATE and session setup, SMB2/3 NEGOTIATE, NTLM session setups and, after
    /// alice / Password1's login (the challenge of smbclient's recorded login, `Replays/smb/`), the file server.
    /// An input that opens with a NetBIOS session request (0x81) is a connection to 139, any other one to 445.
    public static func smb(_ bytes: [UInt8]) {
        guard
            let service = try? SMBService(
                context: self.windowsContext(
                    "smb",
                    hostname: "srv01",
                    [
                        "os_version": "Windows Server 2019 Standard 17763", "workgroup": "CORP",
                        "users": "alice:Password1",
                    ]
                )
            )
        else { return }
        var configuration = service.configuration
        configuration.shares = configuration.shares.adding(service.planted)
        var machine = SMBStateMachine(
            configuration: configuration,
            netbiosSession: bytes.first == 0x81,
            random: { [0xC6, 0x80, 0x0D, 0x10, 0x60, 0xD9, 0xD1, 0xBC] },
            now: { FuzzEntries.windowsNow }
        )
        self.decode(NBSSFrameDecoder(), bytes) { _ = machine.received($0) }
    }

    /// rdp: TPKT and DER framing, the X.224 Connection Request, then CredSSP's TSRequests (NLA required, the
    /// default) and, in a second machine with `rdp_nla = optional`, the MCS Connect-Initial, domain PDUs and the
    /// Client Info PDU. The challenge is the one impacket's recorded SMB login answered.
    public static func rdp(_ bytes: [UInt8]) {
        _ = Self.settled
        guard let service = self.rdpService else { return }
        let challenge: [UInt8] = [0x06, 0xCB, 0xE5, 0x42, 0xA3, 0x96, 0x28, 0x67]
        var machines = [service.nlaRequired, false].map { nla -> RDPStateMachine in
            var machine = RDPStateMachine(
                identity: service.identity,
                random: { challenge },
                now: { FuzzEntries.windowsNow }
            )
            machine.nlaRequired = nla
            return machine
        }
        self.decode(RDPFrameDecoder(), bytes) { message in
            for index in machines.indices { _ = machines[index].received(message) }
        }
    }

    /// vnc: the RFB handshake (version, security type, the DES response; s3cr3t opens the desktop) and the
    /// session's client messages, from the raw bytes split in two as `imap` splits them (the service has no
    /// decoder). The challenge is hydra's recorded one, whose response for s3cr3t VNCTests holds.
    public static func vnc(_ bytes: [UInt8]) {
        guard
            let service = try? VNCService(
                context: self.context("vnc", ["vnc_password": "s3cr3t", "vnc_desktop": "ws01"])
            )
        else { return }
        var machine = VNCStateMachine(
            configuration: service.configuration,
            challenge: [
                0x9E, 0x09, 0x40, 0xF8, 0xD3, 0x36, 0x25, 0xD2, 0x0B, 0x39, 0x6D, 0xA8, 0x63, 0xC7, 0xF9, 0x57,
            ]
        )
        _ = machine.greeting
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
        _ = machine.received(Array(bytes[..<split]))
        _ = machine.received(Array(bytes[split...]))
        _ = machine.connectionClosed()
    }

    /// mqtt: the remaining-length framing, CONNECT (3.1, 3.1.1, 5; sensor / Tr0ub4dor accepted, anonymous too, as
    /// by default), then SUBSCRIBE with the retained tree, PUBLISH at every QoS, and the rest, on a fresh store.
    public static func mqtt(_ bytes: [UInt8]) {
        guard let service = try? MQTTService(context: self.context("mqtt", ["users": "sensor:Tr0ub4dor"])) else {
            return
        }
        var machine = MQTTStateMachine(configuration: service.configuration, store: service.store) { 123_456 }
        self.decode(MQTTPacketDecoder(), bytes) { _ = machine.received($0) }
    }
}
