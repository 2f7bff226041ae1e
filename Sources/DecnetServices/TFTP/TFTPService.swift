import DecnetCore
import DecnetServiceKit
import Synchronization

/// The `tftp` honeypot (69/udp): tftp-hpa serving a network device's boot and configuration files.
///
/// Persona key: DECNET-Swift's `tftp_files` (extra files, `name=content;name=content`). The default tree is what
/// routers, IP phones and PXE clients fetch (`startup-config`, `router-confg`, `network-confg`, `SEPDefault.cnf`,
/// `pxelinux.cfg/default`), with credentials in them an intruder would try elsewhere.
public struct TFTPService: DatagramService {
    public static let kind: ServiceKind = "tftp"

    let server: TFTPServer
    let artifacts: ArtifactStore

    /// A DATA block answers a four-byte ACK: TFTP's own ratio (the per-source rate still bounds a spoofed source).
    public var amplificationAllowance: Int? { 140 }

    /// tftpd-hpa forks for each request, so the first packet of a transfer leaves a moment after it (nmap's
    /// tftp-enum rebinds its port between sending and listening, and misses an instant answer).
    public func replyDelay(for datagram: [UInt8]) -> Duration? {
        datagram.count >= 2 && datagram[0] == 0 && (datagram[1] == 1 || datagram[1] == 2) ? .milliseconds(30) : nil
    }

    public init(context: ServiceContext) throws {
        // tftp_default_files = no: an empty tree, as a fresh tftpd-hpa serves (its own files still come from tftp_files).
        var files =
            context.persona["tftp_default_files"]?.lowercased() == "no"
            ? [:] : TFTPServer.defaultFiles(hostname: context.hostname)
        for pair in (context.persona["tftp_files"] ?? "").split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            files[String(parts[0])] = Array(parts[1].utf8)
        }
        self.server = TFTPServer(files: files, uploads: context.persona["tftp_uploads"]?.lowercased() != "no")
        self.artifacts = ArtifactStore(directory: context.artifactDirectory)
    }

    public func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]? {
        let (reply, events, upload) = self.server.receive(datagram, from: session.source.description)
        for (id, fields) in events { session.emit(id, fields) }
        if let (name, bytes) = upload {
            var fields = EventFields()
            fields.add("filename", attackerText: name)
            self.artifacts.keep(bytes, as: .fileUpload, fields: fields, session: session)
        }
        return reply
    }
}

/// TFTP (RFC 1350, with the option extension of RFC 2347–2349) as tftp-hpa answers it, without sockets: RRQ of the
/// persona's files in blocks acknowledged one by one, WRQ accepted and kept (up to a limit), options negotiated
/// (blksize, tsize, timeout), errors with tftp-hpa's messages. One transfer per client address and port, forgotten
/// after 30 seconds of silence. Answers come from port 69 itself (tftp-hpa uses a fresh port per transfer, which
/// clients accept either way).
final class TFTPServer: Sendable {
    struct Transfer: Sendable {
        enum Kind: Sendable {
            case read([UInt8])
            case write(name: String, received: [UInt8])
        }

        var kind: Kind
        var blockSize: Int
        /// The last block sent (reads) or received (writes).
        var block: Int
        var touched: ContinuousClock.Instant
    }

    static let maximumUpload = 1 << 20
    static let maximumTransfers = 1_000
    static let idle: Duration = .seconds(30)

    let files: [String: [UInt8]]
    private let transfers = Mutex<[String: Transfer]>([:])
    /// When idle transfers are next looked for.
    private let nextSweep = Mutex<ContinuousClock.Instant?>(nil)

    /// Whether a WRQ is taken (DECNET-Swift's default, to keep what attackers upload); without, tftpd-hpa's
    /// `--secure` rule without `-c`: only a file that exists and is world-writable (none here) may be written.
    let uploads: Bool

    init(files: [String: [UInt8]], uploads: Bool = true) {
        self.files = files
        self.uploads = uploads
    }

