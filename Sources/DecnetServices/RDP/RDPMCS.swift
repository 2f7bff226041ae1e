/// RDP's connection sequence after TLS when NLA is not required (MS-RDPBCGR 1.3.1.1, TLS security): the MCS
/// Connect Initial with its GCC client data (what the client says it is), the Connect Response with the server's
/// data blocks, MCS domain set-up (erect domain, attach user, channel joins), and the Client Info PDU, whose
/// TS_INFO_PACKET carries the user name, domain and password in the clear (inside TLS).
///
/// Nothing here trusts a length the client wrote: every read is checked against the PDU.
enum RDPMCS {
    /// The X.224 Data TPDU header every MCS PDU rides in.
    static let dataHeader: [UInt8] = [0x02, 0xF0, 0x80]
    /// The MCS user id the server gives the client (1007; PER encodes it as 1007 - 1001).
    static let userID: UInt16 = 1007
    /// The I/O channel, then one channel per static virtual channel the client asks for.
    static let ioChannel: UInt16 = 1003

    /// What a client's GCC Conference Create Request says (CS_CORE and CS_NET).
    struct ClientData: Equatable {
        var version: UInt32 = 0
        var width: Int = 0
        var height: Int = 0
        var keyboardLayout: UInt32 = 0
        var build: UInt32 = 0
        var name = ""
        var channels: [String] = []
    }

    /// The payload of a TPKT carrying an X.224 Data TPDU, or nil.
    static func payload(_ tpkt: [UInt8]) -> [UInt8]? {
        guard tpkt.count >= 7, tpkt[0] == 3, Array(tpkt[4..<7]) == self.dataHeader else { return nil }
        return Array(tpkt[7...])
    }

