import DecnetCore
import DecnetServiceKit
import DecnetTesting
import Testing

@testable import DecnetServices

/// The SQL Server Browser ([MC-SQLR]) on UDP 1434: the instance list, one instance by name, the DAC port, and
/// hostile datagrams.
@Suite struct SQLBrowserTests {
    static func service(_ capture: EventCapture) throws -> (SQLBrowserService, SessionEvents) {
        let context = ServiceContext(
            decky: "decky-sql",
            hostname: "sql01",
            service: "mssql",
            persona: ["mssql_version": "15.0.2000.5"],
            sink: capture,
            osFamily: .windows,
            address: "10.0.0.9"
        )
        let session = SessionEvents(
            context: context,
            source: Endpoint(ip: "10.0.0.66", port: 51_000),
            destination: Endpoint(ip: "10.0.0.9", port: 1434)
        )
        return (try SQLBrowserService(context: context), session)
    }

    /// The text of an `SVR_RESP`, after checking its header: 0x05 and the data's length, little-endian.
    static func text(_ reply: [UInt8]) throws -> String {
        try #require(reply.count >= 3 && reply[0] == 0x05)
        #expect(Int(reply[1]) | Int(reply[2]) << 8 == reply.count - 3)
        return String(decoding: reply.dropFirst(3), as: UTF8.self)
    }

    @Test func aBrowseListsTheDefaultInstanceAsSQLServerDoes() throws {
        let capture = EventCapture()
        let (service, session) = try Self.service(capture)
        for request: UInt8 in [0x02, 0x03] {
            let reply = try #require(service.respond(to: [request], session: session))
            #expect(
                try Self.text(reply)
                    == "ServerName;SQL01;InstanceName;MSSQLSERVER;IsClustered;No;Version;15.0.2000.5;tcp;1433;"
                    + "np;\\\\SQL01\\pipe\\sql\\query;;"
            )
        }
        #expect(capture.events(.commandInput).map { $0[field: "command"] } == ["browse-broadcast", "browse"])
    }

    @Test func oneInstanceByNameAndItsDedicatedAdminPort() throws {
        let capture = EventCapture()
        let (service, session) = try Self.service(capture)
        let named = try #require(service.respond(to: [0x04] + Array("mssqlserver".utf8) + [0], session: session))
        #expect(try Self.text(named).hasPrefix("ServerName;SQL01;InstanceName;MSSQLSERVER;"))
        #expect(service.respond(to: [0x04] + Array("SQLEXPRESS".utf8) + [0], session: session) == nil)
        let dac = service.respond(to: [0x0F, 0x01] + Array("MSSQLSERVER".utf8) + [0], session: session)
        #expect(dac == [0x05, 0x06, 0x00, 0x01, 0x9A, 0x05], "port 1434, little-endian")
        let asked = capture.events(.commandInput).map { "\($0[field: "command"] ?? "") \($0[field: "args"] ?? "")" }
        #expect(asked == ["instance mssqlserver", "instance SQLEXPRESS", "dac MSSQLSERVER"])
    }

    @Test func hostileDatagramsGetSilenceAndAreRecorded() throws {
        let capture = EventCapture()
        let (service, session) = try Self.service(capture)
        #expect(service.respond(to: [], session: session) == nil)
        #expect(service.respond(to: [0x03, 0x41], session: session) == nil, "a browse carries nothing else")
        #expect(service.respond(to: [0x04] + [UInt8](repeating: 0x41, count: 200), session: session) == nil)
        #expect(service.respond(to: [0xEE, 1, 2, 3], session: session) == nil)
        #expect(capture.events(.clientMalformed).count == 1)
        var generator = SeededGenerator(seed: 1434)
        for _ in 0..<5_000 {
            let datagram = (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            if let reply = service.respond(to: datagram, session: session) { #expect(reply.first == 0x05) }
        }
    }
}
