/// The server service (MS-SRVS) on the `\PIPE\srvsvc` named pipe, as much of it as share listing needs: DCE/RPC's
/// connection-oriented bind (C706 chapter 12, MS-RPCE 2.2.2) and NetrShareEnum (opnum 15) at levels 0 and 1, which
/// `smbclient -L`, impacket and `net view` call. Other operations get the fault a server sends for an operation
/// number it does not serve.
///
/// Nothing here trusts a length the client wrote: every read is checked against the PDU.
struct SRVSVCPipe: Equatable, Sendable {
    static let abstractSyntax: [UInt8] = [
        0xC8, 0x4F, 0x32, 0x4B, 0x70, 0x16, 0xD3, 0x01, 0x12, 0x78, 0x5A, 0x47, 0xBF, 0x6E, 0xE1, 0x88,
    ]
    static let ndr: [UInt8] = [
        0x04, 0x5D, 0x88, 0x8A, 0xEB, 0x1C, 0xC9, 0x11, 0x9F, 0xE8, 0x08, 0x00, 0x2B, 0x10, 0x48, 0x60,
    ]
    /// The bind-time feature negotiation syntax's fixed prefix (MS-RPCE 3.3.1.5.3).
    static let bindTimeFeaturePrefix: [UInt8] = [0x2C, 0x1C, 0xB7, 0x6C, 0x12, 0x98, 0x40, 0x45]

    /// What one PDU from the client asks for.
    enum Call: Equatable {
        case bind
        case shareEnum(level: UInt32)
        case other(opnum: UInt16)
        case invalid(String)
    }

    var bound = false
    /// The last response, waiting for the client's READ.
    var pending: [UInt8] = []
    let associationGroup: UInt32

    init(associationGroup: UInt32) {
        self.associationGroup = associationGroup
    }

    /// Handles one PDU written to the pipe: what it was, and the reply PDU queued for reading (nil: none).
    mutating func received(_ pdu: [UInt8], shares: [SMBShares.Share]) -> (call: Call, reply: [UInt8]?) {
        guard pdu.count >= 16, pdu[0] == 5, pdu[1] == 0 else { return (.invalid("not a DCE/RPC v5 PDU"), nil) }
        guard pdu[4] == 0x10 else { return (.invalid("big-endian or non-ASCII data representation"), nil) }
        let fragmentLength = Int(pdu.le16(8)), callID = pdu.le32(12)
        guard fragmentLength <= pdu.count, fragmentLength >= 16 else {
            return (.invalid("fragment length \(fragmentLength) beyond \(pdu.count) bytes"), nil)
        }
        let body = Array(pdu[16..<fragmentLength])
        switch pdu[2] {
        case 11:  // bind
            guard let reply = self.bindAck(body, callID: callID) else { return (.invalid("truncated bind"), nil) }
            self.bound = true
            return (.bind, reply)
        case 0:  // request
            guard self.bound, body.count >= 8 else { return (.invalid("request before bind"), nil) }
            let contextID = body.le16(4), opnum = body.le16(6)
            let stub = Array(body[(pdu[3] & 0x80 != 0 ? min(24, body.count) : 8)...])
            if opnum == 15, let level = Self.shareEnumLevel(stub) {
                return (
                    .shareEnum(level: level),
                    Self.response(
                        callID: callID,
                        contextID: contextID,
                        stub: Self.shareEnum(level: level, shares: shares)
                    )
                )
            }
            return (.other(opnum: opnum), Self.fault(callID: callID, contextID: contextID, status: 0x1C01_0002))
        default:
            return (.invalid("PDU type \(pdu[2])"), nil)
        }
    }

