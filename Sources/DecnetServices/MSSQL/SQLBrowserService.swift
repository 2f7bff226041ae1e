import DecnetCore
import DecnetServiceKit

/// The SQL Server Browser on UDP 1434 ([MC-SQLR]), beside `mssql`'s TDS on 1433: what `nmap -sU --script
/// ms-sql-info`, impacket's `mssqlinstance.py`, Metasploit's `mssql_ping` and SQL clients ask first to find a
/// host's instances. It names the decky's one default instance (MSSQLSERVER on TCP 1433, its version from
/// `mssql_version`) and records every query: instance discovery is an early step of an attack on SQL Server.
public struct SQLBrowserService: DatagramService {
    public static let kind: ServiceKind = "mssql"

    let serverName: String
    let version: String
    /// The instance named in answers, and the TCP port it listens on.
    let instance = "MSSQLSERVER"
    let tcpPort: Int

    public init(context: ServiceContext) throws {
        let identity = WindowsIdentity(persona: context.persona, hostname: context.hostname, osFamily: .windows)
        self.serverName = identity.netbiosName
        self.version = context.persona["mssql_version"] ?? "15.0.2000.5"
        self.tcpPort = 1433
    }

    /// The instance as the browser lists it (`SVR_RESP` data): name-value pairs separated by `;`, ending `;;`.
    var instanceRecord: String {
        "ServerName;\(self.serverName);InstanceName;\(self.instance);IsClustered;No;Version;\(self.version);"
            + "tcp;\(self.tcpPort);np;\\\\\(self.serverName)\\pipe\\sql\\query;;"
    }

    /// A one-byte browse gets the whole instance record (about 140 bytes), as from SQL Server; what a spoofed
    /// source can reflect is bounded by the listener's per-source rate (20 a second).
    public var amplificationAllowance: Int? { 256 }

    /// `SVR_RESP`: 0x05, the data's length (little-endian), the data.
    static func response(_ text: String) -> [UInt8] {
        let data = Array(text.utf8)
        return [0x05, UInt8(data.count & 0xFF), UInt8(data.count >> 8)] + data
    }

    public func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]? {
        guard let type = datagram.first else { return nil }
        var fields = EventFields()
        let answer: [UInt8]?
        switch type {
        case 0x02, 0x03:  // CLNT_BCAST_EX, CLNT_UCAST_EX: every instance
            fields.add("command", type == 0x02 ? "browse-broadcast" : "browse")
            answer = datagram.count == 1 ? Self.response(self.instanceRecord) : nil
        case 0x04:  // CLNT_UCAST_INST: one instance, by name (NUL-terminated, at most 32 bytes)
            let name = Self.instanceName(datagram.dropFirst())
            fields.add("command", "instance")
            fields.add("args", attackerText: name ?? "")
            answer = name?.uppercased() == self.instance ? Self.response(self.instanceRecord) : nil
        case 0x0F:  // CLNT_UCAST_DAC: protocol version 1, then the instance; the answer is its DAC port
            let name = datagram.count > 2 ? Self.instanceName(datagram.dropFirst(2)) : nil
            fields.add("command", "dac")
            fields.add("args", attackerText: name ?? "")
            answer =
                datagram.count > 1 && datagram[1] == 0x01 && name?.uppercased() == self.instance
                ? [0x05, 0x06, 0x00, 0x01, UInt8(1434 & 0xFF), UInt8(1434 >> 8)] : nil
        default:
            session.emit(.clientMalformed, EventFields.malformed("not a SQL Server Browser request", preview: datagram))
            return nil
        }
        session.emit(.commandInput, fields)
        return answer
    }

    /// An instance name as the requests carry it: up to 32 bytes, ended by NUL (or the datagram); nil when it is
    /// longer or not text, which the real browser ignores.
    static func instanceName(_ bytes: ArraySlice<UInt8>) -> String? {
        let name = bytes.prefix { $0 != 0 }
        guard name.count <= 32, name.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: name, as: UTF8.self)
    }
}
