import DecnetCore
import DecnetServiceKit
import Foundation

/// An S7 CPU on ISO-on-TCP (RFC 1006, ISO 8073 class 0, S7comm) as STEP 7, snap7, nmap's s7-info and hydra's
/// s7-300 module see it, without I/O: the COTP connection checked against the CPU's rack and slot, Setup
/// Communication with the model's PDU size, read and write of variables over the shared plant, PLC STOP and
/// the PI services that restart it (refused under the CPU's protection until a session password legitimises
/// the connection), and the user-data functions in `S7StateMachine+UserData.swift`.
struct S7StateMachine {
    enum State: Equatable {
        /// TCP is open; a COTP connection request must come first.
        case awaitingConnection
        /// The COTP connection is up: S7 PDUs arrive in DT TPDUs.
        case connected
        case closed
    }

    /// A user-data answer too big for one PDU, its remaining data units.
    struct Pending {
        var sequence: UInt8
        var group: UInt8
        var subfunction: UInt8
        var units: [[UInt8]]
    }

    let process: PLCProcess
    var persona: PLCPersona { self.process.persona }
    /// The CPU's wall clock (its time-of-day clock, for clock reads and SZL time stamps).
    let wallClock: @Sendable () -> Date
    /// This end's COTP reference.
    let reference: UInt16
    private(set) var state = State.awaitingConnection
    /// The negotiated PDU size (the model's until Setup Communication).
    var pdu: Int
    /// Whether a session password legitimised this connection.
    var legitimate = false
    var pending: Pending?
    var sequence: UInt8 = 0
    /// DT TPDUs of a TSDU not finished yet.
    private var segment: [UInt8] = []

    init(process: PLCProcess, reference: UInt16, wallClock: @escaping @Sendable () -> Date) {
        self.process = process
        self.reference = reference == 0 ? 1 : reference
        self.wallClock = wallClock
        self.pdu = process.persona.model.maximumPDU
    }

    mutating func received(_ inbound: ConpotInbound) -> [ProtocolAction] {
        guard self.state != .closed else { return [] }
        switch inbound {
        case .tpkt(let tpdu):
            return self.tpdu(tpdu)
        case .invalid(let problem, let preview):
            return self.violation(problem, preview)
        case .modbus(let frame):
            return self.violation("not ISO-on-TCP", frame.pdu)
        case .http(let request):
            return self.violation("not ISO-on-TCP", Array(request.method.utf8))
        case .badHTTP(_, let preview):
            return self.violation("not ISO-on-TCP", preview)
        }
    }

    mutating func violation(_ problem: String, _ preview: [UInt8]) -> [ProtocolAction] {
        self.state = .closed
        return [.emit(.clientMalformed, EventFields.malformed(problem, preview: preview)), .close]
    }

    private mutating func tpdu(_ tpdu: [UInt8]) -> [ProtocolAction] {
        guard tpdu.count >= 2, Int(tpdu[0]) + 1 <= tpdu.count else { return self.violation("COTP header", tpdu) }
        let type = tpdu[1] & 0xF0
        switch (self.state, type) {
        case (.awaitingConnection, COTP.connectionRequest):
            return self.connect(tpdu)
        case (.connected, COTP.data):
            guard tpdu[0] == 2, tpdu.count >= 3 else { return self.violation("COTP DT header", tpdu) }
            self.segment += tpdu[3...]
            guard self.segment.count <= 2 * ConpotFrameDecoder.maximumTPKT else {
                return self.violation("S7 PDU over \(2 * ConpotFrameDecoder.maximumTPKT) bytes", self.segment)
            }
            guard tpdu[2] & 0x80 != 0 else { return [] }
            let bytes = self.segment
            self.segment = []
            return self.pdu(bytes)
        case (_, COTP.disconnectRequest):
            self.state = .closed
            return [.close]
        case (.awaitingConnection, _):
            // A CPU answers nothing before the transport connection exists: it closes.
            return self.violation("COTP TPDU 0x\(String(type, radix: 16)) before a connection request", tpdu)
        default:
            return self.violation("COTP TPDU 0x\(String(type, radix: 16))", tpdu)
        }
    }

    /// A CR: confirmed when its called TSAP names a connection type the CPU serves on its own rack and slot; a
    /// CPU whose slot is not the one asked for drops the connection (clients see a reset).
    private mutating func connect(_ tpdu: [UInt8]) -> [ProtocolAction] {
        guard let request = COTP.connectionRequest(tpdu) else { return self.violation("COTP CR parameters", tpdu) }
        var fields = EventFields()
        fields.add("command", "cotp_connect")
        fields.add("calling_tsap", Self.hex(request.calling))
        fields.add("called_tsap", Self.hex(request.called))
        var accepted = false
        if request.called.count == 2 {
            let kind = request.called[0], rack = request.called[1] >> 5, slot = request.called[1] & 0x1F
            fields.add("args", "rack=\(rack) slot=\(slot)")
            fields.add("rack", String(rack))
            fields.add("slot", String(slot))
            let names: [UInt8: String] = [1: "PG", 2: "OP", 3: "S7 basic"]
            fields.add("connection_type", names[kind] ?? "0x" + String(kind, radix: 16))
            accepted = (1...3).contains(kind) && rack == 0 && self.persona.model.slots.contains(slot)
        } else {
            fields.add(
                "args",
                "tsap=\(String(decoding: request.called.map { $0 < 0x20 || $0 > 0x7E ? 0x2E : $0 }, as: UTF8.self))"
            )
        }
        fields.add("accepted", accepted ? "true" : "false")
        guard accepted else {
            self.state = .closed
            return [.emit(.commandInput, fields), .close]
        }
        self.state = .connected
        return [.emit(.commandInput, fields), .send(COTP.connectionConfirm(request, reference: self.reference))]
    }