    /// A router's, a phone's and a PXE server's files.
    static func defaultFiles(hostname: String) -> [String: [UInt8]] {
        let name = String(hostname.split(separator: ".").first ?? Substring(hostname))
        let config = """
            !
            version 15.7
            service timestamps debug datetime msec
            service password-encryption
            !
            hostname \(name)
            !
            enable secret 5 $1$mERr$9cTjUIEqNGurQiFU.ZeCi1
            !
            username netadmin privilege 15 password 7 0822455D0A16544541
            !
            interface GigabitEthernet0/0
             ip address 10.0.0.1 255.255.255.0
             duplex auto
             speed auto
            !
            snmp-server community plant-ro RO
            snmp-server community N3tw0rk-RW RW
            !
            line vty 0 4
             login local
             transport input ssh telnet
            !
            end

            """
        let phone = """
            <?xml version="1.0" encoding="UTF-8"?>
            <device>
              <deviceProtocol>SIP</deviceProtocol>
              <sipProfile>
                <sipProxies><registerWithProxy>true</registerWithProxy></sipProxies>
                <sipLines><line button="1"><authName>2101</authName><authPassword>Ph0ne2101!</authPassword></line></sipLines>
              </sipProfile>
            </device>

            """
        let pxe =
            "DEFAULT install\nLABEL install\n  KERNEL debian-installer/amd64/linux\n  APPEND initrd=debian-installer/amd64/initrd.gz auto=true url=http://10.0.0.5/preseed.cfg\n"
        return [
            "startup-config": Array(config.utf8), "router-confg": Array(config.utf8),
            "network-confg": Array(config.utf8),
            "SEPDefault.cnf": Array(phone.utf8), "pxelinux.cfg/default": Array(pxe.utf8),
        ]
    }

    /// The reply to a datagram from `source`, the events it raises, and a finished upload to keep.
    func receive(_ datagram: [UInt8], from source: String) -> ([UInt8]?, [(EventID, EventFields)], (String, [UInt8])?) {
        guard datagram.count >= 4 else {
            return (nil, [Self.malformed("datagram of \(datagram.count) bytes", datagram)], nil)
        }
        let opcode = Int(datagram[0]) << 8 | Int(datagram[1])
        let now = ContinuousClock.now
        // Transfers silent for `idle` are forgotten, looked for at most once a second: filtering the table on
        // every datagram made a busy server's cost grow with its transfers.
        let sweep = self.nextSweep.withLock { next in
            guard next.map({ now >= $0 }) ?? true else { return false }
            next = now + .seconds(1)
            return true
        }
        if sweep {
            self.transfers.withLock { transfers in
                transfers = transfers.filter { now - $0.value.touched < Self.idle }
            }
        }
        switch opcode {
        case 1, 2:
            return self.request(datagram, write: opcode == 2, from: source, at: now)
        case 3:
            return self.data(datagram, from: source, at: now)
        case 4:
            let block = Int(datagram[2]) << 8 | Int(datagram[3])
            return (self.acknowledged(block, from: source, at: now), [], nil)
        case 5:
            self.transfers.withLock { $0[source] = nil }
            return (nil, [], nil)
        default:
            // tftp-hpa's port 69 reads requests only: anything else (a scanner's DNS, SNMP or RPC probe) is
            // dropped without a word, which is what nmap sees of the real one.
            return (nil, [Self.malformed("TFTP opcode \(opcode)", datagram)], nil)
        }
    }

    static func malformed(_ problem: String, _ bytes: [UInt8]) -> (EventID, EventFields) {
        (.clientMalformed, EventFields.malformed(problem, preview: bytes))
    }

    static func error(_ code: UInt16, _ message: String) -> [UInt8] {
        [0, 5, UInt8(code >> 8), UInt8(code & 0xFF)] + Array(message.utf8) + [0]
    }

    /// The NUL-terminated strings after the opcode: file name, mode, then option names and values.
    static func strings(_ datagram: [UInt8]) -> [String]? {
        let fields = datagram.dropFirst(2).split(separator: 0, omittingEmptySubsequences: false)
        guard datagram.last == 0, fields.count >= 3 else { return nil }
        return fields.dropLast().prefix(16).map { String(decoding: $0, as: UTF8.self) }
    }

