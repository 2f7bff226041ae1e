import DecnetCore
import DecnetServiceKit

/// The `snmp` honeypot (161/udp): an SNMP agent (net-snmp on a Linux host, or the persona's router, printer,
/// Windows server or PLC).
///
/// Persona keys: `snmp_community` (the read community that answers; default `public`), `sys_descr` (sysDescr.0),
/// `snmp_archetype` (the device: `linux`, `router`, `printer`, `windows`, `plc`; default from the decky's OS), and
/// DECNET-Swift's `snmp_location` and `snmp_contact`.
public struct SNMPService: DatagramService {
    public static let kind: ServiceKind = "snmp"

    let agent: SNMPAgent
    let started = ContinuousClock.now
    /// Hundredths of a second the agent claims to have run when the decky starts.
    let uptimeOffset: UInt32

    public init(context: ServiceContext) throws {
        let mib = SNMPMIB(
            persona: context.persona,
            hostname: context.hostname,
            osFamily: context.osFamily,
            mac: context.macAddress,
            address: context.address
        )
        self.agent = SNMPAgent(mib: mib, community: context.persona["snmp_community"] ?? "public")
        self.uptimeOffset = UInt32(truncatingIfNeeded: (7 * 86_400 + Int(self.agent.engineBoots) * 3_607) * 100)
    }

    /// A reply is never more than eight times its request (GETBULK is cut to whole repetitions that fit).
    static let amplification = 8

    public func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]? {
        guard let message = SNMPMessage(datagram) else {
            var fields = EventFields()
            fields.add("error", "not an SNMP message")
            fields.add("preview", attackerBytes: datagram.prefix(64))
            session.emit(.clientMalformed, fields)
            return nil
        }
        let elapsed = ContinuousClock.now - self.started
        let uptime = self.uptimeOffset &+ UInt32(truncatingIfNeeded: elapsed.components.seconds * 100)
        let (answer, events) = self.agent.answer(
            message,
            uptime: uptime,
            byteBound: max(datagram.count, 1) * Self.amplification
        )
        for (id, fields) in events { session.emit(id, fields) }
        guard case .reply(let bytes) = answer else { return nil }
        return bytes
    }
}
