import Crypto
import DecnetCore
import NIOCore

/// The parts of the SSH transport (RFC 4253) that come before encryption: the identification line, the binary
/// packet framing with no cipher and no MAC, and KEXINIT. They are what scanners and fingerprinting (nmap,
/// ssh2-enum-algos, HASSH) see, and what a key exchange starts from. Pure values; no I/O.
enum SSHWire {
    /// Why bytes from the peer are not valid SSH; the connection is to be closed.
    struct ProtocolError: Error, Equatable, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// RFC 4253 §4.2: at most 255 bytes including CR LF.
    static let maximumIdentificationLength = 255

    /// Where the client's first line ends (the index of its LF), nil while it is incomplete; throws as soon as
    /// sshd would give up on it. sshd reads the line byte by byte and gives up at a NUL, at a CR that no LF
    /// follows, or past 255 bytes.
    static func identificationEnd(_ bytes: ByteBufferView) throws -> Int? {
        var previous: UInt8 = 0
        for index in bytes.indices {
            let byte = bytes[index]
            if byte == 0x0A { return index }
            if byte == 0 || (previous == 0x0D && byte != 0x0D) {
                throw ProtocolError("identification contains invalid characters")
            }
            previous = byte
        }
        if bytes.count > maximumIdentificationLength {
            throw ProtocolError("identification longer than 255 bytes")
        }
        return nil
    }
    /// RFC 4253 §6.1: every implementation must take packets of 35,000 bytes in all; OpenSSH refuses a
    /// packet_length above 256 KiB. Before encryption nothing larger is sensible.
    static let maximumPacketLength = 35_000

    /// An identification line, `SSH-protoversion-softwareversion SP comments`, without its CR LF.
    struct Identification: Equatable {
        var protocolVersion: String
        var softwareVersion: String
        var comments: String?
        /// The whole line as sent (what HASSH tools and the key exchange hash use).
        var line: String

        /// Parses one line (CR LF or LF stripped). Lines before the identification that do not start with
        /// `SSH-` are the caller's to skip (RFC 4253 §4.2 lets a server send them; a client should not).
        init(line: String) throws {
            guard line.utf8.count <= SSHWire.maximumIdentificationLength - 2 else {
                throw ProtocolError("identification longer than 255 bytes")
            }
            guard line.hasPrefix("SSH-") else { throw ProtocolError("not an SSH identification") }
            guard line.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                throw ProtocolError("identification contains invalid characters")
            }
            let body = line.dropFirst(4)
            guard let dash = body.firstIndex(of: "-") else {
                throw ProtocolError("identification has no software version")
            }
            let protocolVersion = String(body[..<dash])
            let rest = body[body.index(after: dash)...]
            let software: Substring
            var comments: String?
            if let space = rest.firstIndex(of: " ") {
                software = rest[..<space]
                comments = String(rest[rest.index(after: space)...])
            } else {
                software = rest
            }
            guard protocolVersion == "2.0" || protocolVersion == "1.99" else {
                throw ProtocolError("protocol version \(protocolVersion) is not supported")
            }
            guard !software.isEmpty else { throw ProtocolError("identification has no software version") }
            self.protocolVersion = protocolVersion
            self.softwareVersion = String(software)
            self.comments = comments
            self.line = line
        }
    }

    /// Reads one unencrypted binary packet from `buffer`: nil when more bytes are needed; throws on a length no
    /// peer may send. Returns the payload.
    static func readPlainPacket(_ buffer: inout ByteBuffer) throws -> [UInt8]? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= 12, length <= UInt32(Self.maximumPacketLength) else {
            throw ProtocolError("bad packet length \(length)")
        }
        guard (length + 4) % 8 == 0 else {
            throw ProtocolError("packet length \(length) is not a multiple of the block size")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let padding = Int(buffer.readInteger(as: UInt8.self)!)
        guard padding >= 4, padding < Int(length) else {
            throw ProtocolError("bad padding length \(padding) in a packet of \(length)")
        }
        let payload = buffer.readBytes(length: Int(length) - 1 - padding)!
        buffer.moveReaderIndex(forwardBy: padding)
        return payload
    }

    /// Frames `payload` as an unencrypted binary packet: padding to a multiple of 8, at least 4 bytes of it.
    static func plainPacket(_ payload: [UInt8], padding generator: (Int) -> [UInt8] = Self.randomBytes) -> [UInt8] {
        var paddingLength = 8 - (4 + 1 + payload.count) % 8
        if paddingLength < 4 { paddingLength += 8 }
        var packet: [UInt8] = []
        packet.reserveCapacity(5 + payload.count + paddingLength)
        let length = UInt32(1 + payload.count + paddingLength)
        packet.append(contentsOf: withUnsafeBytes(of: length.bigEndian, Array.init))
        packet.append(UInt8(paddingLength))
        packet.append(contentsOf: payload)
        packet.append(contentsOf: generator(paddingLength))
        return packet
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        PooledRandom.bytes(count)
    }
}

