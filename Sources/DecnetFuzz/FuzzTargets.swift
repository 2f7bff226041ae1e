import DecnetConfig
import DecnetCore
import DecnetServiceKit
import DecnetServices
import NIOCore
import NIOEmbedded

/// The fuzz targets by name: attacker bytes into one decoder or state machine each, without sockets, for libFuzzer
/// (`scripts/fuzz.sh`, the `decnet-fuzz` product built with `--sanitize fuzzer`) and for the replay of corpora and
/// crash cases under `swift test` (`FuzzReplayTests`). A target must never crash, trap or hang on any input: the
/// protocol's answer (or a close) is the only acceptable outcome.
public enum FuzzTargets {
    /// Every target by name, as `scripts/fuzz.sh` and `Fuzz/corpus/<name>/` name them.
    public static let all: [(name: String, run: @Sendable ([UInt8]) -> Void)] = [
        ("http-nginx", { FuzzEntries.http($0, server: "nginx/1.22.1") }),
        ("http-apache", { FuzzEntries.http($0, server: "Apache/2.4.71 (Debian)") }),
        ("mysql", FuzzEntries.mysql),
        ("imap", FuzzEntries.imap),
        ("redis", FuzzEntries.redis),
        ("telnet", FuzzEntries.telnet),
        ("smtp", FuzzEntries.smtp),
        ("docker-api", FuzzEntries.dockerAPI),
        ("mssql", FuzzEntries.mssql),
        ("ldap", FuzzEntries.ldap),
        ("smb", FuzzEntries.smb),
        ("rdp", FuzzEntries.rdp),
        ("vnc", FuzzEntries.vnc),
        ("mqtt", FuzzEntries.mqtt),
        ("ftp", FuzzEntries.ftp),
        ("pop3", FuzzEntries.pop3),
        ("postgres", FuzzEntries.postgres),
        ("mongodb", FuzzEntries.mongodb),
        ("sip", FuzzEntries.sip),
        ("snmp", FuzzEntries.snmp),
        ("tftp", FuzzEntries.tftp),
        ("llmnr", FuzzEntries.llmnr),
        ("elasticsearch", FuzzEntries.elasticsearch),
        ("k8s", FuzzEntries.k8s),
        ("modbus", FuzzEntries.modbus),
        ("s7", FuzzEntries.s7),
        ("ssh", FuzzEntries.ssh),
        ("ssh-session", FuzzEntries.sshSession),
        ("sftp", FuzzEntries.sftp),
        ("tls-hello", FuzzEntries.tlsHello),
        ("rfc5424", Self.rfc5424),
        ("bus-wire", Self.busWire),
        ("ini", Self.ini),
        ("topology", Self.topology),
        ("api-json", APIBodies.run),
    ]

    public static func target(_ name: String) -> (@Sendable ([UInt8]) -> Void)? {
        self.all.first { $0.name == name }?.run
    }

    static func rfc5424(_ bytes: [UInt8]) {
        _ = try? RFC5424Parser.event(from: bytes[...])
    }

    /// The service bus's NATS wire format, as the broker reads a client (`BusClientDecoder`) and as a client reads
    /// the broker or an upstream NATS server (`BusServerDecoder`): the same bytes through each, split in two where
    /// the first byte says.
    static func busWire(_ bytes: [UInt8]) {
        Self.decode(BusClientDecoder(), bytes)
        Self.decode(BusServerDecoder(), bytes)
    }

    static func decode<Decoder: NIOSingleStepByteToMessageDecoder>(_ decoder: Decoder, _ bytes: [UInt8]) {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(decoder))
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
        for chunk in [bytes[..<split], bytes[split...]] where !chunk.isEmpty {
            do {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            } catch {
                break
            }
            while (try? channel.readInbound(as: Decoder.InboundOut.self)) != nil {}
        }
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }

    static func ini(_ bytes: [UInt8]) {
        _ = FleetFileLoader.request(from: String(decoding: bytes, as: UTF8.self), path: "fuzz.ini")
    }

    /// The MazeNET topology file reader, then the wiring of what it read (segments, legs, routes).
    static func topology(_ bytes: [UInt8]) {
        let design = TopologyFileLoader.design(from: String(decoding: bytes, as: UTF8.self), path: "fuzz.ini")
        _ = try? MazeLayout.plan(
            name: "fuzz",
            segments: design.segments,
            deckies: design.deckies,
            routers: design.routers,
            entry: design.entry
        )
    }
}
