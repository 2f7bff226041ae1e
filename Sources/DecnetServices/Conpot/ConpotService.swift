import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore

/// The `conpot` honeypot: a Siemens SIMATIC PLC of a water utility. Modbus/TCP on 502, S7comm on ISO-TSAP 102,
/// the CPU's web server on 80 (its SNMP agent on 161/udp is `ConpotSNMPService`). Every port of a decky shares
/// one plant (`PLCProcess`), so a value written over Modbus is read back over S7 and a PLC STOP silences Modbus.
///
/// Persona keys (all DECNET-Swift): `plc_model` (`s7-300` default, `s7-400`, `s7-1200`), `plc_firmware`,
/// `plc_system_name`, `plc_plant`, `plc_serial` (defaults derived from the hostname), `plc_password` (the S7
/// session password that works; none by default), `plc_protection` (`write` default, `none`), `users` (web logins).
public struct ConpotService: HoneypotService {
    public static let kind: ServiceKind = "conpot"

    let process: PLCProcess
    let users: AcceptedCredentials

    public init(context: ServiceContext) throws {
        let persona = PLCPersona(persona: context.persona, hostname: context.hostname)
        self.process = Self.process(context: context, persona: persona)
        self.users = AcceptedCredentials(context.persona["users"])
    }

    /// The identity a decky of `hostname` gets with `persona` (station name, module serial, plant designation),
    /// for operators and tests that check what scanners will read.
    public static func identity(
        hostname: String,
        persona: [String: String] = [:]
    )
        -> (systemName: String, serial: String, plant: String)
    {
        let plc = PLCPersona(persona: persona, hostname: hostname)
        return (plc.systemName, plc.serial, plc.plant)
    }

    /// The decky's plant, made by the first of its ports to start.
    static func process(context: ServiceContext, persona: PLCPersona) -> PLCProcess {
        let keys = context.persona.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
        return PLCProcess.shared(key: "\(context.decky)|\(context.hostname)|\(keys)") {
            let started = ContinuousClock.now
            // Plant time starts weeks into the station's life, so counters and run hours are already large.
            let origin = Double(30 * 86_400 + Int(persona.digest[7]) * 3_600)
            return PLCProcess(persona: persona) {
                let elapsed = ContinuousClock.now - started
                return origin + Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
        }
    }

    /// The protocol of a port: Modbus on 502, S7 on 102, HTTP on 80 and 8080, otherwise guessed from the first
    /// bytes.
    static func mode(port: Int) -> ConpotFrameDecoder.Mode {
        switch port {
        case 502: .modbus
        case 102: .s7
        case 80, 8080: .http
        default: .sniff
        }
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(
                ConpotFrameDecoder(mode: Self.mode(port: port)),
                maximumBufferSize: ConpotFrameDecoder.bufferLimit
            )
        )
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(_ connection: Connection<ConpotInbound, ByteBuffer>, session: SessionEvents) async throws {
        var dispatcher = ConpotDispatcher(
            process: self.process,
            users: self.users,
            reference: UInt16.random(in: 0x0100...0xFFFE)
        )
        try await ProtocolLoop.serve(connection, session: session) { dispatcher.received($0) }
    }
}

/// One connection's protocol, chosen by what the decoder frames first: Modbus ADUs to the Modbus machine, TPKTs
/// to the S7 machine, HTTP requests to the web server (one request, then close, as HTTP/1.0).
struct ConpotDispatcher {
    let process: PLCProcess
    let users: AcceptedCredentials
    let reference: UInt16
    private var modbus: ModbusStateMachine?
    private var s7: S7StateMachine?

    init(process: PLCProcess, users: AcceptedCredentials, reference: UInt16) {
        self.process = process
        self.users = users
        self.reference = reference
    }

    mutating func received(_ inbound: ConpotInbound) -> [ProtocolAction] {
        switch inbound {
        case .modbus:
            if self.modbus == nil { self.modbus = ModbusStateMachine(process: self.process) }
            return self.modbus!.received(inbound)
        case .tpkt:
            if self.s7 == nil { self.s7 = S7StateMachine(process: self.process, reference: self.reference) { Date() } }
            return self.s7!.received(inbound)
        case .http(let request):
            let server = PLCWebServer(process: self.process, users: self.users)
            let (response, events) = server.respond(to: request)
            return events.map { ProtocolAction.emit($0.0, $0.1) } + [.send(response), .close]
        case .badHTTP(let problem, let preview):
            return [
                .emit(.clientMalformed, EventFields.malformed(problem, preview: preview)),
                .send(PLCWebServer.badRequest), .close,
            ]
        case .invalid:
            if self.modbus != nil { return self.modbus!.received(inbound) }
            if self.s7 == nil { self.s7 = S7StateMachine(process: self.process, reference: self.reference) { Date() } }
            return self.s7!.received(inbound)
        }
    }
}
