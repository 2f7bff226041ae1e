/// ISO transport (ISO 8073 class 0 over RFC 1006) as an S7 CPU speaks it: the connection request a client
/// sends, the confirm and data TPDUs it gets.
enum COTP {
    static let connectionRequest: UInt8 = 0xE0, connectionConfirm: UInt8 = 0xD0
    static let disconnectRequest: UInt8 = 0x80, data: UInt8 = 0xF0

    /// A connection request's fields (ISO 8073 §13.3): references and the TSAP and TPDU-size parameters.
    struct ConnectionRequest: Equatable {
        var sourceReference: UInt16
        var tpduSize: UInt8?
        var calling: [UInt8]
        var called: [UInt8]
    }

    /// Reads a CR TPDU; nil when its header or parameters run past it.
    static func connectionRequest(_ tpdu: [UInt8]) -> ConnectionRequest? {
        guard tpdu.count >= 7, tpdu[1] & 0xF0 == connectionRequest else { return nil }
        let end = Int(tpdu[0]) + 1
        guard end >= 7, end <= tpdu.count else { return nil }
        var request = ConnectionRequest(
            sourceReference: UInt16(tpdu[4]) << 8 | UInt16(tpdu[5]),
            tpduSize: nil,
            calling: [],
            called: []
        )
        var at = 7
        while at + 2 <= end {
            let code = tpdu[at], length = Int(tpdu[at + 1])
            guard at + 2 + length <= end else { return nil }
            let value = Array(tpdu[(at + 2)..<(at + 2 + length)])
            switch code {
            case 0xC0: request.tpduSize = value.first
            case 0xC1: request.calling = value
            case 0xC2: request.called = value
            default: break
            }
            at += 2 + length
        }
        return at == end ? request : nil
    }

    /// The CC TPDU answering `request` from reference `reference`, in a TPKT.
    static func connectionConfirm(_ request: ConnectionRequest, reference: UInt16) -> [UInt8] {
        var parameters: [UInt8] = []
        if let size = request.tpduSize { parameters += [0xC0, 0x01, min(size, 0x0A)] }
        parameters += [0xC1, UInt8(request.calling.count)] + request.calling
        parameters += [0xC2, UInt8(request.called.count)] + request.called
        let header: [UInt8] = [
            UInt8(6 + parameters.count), connectionConfirm, UInt8(request.sourceReference >> 8),
            UInt8(request.sourceReference & 0xFF), UInt8(reference >> 8), UInt8(reference & 0xFF), 0x00,
        ]
        return self.tpkt(header + parameters)
    }

    /// An S7 PDU in a DT TPDU (end of TSDU set) in a TPKT.
    static func dataTPKT(_ pdu: [UInt8]) -> [UInt8] { self.tpkt([0x02, data, 0x80] + pdu) }

    static func tpkt(_ payload: [UInt8]) -> [UInt8] {
        let length = payload.count + 4
        return [0x03, 0x00, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }
}

/// One S7 PDU (S7comm, protocol id 0x32) as a client sends it: a job or a user-data request.
struct S7PDU: Equatable {
    static let job: UInt8 = 0x01, ackData: UInt8 = 0x03, userData: UInt8 = 0x07

    var rosctr: UInt8
    var reference: UInt16
    var parameter: [UInt8]
    var data: [UInt8]

    /// Reads a request PDU; nil unless its header's lengths account for it exactly.
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 10, bytes[0] == 0x32, bytes[1] == Self.job || bytes[1] == Self.userData else {
            return nil
        }
        let parameterLength = Int(bytes[6]) << 8 | Int(bytes[7])
        let dataLength = Int(bytes[8]) << 8 | Int(bytes[9])
        guard 10 + parameterLength + dataLength == bytes.count else { return nil }
        self.rosctr = bytes[1]
        self.reference = UInt16(bytes[4]) << 8 | UInt16(bytes[5])
        self.parameter = Array(bytes[10..<(10 + parameterLength)])
        self.data = Array(bytes[(10 + parameterLength)...])
    }

    /// An ACK_DATA answering job `reference`, with the header's error class and code.
    static func ackData(_ reference: UInt16, parameter: [UInt8], data: [UInt8] = [], error: UInt16 = 0) -> [UInt8] {
        [0x32, ackData, 0, 0] + word(Int(reference)) + word(parameter.count) + word(data.count)
            + word(Int(error)) + parameter + data
    }

    /// A user-data response: its 12-byte parameter (method 0x12, type 8, the group and subfunction, the sequence
    /// number a follow-up quotes, whether more data units follow, the error code) and data.
    static func userData(
        _ reference: UInt16,
        group: UInt8,
        subfunction: UInt8,
        sequence: UInt8 = 0,
        more: Bool = false,
        error: UInt16 = 0,
        data: [UInt8]
    ) -> [UInt8] {
        let parameter: [UInt8] =
            [
                0x00, 0x01, 0x12, 0x08, 0x12, 0x80 | group, subfunction, sequence, 0x00, more ? 0x01 : 0x00,
            ] + word(Int(error))
        return [0x32, userData, 0, 0] + word(Int(reference)) + word(parameter.count) + word(data.count) + parameter
            + data
    }

    /// The data of a user-data response that carries nothing (or an error): return code 0x0A, no payload.
    static let noData: [UInt8] = [0x0A, 0x00, 0x00, 0x00]

    /// An octet-string payload as user-data responses carry it.
    static func octets(_ bytes: [UInt8]) -> [UInt8] { [0xFF, 0x09] + word(bytes.count) + bytes }

    static func word(_ value: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// The plaintext of a session password as snap7, hydra and STEP 7 send it: padded to eight with spaces, each
    /// byte XORed with 0x55 and, from the third on, with the encoded byte two before it.
    static func decodePassword(_ encoded: [UInt8]) -> [UInt8] {
        var plain = encoded.indices.map { index in
            encoded[index] ^ 0x55 ^ (index >= 2 ? encoded[index - 2] : 0)
        }
        while plain.last == 0x20 { plain.removeLast() }
        return plain
    }

    /// The inverse of `decodePassword` (for tests and the persona's password).
    static func encodePassword(_ plain: [UInt8]) -> [UInt8] {
        let padded = Array(plain.prefix(8)) + [UInt8](repeating: 0x20, count: max(0, 8 - plain.count))
        var encoded: [UInt8] = []
        for index in 0..<8 { encoded.append(padded[index] ^ 0x55 ^ (index >= 2 ? encoded[index - 2] : 0)) }
        return encoded
    }
}
