import DecnetServiceKit
import NIOCore

/// One NetBIOS session service message (RFC 1002 §4.3; on 445 the "direct TCP" form of MS-SMB2 2.1 with a
/// 24-bit length): its type and payload.
public enum NBSSFrame: Equatable, Sendable {
    /// A session message (type 0x00): an SMB1 or SMB2 message, or anything the client sent in its place.
    case message([UInt8])
    /// A session request (0x81) with the called and calling NetBIOS names, still encoded.
    case sessionRequest([UInt8])
    /// A keep-alive (0x85), which the server ignores.
    case keepAlive
    /// A header no SMB server accepts (a type a client never sends, a length beyond the limit): the server
    /// closes. The reason and the first bytes.
    case invalid(String, [UInt8])
}

/// Frames NBSS messages without trusting the declared length beyond `maximumLength`.
struct NBSSFrameDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = NBSSFrame

    /// Largest message read (a client's messages before a login are a few kilobytes; Windows' own limit for
    /// a negotiated session is 8 MiB plus headers).
    static let maximumLength = 1 << 20

    private var failed = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard let header = buffer.getBytes(at: buffer.readerIndex, length: 4) else { return .needMoreData }
        let length = Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        let problem: String? =
            if ![0x00, 0x81, 0x85].contains(header[0]) {
                "NetBIOS message type 0x" + String(header[0], radix: 16)
            } else if length > Self.maximumLength {
                "NetBIOS message of \(length) bytes"
            } else {
                nil
            }
        if let problem {
            self.failed = true
            let preview = buffer.discardReadable()
            context.fireChannelRead(Self.wrapInboundOut(.invalid(problem, preview)))
            return .needMoreData
        }
        guard buffer.readableBytes >= 4 + length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let payload = buffer.readBytes(length: length)!
        let frame: NBSSFrame =
            switch header[0] {
            case 0x00: .message(payload)
            case 0x81: .sessionRequest(payload)
            default: .keepAlive
            }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }
}

enum NBSS {
    /// Frames a session message (type 0, 24-bit length).
    static func message(_ payload: [UInt8]) -> [UInt8] {
        [
            0, UInt8(truncatingIfNeeded: payload.count >> 16), UInt8(truncatingIfNeeded: payload.count >> 8),
            UInt8(truncatingIfNeeded: payload.count),
        ] + payload
    }

    static let positiveSessionResponse: [UInt8] = [0x82, 0, 0, 0]

    /// A negative session response with its error code (0x82 called name not present, 0x8F unspecified).
    static func negativeSessionResponse(_ code: UInt8) -> [UInt8] { [0x83, 0, 0, 1, code] }

    /// Decodes one first-level encoded NetBIOS name (RFC 1001 §14.1: a length byte 0x20, 32 letters 'A'–'P',
    /// a zero label) starting at `offset`: the 15-character name without padding, and its suffix byte.
    static func name(_ bytes: [UInt8], at offset: Int) -> (name: String, suffix: UInt8)? {
        guard offset >= 0, offset + 33 <= bytes.count, bytes[offset] == 0x20 else { return nil }
        var decoded: [UInt8] = []
        for index in stride(from: offset + 1, to: offset + 33, by: 2) {
            let high = bytes[index] &- 0x41, low = bytes[index + 1] &- 0x41
            guard high < 16, low < 16 else { return nil }
            decoded.append(high << 4 | low)
        }
        let suffix = decoded.removeLast()
        let name = String(decoding: decoded, as: UTF8.self)
        return (String(name.reversed().drop { $0 == " " || $0 == "\0" }.reversed()), suffix)
    }
}

/// The 64-byte SMB2 header (MS-SMB2 2.2.1.2, the synchronous form).
struct SMB2Header: Equatable, Sendable {
    static let size = 64
    static let protocolID: [UInt8] = [0xFE, 0x53, 0x4D, 0x42]

    var creditCharge: UInt16
    var status: UInt32
    var command: UInt16
    var credits: UInt16
    var flags: UInt32
    var nextCommand: UInt32
    var messageID: UInt64
    var processID: UInt32
    var treeID: UInt32
    var sessionID: UInt64