    static func tpkt(_ payload: [UInt8]) -> [UInt8] {
        let length = 4 + 3 + payload.count
        return [3, 0, UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)] + self.dataHeader
            + payload
    }

    /// A BER length at `at`: the value and where the content starts.
    static func berLength(_ bytes: [UInt8], _ at: Int) -> (length: Int, start: Int)? {
        guard at < bytes.count else { return nil }
        let first = bytes[at]
        if first < 0x80 { return (Int(first), at + 1) }
        let count = Int(first & 0x7F)
        guard (1...3).contains(count), at + count < bytes.count else { return nil }
        let value = bytes[(at + 1)...(at + count)].reduce(0) { $0 << 8 | Int($1) }
        return (value, at + 1 + count)
    }

    static func berLength(_ value: Int) -> [UInt8] {
        if value < 0x80 { return [UInt8(value)] }
        if value < 0x100 { return [0x81, UInt8(value)] }
        return [0x82, UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// The client data of an MCS Connect-Initial (`7F 65`): its seventh element, userData, holds GCC's
    /// Conference Create Request, whose client data blocks follow the "Duca" key.
    static func connectInitial(_ payload: [UInt8]) -> ClientData? {
        guard payload.count > 4, payload[0] == 0x7F, payload[1] == 0x65,
            let (total, start) = self.berLength(payload, 2), start + total <= payload.count
        else { return nil }
        var at = start
        var userData: [UInt8]?
        for index in 0..<7 {
            guard at < start + total, let (length, content) = self.berLength(payload, at + 1),
                content + length <= start + total
            else { return nil }
            if index == 6 { userData = Array(payload[content..<(content + length)]) }
            at = content + length
        }
        guard let userData, let key = userData.firstRange(of: Array("Duca".utf8))?.upperBound,
            key < userData.count
        else { return nil }
        var blocks = key + 1
        if userData[key] & 0x80 != 0 { blocks += 1 }
        var data = ClientData()
        while blocks + 4 <= userData.count {
            let type = userData.le16(blocks), length = Int(userData.le16(blocks + 2))
            guard length >= 4, blocks + length <= userData.count else { break }
            let block = Array(userData[(blocks + 4)..<(blocks + length)])
            switch type {
            case 0xC001 where block.count >= 52:
                data.version = block.le32(0)
                data.width = Int(block.le16(4))
                data.height = Int(block.le16(6))
                data.keyboardLayout = block.le32(12)
                data.build = block.le32(16)
                data.name =
                    NTLM.decode(Array(block[20..<52]), .unicode).split(separator: "\0").first.map(String.init)
                    ?? ""
            case 0xC003 where block.count >= 4:
                let count = min(Int(block.le32(0)), 31, (block.count - 4) / 12)
                for channel in 0..<count {
                    let name = block[(4 + 12 * channel)..<(4 + 12 * channel + 8)].prefix { $0 != 0 }
                    data.channels.append(String(decoding: name, as: UTF8.self))
                }
            default: break
            }
            blocks += length
        }
        return data
    }

    /// The MCS Connect-Response (`7F 66`) with GCC's Conference Create Response and the server data blocks of TLS
    /// security: SC_CORE (RDP 5+, echoing the requested protocols), SC_NET (the I/O channel and one per static
    /// channel), SC_SECURITY (no RDP encryption: TLS protects the link), as MS-RDPBCGR 4.1.4 shows them.
    static func connectResponse(requestedProtocols: UInt32, channels: Int) -> [UInt8] {
        var core: [UInt8] = [0x01, 0x0C, 0x0C, 0x00, 0x04, 0x00, 0x08, 0x00]
        core.appendLE32(requestedProtocols)
        var net: [UInt8] = []
        net.appendLE16(self.ioChannel)
        net.appendLE16(UInt16(channels))
        for index in 0..<channels { net.appendLE16(self.ioChannel + 1 + UInt16(index)) }
        if channels % 2 == 1 { net += [0, 0] }
        net = [0x03, 0x0C] + UInt16(4 + net.count).littleEndianBytes + net
        let security: [UInt8] = [0x02, 0x0C, 0x0C, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
        let blocks = core + net + security
        let perLength: [UInt8] =
            blocks.count < 0x80
            ? [UInt8(blocks.count)]
            : [0x80 | UInt8(truncatingIfNeeded: blocks.count >> 8), UInt8(truncatingIfNeeded: blocks.count)]
        let response: [UInt8] =
            [0x14, 0x76, 0x0A, 0x01, 0x01, 0x00, 0x01, 0xC0, 0x00] + Array("McDn".utf8) + perLength + blocks
        let connectPDU: [UInt8] =
            response.count < 0x80
            ? [UInt8(response.count)]
            : [0x80 | UInt8(truncatingIfNeeded: response.count >> 8), UInt8(truncatingIfNeeded: response.count)]
        let userData: [UInt8] = [0x00, 0x05, 0x00, 0x14, 0x7C, 0x00, 0x01] + connectPDU + response
        let domain: [UInt8] = [
            0x30, 0x1A, 0x02, 0x01, 0x22, 0x02, 0x01, 0x03, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02,
            0x01, 0x01, 0x02, 0x03, 0x00, 0xFF, 0xF8, 0x02, 0x01, 0x02,
        ]
        let body: [UInt8] =
            [0x0A, 0x01, 0x00, 0x02, 0x01, 0x00] + domain + [0x04] + self.berLength(userData.count) + userData
        return self.tpkt([0x7F, 0x66] + self.berLength(body.count) + body)
    }

    /// What one domain PDU (MCS, PER-encoded) asks for.
    enum DomainPDU: Equatable {
        case erectDomain
        case attachUser
        case channelJoin(channel: UInt16)
        case sendData(channel: UInt16, data: [UInt8])
        case disconnect
        case other(UInt8)
    }

    static func domainPDU(_ payload: [UInt8]) -> DomainPDU? {
        guard let first = payload.first else { return nil }
        switch first >> 2 {
        case 1: return .erectDomain
        case 8: return .disconnect
        case 10: return .attachUser
        case 14:
            guard payload.count >= 5 else { return nil }
            return .channelJoin(channel: UInt16(payload[3]) << 8 | UInt16(payload[4]))
        case 25:
            guard payload.count >= 7 else { return nil }
            let channel = UInt16(payload[3]) << 8 | UInt16(payload[4])
            var at = 6, length = Int(payload[6])
            if length & 0x80 != 0 {
                guard payload.count >= 8 else { return nil }
                length = (length & 0x7F) << 8 | Int(payload[7])
                at = 8
            } else {
                at = 7
            }
            guard at + length <= payload.count else { return nil }
            return .sendData(channel: channel, data: Array(payload[at..<(at + length)]))
        default: return .other(first >> 2)
        }
    }

    /// Attach User Confirm: success, the client's user id.
    static var attachUserConfirm: [UInt8] { self.tpkt([0x2E, 0x00] + (self.userID - 1001).bigEndianBytes) }

    /// Channel Join Confirm: success for the channel asked for.
    static func channelJoinConfirm(_ channel: UInt16) -> [UInt8] {
        self.tpkt([0x3E, 0x00] + (self.userID - 1001).bigEndianBytes + channel.bigEndianBytes + channel.bigEndianBytes)
    }

    /// Disconnect Provider Ultimatum (rn-user-requested), which ends the MCS connection.
    static let disconnect: [UInt8] = RDPMCS.tpkt([0x21, 0x80])

    /// A Client Info PDU's credentials (TS_INFO_PACKET after the security header).
    struct ClientInfo: Equatable {
        var domain: String
        var user: String
        var password: String
        var autologon: Bool
    }

    static func clientInfo(_ data: [UInt8]) -> ClientInfo? {
        // Basic security header: flags (SEC_INFO_PKT 0x0040), flagsHi.
        guard data.count >= 4 + 18, data.le16(0) & 0x0040 != 0 else { return nil }
        let info = Array(data[4...])
        let flags = info.le32(4)
        let unicode = flags & 0x10 != 0
        let terminator = unicode ? 2 : 1
        var at = 18
        var fields: [String] = []
        for index in 0..<3 {
            let length = Int(info.le16(8 + 2 * index))
            guard length <= 512, at + length + terminator <= info.count else { return nil }
            let bytes = Array(info[at..<(at + length)])
            fields.append(unicode ? NTLM.decode(bytes, .unicode) : String(decoding: bytes, as: UTF8.self))
            at += length + terminator
        }
        return ClientInfo(domain: fields[0], user: fields[1], password: fields[2], autologon: flags & 0x8 != 0)
    }
}

extension FixedWidthInteger {
    var bigEndianBytes: [UInt8] {
        (0..<(Self.bitWidth / 8)).reversed().map { UInt8(truncatingIfNeeded: self >> ($0 * 8)) }
    }
}
