import DecnetCore
import DecnetServiceKit
import DecnetTesting
import Foundation
import Testing

@testable import DecnetServices

/// The canary service: the DNS zone's answers (tokens in any letter case, NXDOMAIN with the SOA, REFUSED outside,
/// hostile datagrams), the web server's `/c/<id>`, revoked tokens silent, planted files in the web root.
@Suite struct CanaryServiceTests {
    static let zone = "c.corp.test"

    /// A state directory with one active and one revoked token.
    static func tokens() throws -> (TemporaryDirectory, CanaryTokenLookup, active: CanaryToken, revoked: CanaryToken) {
        let directory = try TemporaryDirectory()
        let store = CanaryTokenDirectory(stateDirectory: directory.path)
        let active = CanaryToken(
            id: CanaryToken.newID(),
            kind: .dns,
            decky: "web-01",
            path: "/root/.ssh/config",
            label: "ssh config",
            url: nil,
            hostname: nil,
            created: Date()
        )
        var revoked = active
        revoked.id = CanaryToken.newID()
        revoked.revoked = Date()
        try store.save(active)
        try store.save(revoked)
        return (directory, CanaryTokenLookup(store), active, revoked)
    }

    static func context(
        _ capture: EventCapture,
        _ lookup: CanaryTokenLookup?,
        persona: [String: String]
    ) -> ServiceContext {
        var context = ServiceContext(
            decky: "cdn-01",
            hostname: "cdn-01",
            service: "canary",
            persona: persona,
            sink: capture,
            address: "10.0.0.10"
        )
        context.canaryTokens = lookup
        return context
    }

    static func session(_ context: ServiceContext, port: Int = 53) -> SessionEvents {
        SessionEvents(
            context: context,
            source: Endpoint(ip: "10.0.0.53", port: 40_000),
            destination: Endpoint(ip: "10.0.0.10", port: port)
        )
    }

    /// The header's flags and counts, and the rcode.
    static func header(_ reply: [UInt8]) -> (flags: UInt16, counts: [Int]) {
        let flags = UInt16(reply[2]) << 8 | UInt16(reply[3])
        let counts = (0..<4).map { Int(reply[4 + 2 * $0]) << 8 | Int(reply[5 + 2 * $0]) }
        return (flags, counts)
    }