    private func request(
        _ datagram: [UInt8],
        write: Bool,
        from source: String,
        at now: ContinuousClock.Instant
    )
        -> ([UInt8]?, [(EventID, EventFields)], (String, [UInt8])?)
    {
        guard let strings = Self.strings(datagram), strings.count >= 2 else {
            return (
                Self.error(4, "Missing mode"),
                [Self.malformed("request without a file name and mode", datagram)], nil
            )
        }
        let name = strings[0], mode = strings[1].lowercased()
        var options: [(String, String)] = []
        var index = 2
        while index + 1 < strings.count {
            options.append((strings[index].lowercased(), strings[index + 1]))
            index += 2
        }
        var fields = EventFields()
        fields.add("command", write ? "WRQ" : "RRQ")
        fields.add("args", attackerText: name)
        fields.add("mode", attackerText: mode)
        if !options.isEmpty {
            fields.add("options", attackerText: options.map { "\($0.0)=\($0.1)" }.joined(separator: ","))
        }
        var events: [(EventID, EventFields)] = [(.commandInput, fields)]
        guard ["octet", "netascii"].contains(mode) else {
            return (Self.error(4, "Unknown mode"), events, nil)
        }
        let key = Self.normalize(name)
        let full = self.transfers.withLock { $0.count >= Self.maximumTransfers && $0[source] == nil }
        guard !full else { return (Self.error(3, "Disk full or allocation exceeded"), events, nil) }
        // Options the server takes (RFC 2348, 2349): a block size within limits, the size, the timeout.
        var accepted: [(String, String)] = []
        var blockSize = 512
        var content: [UInt8] = []
        if write && !self.uploads {
            return (
                self.files[key] == nil ? Self.error(1, "File not found") : Self.error(0, "Permission denied"), events,
                nil
            )
        }
        if !write {
            guard let file = self.files[key] else { return (Self.error(1, "File not found"), events, nil) }
            content = mode == "netascii" ? Self.netascii(file) : file
            var download = EventFields()
            download.add("filename", key)
            download.add("url", "tftp:" + key)
            download.add("size", String(content.count))
            events.append((.fileDownload, download))
        }
        for (option, value) in options {
            switch option {
            case "blksize":
                if let size = Int(value), size >= 8 {
                    blockSize = min(size, 1_428)
                    accepted.append(("blksize", String(blockSize)))
                }
            case "tsize":
                accepted.append(("tsize", write ? value : String(content.count)))
            case "timeout":
                if let seconds = Int(value), (1...255).contains(seconds) { accepted.append(("timeout", value)) }
            default:
                continue
            }
        }
        let transfer = Transfer(
            kind: write ? .write(name: key, received: []) : .read(content),
            blockSize: blockSize,
            block: 0,
            touched: now
        )
        self.transfers.withLock { $0[source] = transfer }
        if !accepted.isEmpty {
            var oack: [UInt8] = [0, 6]
            for (option, value) in accepted {
                oack += Array(option.utf8)
                oack.append(0)
                oack += Array(value.utf8)
                oack.append(0)
            }
            return (oack, events, nil)
        }
        if write { return ([0, 4, 0, 0], events, nil) }
        return (self.acknowledged(0, from: source, at: now), events, nil)
    }

    /// The next DATA after the client acknowledged `block` (block 0: an OACK or the start), or nothing once the
    /// last block is acknowledged. A repeated ACK gets its block again.
    private func acknowledged(_ block: Int, from source: String, at now: ContinuousClock.Instant) -> [UInt8]? {
        self.transfers.withLock { transfers in
            guard var transfer = transfers[source], case .read(let content) = transfer.kind else { return nil }
            let total = content.count / transfer.blockSize + 1
            let sent = transfer.block
            let absolute: Int
            if block == sent & 0xFFFF {
                absolute = sent + 1
            } else if sent > 0 && block == (sent - 1) & 0xFFFF {
                absolute = sent  // the client missed the last block: send it again
            } else {
                return nil
            }
            guard absolute <= total else {
                transfers[source] = nil
                return nil
            }
            transfer.block = absolute
            transfer.touched = now
            transfers[source] = transfer
            let start = (absolute - 1) * transfer.blockSize
            let chunk = content[min(start, content.count)..<min(start + transfer.blockSize, content.count)]
            return [0, 3, UInt8(absolute >> 8 & 0xFF), UInt8(absolute & 0xFF)] + chunk
        }
    }

    private func data(
        _ datagram: [UInt8],
        from source: String,
        at now: ContinuousClock.Instant
    )
        -> ([UInt8]?, [(EventID, EventFields)], (String, [UInt8])?)
    {
        let block = Int(datagram[2]) << 8 | Int(datagram[3])
        let payload = Array(datagram[4...])
        return self.transfers.withLock { transfers in
            guard var transfer = transfers[source], case .write(let name, var received) = transfer.kind else {
                return (Self.error(5, "Unknown transfer ID"), [], nil)
            }
            guard block == (transfer.block + 1) & 0xFFFF else {
                // A retransmission: acknowledge what was kept.
                return ([0, 4, UInt8(transfer.block >> 8 & 0xFF), UInt8(transfer.block & 0xFF)], [], nil)
            }
            guard received.count + payload.count <= Self.maximumUpload else {
                transfers[source] = nil
                return (Self.error(3, "Disk full or allocation exceeded"), [], (name, received))
            }
            received += payload
            transfer.block += 1
            transfer.touched = now
            let ack: [UInt8] = [0, 4, UInt8(block >> 8), UInt8(block & 0xFF)]
            if payload.count < transfer.blockSize {
                transfers[source] = nil
                return (ack, [], (name, received))
            }
            transfer.kind = .write(name: name, received: received)
            transfers[source] = transfer
            return (ack, [], nil)
        }
    }

    /// A name as tftp-hpa's secure mode sees it: relative to its root, leading slashes dropped.
    static func normalize(_ name: String) -> String {
        String(name.drop { $0 == "/" })
    }

    static func netascii(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for byte in bytes {
            if byte == 0x0A {
                out += [0x0D, 0x0A]
            } else if byte == 0x0D {
                out += [0x0D, 0x00]
            } else {
                out.append(byte)
            }
        }
        return out
    }
}