    /// Reads a header at `offset`, or nil when the bytes are not one.
    init?(_ bytes: [UInt8], at offset: Int = 0) {
        guard offset >= 0, bytes.count - offset >= Self.size, Array(bytes[offset..<offset + 4]) == Self.protocolID,
            bytes.le16(offset + 4) == 64
        else { return nil }
        self.creditCharge = bytes.le16(offset + 6)
        self.status = bytes.le32(offset + 8)
        self.command = bytes.le16(offset + 12)
        self.credits = bytes.le16(offset + 14)
        self.flags = bytes.le32(offset + 16)
        self.nextCommand = bytes.le32(offset + 20)
        self.messageID = bytes.le64(offset + 24)
        self.processID = bytes.le32(offset + 32)
        self.treeID = bytes.le32(offset + 36)
        self.sessionID = bytes.le64(offset + 40)
    }

    /// The header of the reply to this request.
    func response(status: UInt32, credits: UInt16, sessionID: UInt64? = nil) -> [UInt8] {
        var out = Self.protocolID
        out.appendLE16(64)
        out.appendLE16(self.creditCharge)
        out.appendLE32(status)
        out.appendLE16(self.command)
        out.appendLE16(credits)
        out.appendLE32(0x0000_0001)  // SMB2_FLAGS_SERVER_TO_REDIR
        out.appendLE32(0)
        out.appendLE64(self.messageID)
        out.appendLE32(self.processID)
        out.appendLE32(self.treeID)
        out.appendLE64(sessionID ?? self.sessionID)
        out.append(contentsOf: [UInt8](repeating: 0, count: 16))
        return out
    }
}

/// SMB2 commands (MS-SMB2 2.2.1.2).
enum SMB2Command: UInt16 {
    case negotiate = 0, sessionSetup, logoff, treeConnect, treeDisconnect, create, close, flush, read, write, lock,
        ioctl, cancel, echo, queryDirectory, changeNotify, queryInfo, setInfo, oplockBreak

    var name: String {
        switch self {
        case .negotiate: "NEGOTIATE"
        case .sessionSetup: "SESSION_SETUP"
        case .logoff: "LOGOFF"
        case .treeConnect: "TREE_CONNECT"
        case .treeDisconnect: "TREE_DISCONNECT"
        case .create: "CREATE"
        case .close: "CLOSE"
        case .flush: "FLUSH"
        case .read: "READ"
        case .write: "WRITE"
        case .lock: "LOCK"
        case .ioctl: "IOCTL"
        case .cancel: "CANCEL"
        case .echo: "ECHO"
        case .queryDirectory: "QUERY_DIRECTORY"
        case .changeNotify: "CHANGE_NOTIFY"
        case .queryInfo: "QUERY_INFO"
        case .setInfo: "SET_INFO"
        case .oplockBreak: "OPLOCK_BREAK"
        }
    }
}

/// NTSTATUS values the emulator answers with.
enum NTStatus {
    static let success: UInt32 = 0
    static let moreProcessingRequired: UInt32 = 0xC000_0016
    static let invalidParameter: UInt32 = 0xC000_000D
    static let accessDenied: UInt32 = 0xC000_0022
    static let logonFailure: UInt32 = 0xC000_006D
    static let notSupported: UInt32 = 0xC000_00BB
    static let userSessionDeleted: UInt32 = 0xC000_0203
    /// STATUS_SMB_BAD_UID (ERRSRV/ERRbaduid): an SMB1 request with a user id no session has.
    static let smbBadUID: UInt32 = 0x005B_0002
    static let badNetworkName: UInt32 = 0xC000_00CC
    static let networkNameDeleted: UInt32 = 0xC000_00C9
    static let objectNameNotFound: UInt32 = 0xC000_0034
    static let objectPathNotFound: UInt32 = 0xC000_003A
    static let objectNameCollision: UInt32 = 0xC000_0035
    static let notADirectory: UInt32 = 0xC000_0103
    static let fileIsADirectory: UInt32 = 0xC000_00BA
    static let fileClosed: UInt32 = 0xC000_0128
    static let pipeEmpty: UInt32 = 0xC000_00D9
    static let pipeDisconnected: UInt32 = 0xC000_00B0
    static let invalidDeviceRequest: UInt32 = 0xC000_0010
    static let endOfFile: UInt32 = 0xC000_0011
    static let notFound: UInt32 = 0xC000_0225
    static let fsDriverRequired: UInt32 = 0xC000_019C
    static let noSuchFile: UInt32 = 0xC000_000F
    static let noMoreFiles: UInt32 = 0x8000_0006
    static let bufferOverflow: UInt32 = 0x8000_0005
    static let invalidInfoClass: UInt32 = 0xC000_0003
    static let infoLengthMismatch: UInt32 = 0xC000_0004
}