    @Test func aTokenResolvesInAnyLetterCaseAndIsATrigger() throws {
        let (directory, lookup, active, _) = try Self.tokens()
        defer { directory.remove() }
        _ = directory
        let capture = EventCapture()
        let context = Self.context(capture, lookup, persona: ["canary_zone": Self.zone])
        let service = try CanaryDNSService(context: context)
        // 0x20 randomisation: the resolver mixes the case of every letter; the answer echoes it.
        let mixed = String(
            active.id.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.uppercased()) : $0.element }
        )
        let name = mixed + ".C.Corp.TEST"
        let reply = try #require(
            service.respond(to: LLMNRTests.query(name, id: 0xBEEF), session: Self.session(context))
        )
        let (flags, counts) = Self.header(reply)
        #expect(reply[0] == 0xBE && reply[1] == 0xEF)
        #expect(flags & 0x8000 != 0 && flags & 0x0400 != 0 && flags & 0x000F == 0, "an authoritative NOERROR answer")
        #expect(counts == [1, 1, 0, 0])
        #expect(String(decoding: reply[13..<(13 + 20)], as: UTF8.self) == mixed, "the question as it was asked")
        #expect(Array(reply.suffix(6)) == [0, 4, 10, 0, 0, 10], "the decky's own address")
        let trigger = try #require(capture.events(.canaryTriggered).first)
        #expect(trigger[field: "token"] == active.id && trigger[field: "via"] == "dns")
        #expect(trigger[field: "qname"] == name && trigger[field: "qtype"] == "A")
        #expect(trigger[field: "planted_path"] == "/root/.ssh/config" && trigger.source.ip == "10.0.0.53")
        // Names below the token's carry data and fire it too.
        _ = service.respond(
            to: LLMNRTests.query("x1.data." + active.id + "." + Self.zone),
            session: Self.session(context)
        )
        #expect(capture.events(.canaryTriggered).count == 2)
    }

    @Test func revokedAndUnknownNamesAreNXDOMAINAndSilent() throws {
        let (directory, lookup, _, revoked) = try Self.tokens()
        defer { directory.remove() }
        _ = directory
        let capture = EventCapture()
        let context = Self.context(capture, lookup, persona: ["canary_zone": Self.zone])
        let service = try CanaryDNSService(context: context)
        for name in [revoked.id + "." + Self.zone, "nobody." + Self.zone, CanaryToken.newID() + "." + Self.zone] {
            let reply = try #require(service.respond(to: LLMNRTests.query(name), session: Self.session(context)))
            let (flags, counts) = Self.header(reply)
            #expect(flags & 0x000F == 3 && flags & 0x0400 != 0, "NXDOMAIN, authoritative: \(name)")
            #expect(counts == [1, 0, 1, 0], "the SOA in the authority section")
        }
        #expect(capture.events(.canaryTriggered).isEmpty)
        #expect(capture.events(.commandInput).map { $0[field: "answered"] } == ["nxdomain", "nxdomain", "nxdomain"])
        // Outside the zone: REFUSED, not authoritative. Without a zone, everything is.
        let outside = try #require(
            service.respond(to: LLMNRTests.query("www.example.com"), session: Self.session(context))
        )
        #expect(Self.header(outside).flags & 0x040F == 5)
        let unset = try CanaryDNSService(context: Self.context(capture, lookup, persona: [:]))
        let refused = try #require(
            unset.respond(to: LLMNRTests.query(revoked.id + "." + Self.zone), session: Self.session(context))
        )
        #expect(Self.header(refused).flags & 0x000F == 5)
    }

    @Test func theApexHasItsSOAAndNameServer() throws {
        let capture = EventCapture()
        let context = Self.context(capture, nil, persona: ["canary_zone": Self.zone, "canary_address": "192.0.2.7"])
        let service = try CanaryDNSService(context: context)
        let soa = try #require(
            service.respond(to: LLMNRTests.query(Self.zone, type: 6), session: Self.session(context))
        )
        #expect(Self.header(soa).counts == [1, 1, 0, 0])
        let ns = try #require(service.respond(to: LLMNRTests.query(Self.zone, type: 2), session: Self.session(context)))
        #expect(Self.header(ns).counts == [1, 1, 0, 0])
        let glue = try #require(
            service.respond(to: LLMNRTests.query("ns1." + Self.zone), session: Self.session(context))
        )
        #expect(Array(glue.suffix(4)) == [192, 0, 2, 7], "canary_address")
        let aaaa = try #require(
            service.respond(to: LLMNRTests.query(Self.zone, type: 28), session: Self.session(context))
        )
        #expect(Self.header(aaaa).counts == [1, 0, 1, 0] && Self.header(aaaa).flags & 0x000F == 0, "NODATA")
    }

    /// Hostile datagrams: truncated, compression loops, answers, other opcodes, many questions. Each gets a
    /// protocol error or silence, never a crash, and never a trigger.
    @Test func hostileDatagramsGetAnErrorOrSilence() throws {
        let (directory, lookup, active, _) = try Self.tokens()
        defer { directory.remove() }
        _ = directory
        let capture = EventCapture()
        let context = Self.context(capture, lookup, persona: ["canary_zone": Self.zone])
        let service = try CanaryDNSService(context: context)
        let query = LLMNRTests.query(active.id + "." + Self.zone)
        var loop = Array(query.prefix(12)) + [0xC0, 0x0C, 0, 1, 0, 1]
        loop[5] = 1
        var answer = query
        answer[2] |= 0x80
        var update = query
        update[2] = 0x28  // opcode 5 (UPDATE)
        var two = query + Array(query.dropFirst(12))
        two[5] = 2
        var random = SystemRandomNumberGenerator()
        let noise = (0..<200).map { _ in
            (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        for datagram in [[], Array(query.prefix(11)), Array(query.prefix(20)), loop, answer] + noise {
            _ = service.respond(to: datagram, session: Self.session(context))
        }
        let notImplemented = try #require(service.respond(to: update, session: Self.session(context)))
        #expect(Self.header(notImplemented).flags & 0x000F == 4 && Self.header(notImplemented).counts == [0, 0, 0, 0])
        let formErr = try #require(service.respond(to: two, session: Self.session(context)))
        #expect(Self.header(formErr).flags & 0x000F == 1)
        #expect(capture.events(.canaryTriggered).isEmpty)
    }

    @Test func theWebServerAnswersATokenWithAPixelAndARevokedOneWith404() async throws {
        let (directory, lookup, active, revoked) = try Self.tokens()
        defer { directory.remove() }
        _ = directory
        let capture = EventCapture()
        let context = Self.context(capture, lookup, persona: [:])
        let service = try CanaryService(context: context)
        var responder = HTTPResponder(configuration: service.web.configuration, port: 80)
        responder.canary = service.web.canary
        func get(_ uri: String, accept: String? = nil) -> (HTTPResponder.Response, [(EventID, EventFields)]) {
            var headers = [("Host", "10.0.0.10"), ("User-Agent", "Mozilla/5.0")]
            if let accept { headers.append(("Accept", accept)) }
            return responder.respond(to: .init(method: "GET", uri: uri, headers: headers, body: []))
        }
        let (pixel, events) = get("/c/\(active.id.uppercased())/logo.png?x=1", accept: "image/avif,image/webp,*/*")
        #expect(pixel.status == 200 && pixel.payload == CanaryService.pixel && pixel.payload.count == 43)
        #expect(pixel.headers.contains { $0 == ("Content-Type", "image/gif") })
        let trigger = try #require(events.first { $0.0 == .canaryTriggered }?.1)
        #expect(trigger.first("token") == active.id && trigger.first("user_agent") == "Mozilla/5.0")
        #expect(trigger.first("url") == "/c/\(active.id.uppercased())/logo.png?x=1")
        #expect(get("/c/\(active.id)", accept: "text/html").0.status == 204, "no image wanted, no body")
        for uri in ["/c/\(revoked.id)", "/c/\(CanaryToken.newID())", "/c/\(active.id)x", "/c/", "/c/../\(active.id)"] {
            let (response, more) = get(uri)
            #expect(response.status == 404, "\(uri)")
            #expect(!more.contains { $0.0 == .canaryTriggered }, "\(uri)")
            #expect(!response.body.lowercased().contains("canary") && !response.body.contains("decnet"))
        }
        // The http honeypot has no /c/ endpoint, whatever tokens exist.
        let plain = HTTPResponder(configuration: service.web.configuration, port: 80)
        #expect(plain.respond(to: .init(method: "GET", uri: "/c/\(active.id)", headers: [], body: [])).0.status == 404)
    }

    @Test func plantedFilesAreServedFromTheWebRootAndNothingElse() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let planted = PlantedFiles(root: directory.path + "/planted")
        let old = Date(timeIntervalSince1970: 1_700_000_000)
        try planted.plant(Array("%PDF-1.4 x".utf8), at: "/var/www/html/docs/vpn.pdf", mode: 0o644, modified: old)
        try planted.plant(Array("secret".utf8), at: "/root/secret.txt", mode: 0o600, modified: old)
        try planted.plant(Array("<h1>hi</h1>".utf8), at: "/var/www/html/team/index.html", mode: 0o644, modified: old)
        let capture = EventCapture()
        var context = Self.context(capture, nil, persona: [:])
        context.service = "http"
        context.planted = planted
        let service = try HTTPService(context: context)
        var responder = HTTPResponder(configuration: service.configuration, port: 80)
        responder.planted = service.planted
        func get(_ uri: String) -> HTTPResponder.Response {
            responder.respond(to: .init(method: "GET", uri: uri, headers: [], body: [])).0
        }
        let pdf = get("/docs/vpn.pdf")
        #expect(pdf.status == 200 && pdf.payload == Array("%PDF-1.4 x".utf8))
        #expect(pdf.headers.contains { $0 == ("Content-Type", "application/pdf") })
        #expect(pdf.headers.contains { $0 == ("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT") })
        #expect(get("/team/").payload == Array("<h1>hi</h1>".utf8))
        for uri in [
            "/../../root/secret.txt", "/%2e%2e/%2e%2e/root/secret.txt", "/..%2f..%2froot/secret.txt",
            "/docs/vpn.pdf%00",
        ] {
            #expect(get(uri).status == 404, "\(uri)")
        }
    }

    @Test func plantedPathsMustBeAbsoluteAndPlain() throws {
        for path in ["relative", "/a/../b", "/a/./b", "//a", "/a//b", "/", "/a\0b", "/a/"] {
            #expect(!PlantedFiles.isPlantable(path), "\(path)")
        }
        for path in ["/root/.ssh/config", "/var/www/html/a b.pdf", "/srv/shares/Shared/IT/x.docx"] {
            #expect(PlantedFiles.isPlantable(path), "\(path)")
        }
        #expect(CanaryToken.isID(CanaryToken.newID()) && CanaryToken.isID(CanaryToken.newID().uppercased()))
        #expect(!CanaryToken.isID("abcdefghijklmnopqrs1") && !CanaryToken.isID("abc"))
    }
}

extension EventFields {
    fileprivate func first(_ name: String) -> String? { self.fields.first { $0.name == name }?.value }
}
