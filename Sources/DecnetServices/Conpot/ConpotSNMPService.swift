import DecnetCore
import DecnetServiceKit

/// The `conpot` decky's SNMP agent (161/udp, a shared port: served only when the decky runs no `snmp` service):
/// the snmp service's agent in its `plc` archetype, its sysDescr and sysLocation those of the decky's PLC persona
/// (order number, hardware and firmware, plant designation), so SNMP and S7 tell the same story.
public struct ConpotSNMPService: DatagramService {
    public static let kind: ServiceKind = "conpot"

    let agent: SNMPService

    public init(context: ServiceContext) throws {
        let persona = PLCPersona(persona: context.persona, hostname: context.hostname)
        var context = context
        var keys = context.persona
        keys["snmp_archetype"] = "plc"
        keys["sys_descr"] = keys["sys_descr"] ?? persona.snmpDescription
        keys["snmp_location"] = keys["snmp_location"] ?? persona.plant
        context.persona = keys
        self.agent = try SNMPService(context: context)
    }

    public var amplificationAllowance: Int? { self.agent.amplificationAllowance }

    public func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]? {
        self.agent.respond(to: datagram, session: session)
    }
}
