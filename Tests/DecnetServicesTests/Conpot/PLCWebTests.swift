import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// The CPU's web server, the persona's derived identity, the SNMP agent's PLC persona, and the captured hostile
/// inputs replayed through every port's decoder.
@Suite struct PLCWebTests {
    static func request(_ method: String, _ uri: String, body: String = "") -> PLCWebRequest {
        PLCWebRequest(
            method: method,
            uri: uri,
            version: "HTTP/1.0",
            headers: ["user-agent": "Mozilla/5.0"],
            body: Array(body.utf8)
        )
    }

    @Test func theRootRedirectsAsNmapsSimaticLinesExpect() {
        let server = PLCWebServer(process: Conpot.process(), users: AcceptedCredentials(nil))
        let (response, events) = server.respond(to: Self.request("GET", "/"))
        let text = String(decoding: response, as: UTF8.self)
        // nmap-service-probes: Siemens Simatic S7-300 PLC httpd.
        #expect(text.hasPrefix("HTTP/1.0 302\r\nLocation: /Portal0000.htm\r\n"), "\(text)")
        #expect(
            text.hasSuffix(
                "<HTML><HEAD><TITLE>Error</TITLE></HEAD>\r\n<BODY><CENTER><H2>/<BR><BR>302 : MOVED TEMPORARILY</H2></CENTER></BODY></HTML>"
            )
        )
        #expect(events.first?.0 == .commandInput)
        // nmap-service-probes: Siemens Simatic S7-1200 PLC httpd.
        let compact = PLCWebServer(process: Conpot.process(["plc_model": "s7-1200"]), users: AcceptedCredentials(nil))
        #expect(
            String(decoding: compact.respond(to: Self.request("GET", "/")).response, as: UTF8.self)
                == "HTTP/1.0 302 Object Moved\r\nContent-Type:text/html\r\nContent-Length: 0\r\nConnection: close\r\nLocation: /Default.mwsl\r\n\r\n"
        )
    }

    @Test func thePagesShowTheStationAndItsModeAndTheLoginFormIsCaptured() {
        let process = Conpot.process(hostname: "plc-7")
        let server = PLCWebServer(process: process, users: AcceptedCredentials("admin:S7!pass"))
        let start = String(decoding: server.respond(to: Self.request("GET", "/Portal0000.htm")).response, as: UTF8.self)
        #expect(start.contains(process.persona.systemName) && start.contains("<TD>RUN</TD>"))
        process.setRunning(false)
        let stopped = String(
            decoding: server.respond(to: Self.request("GET", "/Portal0000.htm")).response,
            as: UTF8.self
        )
        #expect(stopped.contains("<TD>STOP</TD>"))
        let (failed, events) = server.respond(
            to: Self.request("POST", "/FormLogin", body: "Login=admin&Password=guess%21&Redirection=")
        )
        #expect(String(decoding: failed, as: UTF8.self).contains("Login failed"))
        let login = events.first { $0.0 == .loginFailed }?.1.fields ?? []
        #expect(login.contains { $0.name == "username" && $0.value == "admin" })
        #expect(login.contains { $0.name == "password" && $0.value == "guess!" })
        let (accepted, more) = server.respond(
            to: Self.request("POST", "/FormLogin", body: "Login=admin&Password=S7%21pass")
        )
        #expect(String(decoding: accepted, as: UTF8.self).hasPrefix("HTTP/1.0 302\r\n"))
        #expect(more.contains { $0.0 == .loginSuccess })
        #expect(
            String(decoding: server.respond(to: Self.request("GET", "/cgi-bin/luci")).response, as: UTF8.self)
                .hasPrefix("HTTP/1.0 404\r\n")
        )
        #expect(
            String(decoding: server.respond(to: Self.request("PUT", "/x")).response, as: UTF8.self).hasPrefix(
                "HTTP/1.0 501\r\n"
            )
        )
    }

    @Test func theDecoderReadsRequestsAndRefusesUnreadableOnes() {
        let request = "POST /FormLogin HTTP/1.1\r\nHost: plc\r\nContent-Length: 7\r\n\r\nLogin=aGET"
        let frames = Conpot.decode(Array(request.utf8), mode: .http)
        guard case .http(let parsed) = frames.first else {
            Issue.record("\(frames)")
            return
        }
        #expect(parsed.method == "POST" && parsed.uri == "/FormLogin" && parsed.header("HOST") == "plc")
        #expect(parsed.body == Array("Login=a".utf8) && frames.count == 1)
        #expect(Conpot.decode(Array("GET / HTTP/1.0\n\n".utf8), mode: .sniff).count == 1)
        for bad in ["get / HTTP/1.0\r\n\r\n", "GET /\r\n\r\n", "GET / HTTP/1.0\r\nContent-Length: 99999\r\n\r\n"] {
            guard case .badHTTP = Conpot.decode(Array(bad.utf8), mode: .http).first else {
                Issue.record("\(bad) was read")
                continue
            }
        }
        let flood = Conpot.decode(
            Array("GET / HTTP/1.0\r\nX: ".utf8) + [UInt8](repeating: 0x61, count: 9_000),
            mode: .http
        )
        guard case .badHTTP = flood.first else {
            Issue.record("\(flood)")
            return
        }
        var dispatcher = ConpotDispatcher(process: Conpot.process(), users: AcceptedCredentials(nil), reference: 1)
        let actions = dispatcher.received(flood[0])
        #expect(
            Conpot.sent(actions).first.map { String(decoding: $0, as: UTF8.self).hasPrefix("HTTP/1.0 400\r\n") } == true
        )
        #expect(Conpot.closes(actions))
    }

    @Test func theSNMPAgentTellsThePLCsStory() throws {
        let context = ServiceContext(
            decky: "decky-snmp",
            hostname: "plc-5",
            service: "conpot",
            persona: [:],
            sink: DiscardingEventSink()
        )
        let service = try ConpotSNMPService(context: context)
        let persona = PLCPersona(persona: [:], hostname: "plc-5")
        let session = SessionEvents(
            context: context,
            source: Endpoint(ip: "127.0.0.1", port: 40_000),
            destination: Endpoint(ip: "127.0.0.1", port: 161)
        )
        // GET sysDescr.0 and sysLocation.0 with community public, as snmpget -v2c sends it.
        let get = SNMPTests.request(0xA0, community: "public", oids: ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.6.0"])
        let reply = try #require(service.respond(to: get, session: session))
        let text = String(decoding: reply, as: UTF8.self)
        #expect(text.contains(persona.snmpDescription) && text.contains(persona.plant))
        #expect(
            persona.snmpDescription.hasPrefix("Siemens, SIMATIC S7-300, CPU 315-2 PN/DP, 6ES7 315-2EH14-0AB0, HW: 4")
        )
    }

    @Test func capturedHostileInputsReplayThroughEveryPortWithoutACrash() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Replays/conpot")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".b64") }
        #expect(names.count >= 10)
        let process = Conpot.process()
        for name in names.sorted() {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let bytes = try #require(Data(base64Encoded: text.filter { !$0.isWhitespace }), "\(name)")
            for mode in [ConpotFrameDecoder.Mode.modbus, .s7, .http, .sniff] {
                var dispatcher = ConpotDispatcher(process: process, users: AcceptedCredentials(nil), reference: 9)
                for frame in Conpot.decode(Array(bytes), mode: mode) { _ = dispatcher.received(frame) }
            }
        }
    }
}
