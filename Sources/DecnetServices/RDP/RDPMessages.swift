import DecnetServiceKit
import NIOCore
import SwiftASN1

/// What an RDP client sends, as the decoder frames it: first one TPKT (the X.224 Connection Request), then, once
/// TLS is up, CredSSP's TSRequests (DER SEQUENCEs, one per message) on the NLA path, or TPKTs (MCS) on the TLS
/// path without NLA.
public enum RDPInbound: Equatable, Sendable, FramingFailure {
    case tpkt([UInt8])
    case tsRequest([UInt8])
    /// Framing no client sends; the server closes.
    case invalid(String, [UInt8])
}

struct RDPFrameDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = RDPInbound

    /// Largest TSRequest read (an AUTHENTICATE with its blob, pubKeyAuth and nonce is under 2 KiB).
    static let maximumMessage = 1 << 16

    private var negotiated = false
    private var failed = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard let first = buffer.getBytes(at: buffer.readerIndex, length: min(6, buffer.readableBytes)),
            first.count >= 2
        else { return .needMoreData }
        let length: Int
        if !self.negotiated || first[0] == 3 {
            // TPKT (RFC 1006): version 3, reserved, 16-bit length including the header.
            guard first[0] == 3 else { return self.fail(context, &buffer, "not a TPKT (first byte \(first[0]))") }
            guard first.count >= 4 else { return .needMoreData }
            length = Int(first[2]) << 8 | Int(first[3])
            guard length >= (self.negotiated ? 7 : 11) else {
                return self.fail(context, &buffer, "TPKT of \(length) bytes")
            }
        } else {
            guard first[0] == 0x30 else { return self.fail(context, &buffer, "neither a TPKT nor a DER SEQUENCE") }
            if first[1] < 0x80 {
                length = 2 + Int(first[1])
            } else {
                let count = Int(first[1] & 0x7F)
                guard (1...3).contains(count) else {
                    return self.fail(context, &buffer, "DER length of \(count) bytes")
                }
                guard first.count >= 2 + count else { return .needMoreData }
                length = 2 + count + first[2..<(2 + count)].reduce(0) { $0 << 8 | Int($1) }
            }
        }
        guard length <= Self.maximumMessage else { return self.fail(context, &buffer, "message of \(length) bytes") }
        guard buffer.readableBytes >= length else { return .needMoreData }
        let bytes = buffer.readBytes(length: length)!
        context.fireChannelRead(
            Self.wrapInboundOut(self.negotiated && bytes[0] == 0x30 ? .tsRequest(bytes) : .tpkt(bytes))
        )
        // The client sends nothing after its Connection Request until the server's confirm, then speaks TLS.
        self.negotiated = true
        return .continue
    }

    private mutating func fail(
        _ context: ChannelHandlerContext,
        _ buffer: inout ByteBuffer,
        _ problem: String
    )
        -> DecodingState
    {
        self.failFraming(context, &buffer, problem, failed: &self.failed)
    }
}

enum RDP {
    /// Security protocols (MS-RDPBCGR 2.2.1.1.1).
    static let standard: UInt32 = 0, ssl: UInt32 = 1, hybrid: UInt32 = 2, rdstls: UInt32 = 4, hybridEx: UInt32 = 8

    /// An X.224 Connection Request: the cookie or routing token and the requested protocols.
    struct ConnectionRequest: Equatable {
        var cookie: String?
        var requestedProtocols: UInt32?
        var negotiationFlags: UInt8?
    }

    static let cookiePrefix = Array("Cookie:".utf8)

