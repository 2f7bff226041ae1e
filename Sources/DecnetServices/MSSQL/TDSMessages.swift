import DecnetServiceKit
import NIOCore

/// One TDS message (MS-TDS 2.2.3): its packet type and the payload of all its packets up to end-of-message.
public enum TDSMessage: Equatable, Sendable {
    case message(type: UInt8, payload: [UInt8])
    /// A header no client sends (a length below 8 or beyond the limit); the server closes.
    case invalid(String, [UInt8])
}

/// Reassembles TDS packets into messages, trusting no length beyond the limits.
struct TDSMessageDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = TDSMessage

    /// Largest message (its packets together) the honeypot reads; a packet's own length is at most 64 KiB.
    static let maximumMessage = 1 << 18

    private var pending: [UInt8] = []
    private var failed = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard let header = buffer.getBytes(at: buffer.readerIndex, length: 8) else { return .needMoreData }
        let length = Int(header[2]) << 8 | Int(header[3])
        let problem: String? =
            length < 8
            ? "TDS packet of \(length) bytes"
            : self.pending.count + length - 8 > Self.maximumMessage
                ? "TDS message over \(Self.maximumMessage) bytes" : nil
        if let problem {
            self.failed = true
            let preview = buffer.discardReadable()
            context.fireChannelRead(Self.wrapInboundOut(.invalid(problem, preview)))
            return .needMoreData
        }
        guard buffer.readableBytes >= length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 8)
        self.pending += buffer.readBytes(length: length - 8)!
        if header[1] & 0x01 != 0 {
            let payload = self.pending
            self.pending = []
            context.fireChannelRead(Self.wrapInboundOut(.message(type: header[0], payload: payload)))
        }
        return .continue
    }
}

enum TDS {
    static let preLogin: UInt8 = 0x12
    static let login7: UInt8 = 0x10
    static let sspi: UInt8 = 0x11
    static let tabularResult: UInt8 = 0x04

    /// One server packet: type, status end-of-message, length, SPID 0, packet id 1, window 0.
    static func packet(_ type: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let length = payload.count + 8
        return [type, 0x01, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0, 1, 0] + payload
    }

    /// PRELOGIN options (MS-TDS 2.2.6.5): token and data, in the order sent.
    static func preLoginOptions(_ payload: [UInt8]) -> [(token: UInt8, data: [UInt8])]? {
        var options: [(UInt8, [UInt8])] = []
        var at = 0
        while at < payload.count, payload[at] != 0xFF, options.count < 16 {
            guard at + 5 <= payload.count else { return nil }
            let offset = Int(payload[at + 1]) << 8 | Int(payload[at + 2])
            let length = Int(payload[at + 3]) << 8 | Int(payload[at + 4])
            guard offset <= payload.count, length <= payload.count - offset else { return nil }
            options.append((payload[at], Array(payload[offset..<(offset + length)])))
            at += 5
        }
        return at < payload.count ? options : nil
    }

    /// A PRELOGIN response carrying `values` (token → data) in that order.
    static func preLoginResponse(_ values: [(token: UInt8, data: [UInt8])]) -> [UInt8] {
        var table: [UInt8] = []
        var data: [UInt8] = []
        let start = values.count * 5 + 1
        for (token, value) in values {
            let offset = start + data.count
            table += [
                token, UInt8(offset >> 8), UInt8(offset & 0xFF), UInt8(value.count >> 8), UInt8(value.count & 0xFF),
            ]
            data += value
        }
        return table + [0xFF] + data
    }

    /// What a LOGIN7 message carries (MS-TDS 2.2.6.4).
    struct Login: Equatable {
        var tdsVersion: UInt32
        var clientProgramVersion: UInt32
        var clientPID: UInt32
        var integratedSecurity: Bool
        var hostName: String
        var userName: String
        var password: [UInt8]
        var appName: String
        var serverName: String
        var library: String
        var language: String
        var database: String
        var clientID: [UInt8]
        var sspi: [UInt8]
    }

    /// Reads a LOGIN7; nil when its fixed part is short or a field lies outside it.
    static func login(_ payload: [UInt8]) -> Login? {
        guard payload.count >= 94 else { return nil }
        func le16(_ at: Int) -> Int { Int(payload[at]) | Int(payload[at + 1]) << 8 }
        func le32(_ at: Int) -> UInt32 {
            UInt32(payload[at]) | UInt32(payload[at + 1]) << 8 | UInt32(payload[at + 2]) << 16 | UInt32(payload[at + 3])
                << 24
        }
        func bytes(_ at: Int, characters: Bool) -> [UInt8]? {
            let offset = le16(at), count = le16(at + 2) * (characters ? 2 : 1)
            if count == 0 { return [] }
            guard offset <= payload.count, count <= payload.count - offset, count <= 8192 else { return nil }
            return Array(payload[offset..<(offset + count)])
        }
        func text(_ at: Int) -> String? { bytes(at, characters: true).map { NTLM.decode($0, .unicode) } }
        guard let host = text(36), let user = text(40), let password = bytes(44, characters: true),
            let app = text(48), let server = text(52), let library = text(60), let language = text(64),
            let database = text(68), let sspi = bytes(78, characters: false)
        else { return nil }
        return Login(
            tdsVersion: le32(4),
            clientProgramVersion: le32(12),
            clientPID: le32(16),
            integratedSecurity: payload[25] & 0x80 != 0,
            hostName: host,
            userName: user,
            password: password.map { byte in
                let plain = byte ^ 0xA5
                return plain << 4 | plain >> 4
            },
            appName: app,
            serverName: server,
            library: library,
            language: language,
            database: database,
            clientID: Array(payload[72..<78]),
            sspi: sspi
        )
    }

    /// The ERROR token (0xAA) and a DONE with the error bit: a failed login as SQL Server reports it.
    /// `tdsVersion` is the client's: from 7.2 the line number and the DONE row count are wider.
    static func loginFailed(
        _ message: String,
        number: UInt32 = 18456,
        serverName: String,
        tdsVersion: UInt32
    ) -> [UInt8] {
        let wide = tdsVersion >> 24 >= 0x72
        var error: [UInt8] = []
        error.appendLE32(number)
        error += [1, 14]  // state 1, class 14
        error.appendLE16(UInt16(message.utf16.count))
        error += NTLM.encode(message, true)
        error.append(UInt8(serverName.utf16.count))
        error += NTLM.encode(serverName, true)
        error.append(0)  // procedure name
        if wide { error.appendLE32(1) } else { error.appendLE16(1) }  // line number
        var tokens: [UInt8] = [0xAA]
        tokens.appendLE16(UInt16(error.count))
        tokens += error
        tokens += [0xFD, 0x02, 0x00, 0x00, 0x00] + [UInt8](repeating: 0, count: wide ? 8 : 4)
        return tokens
    }

    /// The SSPI token (0xED) carrying the server's NTLM CHALLENGE.
    static func sspiToken(_ data: [UInt8]) -> [UInt8] {
        var token: [UInt8] = [0xED]
        token.appendLE16(UInt16(data.count))
        return token + data
    }
}