/// SSH_MSG_KEXINIT (RFC 4253 §7.1): the algorithm lists each side offers, in preference order.
struct SSHKexInit: Equatable {
    static let messageNumber: UInt8 = 20

    var cookie: [UInt8]
    var kexAlgorithms: [String]
    var serverHostKeyAlgorithms: [String]
    var encryptionClientToServer: [String]
    var encryptionServerToClient: [String]
    var macClientToServer: [String]
    var macServerToClient: [String]
    var compressionClientToServer: [String]
    var compressionServerToClient: [String]
    var languagesClientToServer: [String] = []
    var languagesServerToClient: [String] = []
    var firstKexPacketFollows = false
    var reserved: UInt32 = 0

    /// Every name-list is at most this long (OpenSSH's own lists are under 400 bytes).
    static let maximumNameListLength = 4096

    /// Parses a KEXINIT payload (starting with its message number).
    init(payload: [UInt8]) throws {
        var buffer = ByteBuffer(bytes: payload)
        guard buffer.readInteger(as: UInt8.self) == Self.messageNumber else {
            throw SSHWire.ProtocolError("not a KEXINIT")
        }
        guard let cookie = buffer.readBytes(length: 16) else { throw SSHWire.ProtocolError("KEXINIT is truncated") }
        self.cookie = cookie
        func list() throws -> [String] {
            guard let length = buffer.readInteger(as: UInt32.self) else {
                throw SSHWire.ProtocolError("KEXINIT is truncated")
            }
            guard length <= UInt32(Self.maximumNameListLength), let bytes = buffer.readBytes(length: Int(length)) else {
                throw SSHWire.ProtocolError("KEXINIT name-list of \(length) bytes")
            }
            guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw SSHWire.ProtocolError("KEXINIT name-list has invalid characters")
            }
            if bytes.isEmpty { return [] }
            // Empty names are kept (so the HASSH text is the list as sent); they match nothing.
            return String(decoding: bytes, as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false)
                .map(String.init)
        }
        self.kexAlgorithms = try list()
        self.serverHostKeyAlgorithms = try list()
        self.encryptionClientToServer = try list()
        self.encryptionServerToClient = try list()
        self.macClientToServer = try list()
        self.macServerToClient = try list()
        self.compressionClientToServer = try list()
        self.compressionServerToClient = try list()
        self.languagesClientToServer = try list()
        self.languagesServerToClient = try list()
        guard let follows = buffer.readInteger(as: UInt8.self), let reserved = buffer.readInteger(as: UInt32.self)
        else {
            throw SSHWire.ProtocolError("KEXINIT is truncated")
        }
        self.firstKexPacketFollows = follows != 0
        self.reserved = reserved
    }

    init(
        cookie: [UInt8],
        kex: [String],
        hostKeys: [String],
        encryption: [String],
        mac: [String],
        compression: [String]
    ) {
        self.cookie = cookie
        self.kexAlgorithms = kex
        self.serverHostKeyAlgorithms = hostKeys
        self.encryptionClientToServer = encryption
        self.encryptionServerToClient = encryption
        self.macClientToServer = mac
        self.macServerToClient = mac
        self.compressionClientToServer = compression
        self.compressionServerToClient = compression
    }

    /// The payload, message number first.
    var payload: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(Self.messageNumber)
        buffer.writeBytes(self.cookie)
        for list in [
            self.kexAlgorithms, self.serverHostKeyAlgorithms, self.encryptionClientToServer,
            self.encryptionServerToClient, self.macClientToServer, self.macServerToClient,
            self.compressionClientToServer, self.compressionServerToClient, self.languagesClientToServer,
            self.languagesServerToClient,
        ] {
            let joined = Array(list.joined(separator: ",").utf8)
            buffer.writeInteger(UInt32(joined.count))
            buffer.writeBytes(joined)
        }
        buffer.writeInteger(UInt8(self.firstKexPacketFollows ? 1 : 0))
        buffer.writeInteger(self.reserved)
        return Array(buffer.readableBytesView)
    }

    /// HASSH of a client's KEXINIT: md5 of `kex;encryption c2s;mac c2s;compression c2s` (Salesforce's HASSH).
    var hasshClientText: String {
        [self.kexAlgorithms, self.encryptionClientToServer, self.macClientToServer, self.compressionClientToServer]
            .map { $0.joined(separator: ",") }.joined(separator: ";")
    }

    /// HASSH-server of a server's KEXINIT: the same over the server-to-client lists.
    var hasshServerText: String {
        [self.kexAlgorithms, self.encryptionServerToClient, self.macServerToClient, self.compressionServerToClient]
            .map { $0.joined(separator: ",") }.joined(separator: ";")
    }

    static func md5(_ text: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        return String(
            decoding: Insecure.MD5.hash(data: Array(text.utf8)).flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 0x0F)]] },
            as: UTF8.self
        )
    }

    var hassh: String { Self.md5(self.hasshClientText) }
    var hasshServer: String { Self.md5(self.hasshServerText) }
}