    private mutating func pdu(_ bytes: [UInt8]) -> [ProtocolAction] {
        guard let pdu = S7PDU(bytes) else {
            let problem = bytes.first == 0x72 ? "S7comm-plus PDU" : "S7 PDU that does not parse"
            return self.violation(problem, bytes)
        }
        if pdu.rosctr == S7PDU.userData { return self.userData(pdu) }
        let function = pdu.parameter.first ?? 0
        switch function {
        case 0xF0: return self.setup(pdu)
        case 0x04: return self.read(pdu)
        case 0x05: return self.write(pdu)
        case 0x28, 0x29: return self.control(pdu)
        default:
            var fields = EventFields()
            let names: [UInt8: String] = [
                0x1A: "request_download", 0x1B: "download_block", 0x1C: "download_ended", 0x1D: "start_upload",
                0x1E: "upload", 0x1F: "end_upload",
            ]
            fields.add("command", names[function] ?? "job_0x" + String(function, radix: 16))
            fields.add("args", Self.parameterText(pdu))
            let protected = self.persona.protected && !self.legitimate && names[function] != nil
            let error: UInt16 = protected ? 0xD241 : 0x8104
            fields.add("error", "0x" + String(error, radix: 16))
            return [
                .emit(.commandInput, fields),
                self.reply(S7PDU.ackData(pdu.reference, parameter: [function], error: error)),
            ]
        }
    }

    private mutating func setup(_ pdu: S7PDU) -> [ProtocolAction] {
        guard pdu.parameter.count >= 8 else { return self.violation("Setup Communication parameters", pdu.parameter) }
        let requested = Int(pdu.parameter[6]) << 8 | Int(pdu.parameter[7])
        self.pdu = min(max(requested, 96), self.persona.model.maximumPDU)
        var fields = EventFields()
        fields.add("command", "setup_communication")
        fields.add("args", "pdu=\(requested)")
        fields.add("pdu", String(self.pdu))
        let parameter: [UInt8] = [0xF0, 0x00, 0x00, 0x01, 0x00, 0x01] + S7PDU.word(self.pdu)
        return [.emit(.commandInput, fields), self.reply(S7PDU.ackData(pdu.reference, parameter: parameter))]
    }

    /// PLC STOP (0x29) and the PI services (0x28): restart, compress, copy RAM to ROM.
    private mutating func control(_ pdu: S7PDU) -> [ProtocolAction] {
        let function = pdu.parameter[0]
        var fields = EventFields()
        var service = ""
        var block: [UInt8] = []
        if function == 0x29, pdu.parameter.count >= 7 {
            service = String(decoding: pdu.parameter.dropFirst(7).prefix(Int(pdu.parameter[6])), as: UTF8.self)
        } else if function == 0x28, pdu.parameter.count >= 11, pdu.parameter[7] == 0xFD {
            let length = Int(pdu.parameter[8]) << 8 | Int(pdu.parameter[9])
            block = Array(pdu.parameter.dropFirst(10).prefix(length))
            let at = 10 + length
            if at < pdu.parameter.count {
                service = String(
                    decoding: pdu.parameter.dropFirst(at + 1).prefix(Int(pdu.parameter[at])),
                    as: UTF8.self
                )
            }
        }
        let command: String
        switch (function, service) {
        case (0x29, _): command = "plc_stop"
        case (_, "P_PROGRAM"): command = block.first == 0x43 ? "plc_cold_start" : "plc_hot_start"
        case (_, "_GARB"): command = "compress_memory"
        case (_, "_MODU"): command = "copy_ram_to_rom"
        default: command = "pi_service"
        }
        fields.add("command", command)
        fields.add("args", (service + " " + String(decoding: block, as: UTF8.self)).trimmingWhitespace())
        var error: UInt16 = 0
        if self.persona.protected && !self.legitimate {
            error = 0xD241
        } else {
            switch command {
            case "plc_stop": self.process.setRunning(false)
            case "plc_cold_start", "plc_hot_start": self.process.setRunning(true)
            case "pi_service": error = 0x8104
            default: break
            }
        }
        fields.add("cpu_state", self.process.running ? "RUN" : "STOP")
        if error != 0 { fields.add("error", "0x" + String(error, radix: 16)) }
        return [
            .emit(.commandInput, fields), self.reply(S7PDU.ackData(pdu.reference, parameter: [function], error: error)),
        ]
    }

    func reply(_ pdu: [UInt8]) -> ProtocolAction { .send(COTP.dataTPKT(pdu)) }

    /// A job's parameter as its record shows one the CPU does not serve: `parameter=` and up to 32 bytes in hex.
    static func parameterText(_ pdu: S7PDU) -> String {
        "parameter=" + Self.hex(Array(pdu.parameter.prefix(32)))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        Hex.lowercase(bytes)
    }
}