/// An SMB2 NEGOTIATE request's content (MS-SMB2 2.2.3).
struct SMB2NegotiateRequest: Equatable, Sendable {
    var dialects: [UInt16]
    var securityMode: UInt16
    var capabilities: UInt32
    var clientGUID: [UInt8]
    /// Negotiate contexts (3.1.1): type and data.
    var contexts: [(type: UInt16, data: [UInt8])]

    static func == (lhs: SMB2NegotiateRequest, rhs: SMB2NegotiateRequest) -> Bool {
        lhs.dialects == rhs.dialects && lhs.securityMode == rhs.securityMode && lhs.capabilities == rhs.capabilities
            && lhs.clientGUID == rhs.clientGUID
            && lhs.contexts.elementsEqual(rhs.contexts) { $0.type == $1.type && $0.data == $1.data }
    }

    /// Reads the body after the header at `offset`; nil when it is truncated or lies about its sizes.
    init?(_ bytes: [UInt8], header offset: Int) {
        let body = offset + SMB2Header.size
        guard bytes.count >= body + 36, bytes.le16(body) == 36 else { return nil }
        let count = Int(bytes.le16(body + 2))
        guard count > 0, count <= 64, bytes.count >= body + 36 + 2 * count else { return nil }
        self.securityMode = bytes.le16(body + 4)
        self.capabilities = bytes.le32(body + 8)
        self.clientGUID = Array(bytes[(body + 12)..<(body + 28)])
        self.dialects = (0..<count).map { bytes.le16(body + 36 + 2 * $0) }
        self.contexts = []
        guard self.dialects.contains(0x0311) else { return }
        let contextOffset = Int(bytes.le32(body + 28)), contextCount = Int(bytes.le16(body + 32))
        var at = offset + contextOffset
        for _ in 0..<min(contextCount, 16) {
            guard at >= body, at + 8 <= bytes.count else { break }
            let type = bytes.le16(at), length = Int(bytes.le16(at + 2))
            guard at + 8 + length <= bytes.count else { break }
            self.contexts.append((type, Array(bytes[(at + 8)..<(at + 8 + length)])))
            at += 8 + length
            at = (at + 7) & ~7
        }
    }

    /// The ciphers an ENCRYPTION_CAPABILITIES context offers.
    var ciphers: [UInt16] {
        guard let data = self.contexts.first(where: { $0.type == 2 })?.data, data.count >= 2 else { return [] }
        let count = min(Int(data.le16(0)), (data.count - 2) / 2)
        return (0..<count).map { data.le16(2 + 2 * $0) }
    }
}

/// An SMB1 message (MS-CIFS 2.2.3.1): header fields the emulator reads, the parameter words and the data bytes.
struct SMB1Message: Equatable, Sendable {
    static let protocolID: [UInt8] = [0xFF, 0x53, 0x4D, 0x42]

    var command: UInt8
    var flags2: UInt16
    var processIDHigh: UInt16
    var processID: UInt16
    var userID: UInt16
    var multiplexID: UInt16
    var treeID: UInt16
    var wordCount: Int
    /// The parameter words, as bytes.
    var words: [UInt8]
    var data: [UInt8]

    /// Where the data bytes start, counted from the SMB header (Unicode strings align to it).
    var dataOffset: Int { 35 + 2 * self.wordCount }
    var unicode: Bool { self.flags2 & 0x8000 != 0 }
    var extendedSecurity: Bool { self.flags2 & 0x0800 != 0 }

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 35, Array(bytes[0..<4]) == Self.protocolID else { return nil }
        self.command = bytes[4]
        self.flags2 = bytes.le16(10)
        self.processIDHigh = bytes.le16(12)
        self.treeID = bytes.le16(24)
        self.processID = bytes.le16(26)
        self.userID = bytes.le16(28)
        self.multiplexID = bytes.le16(30)
        let wordCount = Int(bytes[32])
        guard bytes.count >= 33 + 2 * wordCount + 2 else { return nil }
        self.wordCount = wordCount
        self.words = Array(bytes[33..<(33 + 2 * wordCount)])
        let byteCount = Int(bytes.le16(33 + 2 * wordCount))
        let start = 35 + 2 * wordCount
        self.data = Array(bytes[start..<min(bytes.count, start + byteCount)])
    }

    /// The dialect strings of a NEGOTIATE (each `0x02` followed by a NUL-terminated name).
    var dialects: [String] {
        var names: [String] = []
        var index = 0
        while index < self.data.count, names.count < 64 {
            guard self.data[index] == 0x02 else { break }
            let start = index + 1
            let end = self.data[start...].firstIndex(of: 0) ?? self.data.count
            names.append(String(decoding: self.data[start..<end], as: UTF8.self))
            index = end + 1
        }
        return names
    }
}