    private func bindAck(_ body: [UInt8], callID: UInt32) -> [UInt8]? {
        guard body.count >= 12 else { return nil }
        let count = Int(body[8])
        var results: [UInt8] = []
        var at = 12
        for _ in 0..<count {
            guard at + 24 <= body.count else { return nil }
            let transfers = Int(body[at + 2])
            let abstract = Array(body[(at + 4)..<(at + 20)])
            at += 24
            var accepted = false
            for index in 0..<transfers {
                guard at + 20 <= body.count else { return nil }
                let syntax = Array(body[at..<(at + 16)])
                at += 20
                if accepted { continue }
                if abstract != Self.abstractSyntax {
                    continue
                } else if syntax == Self.ndr && body.le32(at - 4) == 2 {
                    results += [0, 0, 0, 0] + Self.ndr + [2, 0, 0, 0]
                    accepted = true
                } else if Array(syntax.prefix(8)) == Self.bindTimeFeaturePrefix {
                    // negotiate_ack, keeping the connection when the client orphans a call (MS-RPCE 3.3.1.5.3).
                    results += [3, 0] + [syntax[8] & 0x02, 0] + [UInt8](repeating: 0, count: 20)
                    accepted = true
                } else if index == transfers - 1 {
                    results += [2, 0, 2, 0] + [UInt8](repeating: 0, count: 20)
                    accepted = true
                }
            }
            if !accepted { results += [2, 0, 1, 0] + [UInt8](repeating: 0, count: 20) }
        }
        var ack: [UInt8] = []
        ack.appendLE16(4280)
        ack.appendLE16(4280)
        ack.appendLE32(self.associationGroup)
        let address = Array("\\PIPE\\srvsvc".utf8) + [0]
        ack.appendLE16(UInt16(address.count))
        ack += address
        while (16 + ack.count) % 4 != 0 { ack.append(0) }
        ack += [UInt8(count), 0, 0, 0] + results
        return Self.pdu(type: 12, callID: callID, body: ack)
    }

    /// The Level of a NetrShareEnum request: after the optional server name (a unique pointer to a conformant,
    /// varying UTF-16 string), the level and the union's switch.
    static func shareEnumLevel(_ stub: [UInt8]) -> UInt32? {
        var at = 0
        guard stub.count >= 4 else { return nil }
        if stub.le32(0) != 0 {
            guard stub.count >= 16 else { return nil }
            let actual = Int(stub.le32(12))
            guard actual <= 1024 else { return nil }
            at = 16 + 2 * actual
            at = (at + 3) & ~3
        } else {
            at = 4
        }
        guard at + 8 <= stub.count else { return nil }
        return stub.le32(at)
    }

    /// The NetrShareEnum reply: SHARE_INFO_0 or _1 entries for every share; levels that need an administrator
    /// (2, 502, 503) get ERROR_ACCESS_DENIED, and unknown ones ERROR_INVALID_LEVEL.
    static func shareEnum(level: UInt32, shares: [SMBShares.Share]) -> [UInt8] {
        var stub: [UInt8] = []
        stub.appendLE32(level)
        stub.appendLE32(level)
        guard level == 0 || level == 1 else {
            stub.appendLE32(0)  // no container
            stub.appendLE32(0)  // TotalEntries
            stub.appendLE32(0)  // no resume handle
            stub.appendLE32([2, 502, 503].contains(level) ? 5 : 124)
            return stub
        }
        var referent: UInt32 = 0x0002_0000
        func pointer() {
            stub.appendLE32(referent)
            referent += 4
        }
        pointer()
        stub.appendLE32(UInt32(shares.count))
        pointer()
        stub.appendLE32(UInt32(shares.count))
        for share in shares {
            pointer()
            if level == 1 {
                stub.appendLE32(share.type)
                pointer()
            }
        }
        func string(_ text: String) {
            let units = Array(text.utf16) + [0]
            stub.appendLE32(UInt32(units.count))
            stub.appendLE32(0)
            stub.appendLE32(UInt32(units.count))
            for unit in units { stub.appendLE16(unit) }
            while stub.count % 4 != 0 { stub.append(0) }
        }
        for share in shares {
            string(share.name)
            if level == 1 { string(share.remark) }
        }
        stub.appendLE32(UInt32(shares.count))
        pointer()
        stub.appendLE32(0)
        stub.appendLE32(0)  // WERR_OK
        return stub
    }

    static func response(callID: UInt32, contextID: UInt16, stub: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLE32(UInt32(stub.count))
        body.appendLE16(contextID)
        body += [0, 0]
        return self.pdu(type: 2, callID: callID, body: body + stub)
    }

    static func fault(callID: UInt32, contextID: UInt16, status: UInt32) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLE32(0)
        body.appendLE16(contextID)
        body += [0, 0]
        body.appendLE32(status)
        body.appendLE32(0)
        return self.pdu(type: 3, callID: callID, body: body)
    }

    static func pdu(type: UInt8, callID: UInt32, body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [5, 0, type, 0x03, 0x10, 0, 0, 0]
        out.appendLE16(UInt16(16 + body.count))
        out.appendLE16(0)
        out.appendLE32(callID)
        return out + body
    }
}