    static func connectionRequest(_ tpkt: [UInt8]) -> ConnectionRequest? {
        // TPKT (4), then the TPDU: length indicator, CR (0xE0), DST-REF, SRC-REF, class, variable part.
        guard tpkt.count >= 11, tpkt[5] & 0xF0 == 0xE0 else { return nil }
        let end = min(tpkt.count, 5 + Int(tpkt[4]))
        var at = 11
        var request = ConnectionRequest()
        // "Cookie:" up to the first CRLF. A plain scan: the generic `firstRange(of:)` was a twentieth of an RDP
        // connection's CPU in bench/compare.sh.
        if at < end, tpkt[at..<end].starts(with: Self.cookiePrefix),
            let cr = (at..<(end - 1)).first(where: { tpkt[$0] == 0x0D && tpkt[$0 + 1] == 0x0A })
        {
            let line = tpkt[at..<cr]
            let value = line.firstIndex(of: UInt8(ascii: "=")).map { line[($0 + 1)...] } ?? line
            request.cookie = String(decoding: value, as: UTF8.self)
            at = cr + 2
        }
        if at + 8 <= end, tpkt[at] == 0x01 {
            request.negotiationFlags = tpkt[at + 1]
            request.requestedProtocols = tpkt.le32(at + 4)
        }
        return request
    }

    /// The X.224 Connection Confirm with an RDP_NEG_RSP, as Windows Server 2012 and later write it (SRC-REF 0x1234,
    /// flags 0x1F), or with an RDP_NEG_FAILURE.
    static func connectionConfirm(selected: UInt32? = nil, failure: UInt32? = nil) -> [UInt8] {
        var out: [UInt8] = [0x03, 0x00, 0x00, 0x13, 0x0E, 0xD0, 0x00, 0x00, 0x12, 0x34, 0x00]
        if let failure {
            out += [0x03, 0x00, 0x08, 0x00]
            out.appendLE32(failure)
        } else {
            out += [0x02, 0x1F, 0x08, 0x00]
            out.appendLE32(selected ?? 0)
        }
        return out
    }

    /// What a TSRequest (MS-CSSP 2.2.1) carries.
    struct TSRequest: Equatable {
        var version: Int
        var negoToken: [UInt8]?
        var hasPubKeyAuth: Bool
        var clientNonce: [UInt8]?
    }

    static func tsRequest(_ der: [UInt8]) -> TSRequest? {
        guard let root = try? BER.parse(der), root.identifier == .sequence else { return nil }
        var request = TSRequest(version: 0, negoToken: nil, hasPubKeyAuth: false, clientNonce: nil)
        for field in SPNEGO.children(root) {
            let inner = SPNEGO.children(field).first
            switch field.identifier {
            case .contextSpecific(0):
                if let inner, let version = try? Int(derEncoded: inner) { request.version = version }
            case .contextSpecific(1):
                // NegoData: SEQUENCE OF SEQUENCE { [0] OCTET STRING }
                if let list = inner, let item = SPNEGO.children(list).first,
                    let wrapped = SPNEGO.children(item).first, let octets = SPNEGO.children(wrapped).first,
                    case .primitive(let bytes) = octets.content
                {
                    request.negoToken = Array(bytes)
                }
            case .contextSpecific(3):
                request.hasPubKeyAuth = true
            case .contextSpecific(5):
                if let inner, case .primitive(let bytes) = inner.content { request.clientNonce = Array(bytes) }
            default:
                continue
            }
        }
        return request
    }

    /// A server TSRequest: version, and a nego token or an error code (NTSTATUS, a negative INTEGER in DER).
    static func tsResponse(version: Int, negoToken: [UInt8]? = nil, errorCode: UInt32? = nil) -> [UInt8] {
        var serializer = DER.Serializer()
        try! serializer.appendConstructedNode(identifier: .sequence) {
            try $0.serialize(version, explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
            if let negoToken {
                $0.appendConstructedNode(identifier: .contextSpecific(1)) {
                    $0.appendConstructedNode(identifier: .sequence) {
                        $0.appendConstructedNode(identifier: .sequence) {
                            $0.appendConstructedNode(identifier: .contextSpecific(0)) {
                                $0.appendPrimitiveNode(identifier: .octetString) { $0.append(contentsOf: negoToken) }
                            }
                        }
                    }
                }
            }
            if let errorCode {
                try $0.serialize(
                    Int(Int32(bitPattern: errorCode)),
                    explicitlyTaggedWithTagNumber: 4,
                    tagClass: .contextSpecific
                )
            }
        }
        return serializer.serializedBytes
    }
}
