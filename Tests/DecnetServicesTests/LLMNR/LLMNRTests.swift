import DecnetCore
import DecnetServiceKit
import DecnetTesting
import Testing

@testable import DecnetServices

/// LLMNR and mDNS answers for the decky's own name only, and DNS parsing of hostile datagrams.
@Suite struct LLMNRTests {
    static func service(_ capture: EventCapture) throws -> (LLMNRService, ServiceContext) {
        let context = ServiceContext(
            decky: "decky-w",
            hostname: "WS07",
            service: "llmnr",
            persona: [:],
            sink: capture,
            osFamily: .windows,
            address: "10.0.0.7"
        )
        return (try LLMNRService(context: context), context)
    }

    static func query(_ name: String, type: UInt16 = 1, id: UInt16 = 0x1234, klass: UInt16 = 1) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") { out += [UInt8(label.utf8.count)] + Array(label.utf8) }
        return out + [0, UInt8(type >> 8), UInt8(type & 0xFF), UInt8(klass >> 8), UInt8(klass & 0xFF)]
    }

    static func session(_ context: ServiceContext, port: Int, sourcePort: Int = 50_000) -> SessionEvents {
        SessionEvents(
            context: context,
            source: Endpoint(ip: "10.0.0.66", port: sourcePort),
            destination: Endpoint(ip: "10.0.0.7", port: port)
        )
    }

    @Test func itAnswersForItsOwnNameAsWindowsDoes() throws {
        let capture = EventCapture()
        let (service, context) = try Self.service(capture)
        let query = Self.query("ws07")
        let reply = try #require(service.respond(to: query, session: Self.session(context, port: 5355)))
        #expect(Array(reply.prefix(8)) == [0x12, 0x34, 0x80, 0x00, 0, 1, 0, 1], "same id, a response, one answer")
        #expect(Array(reply.suffix(10)) == [0, 0, 0, 30, 0, 4, 10, 0, 0, 7], "TTL 30, the decky's address")
        let event = try #require(capture.events(.commandInput).first)
        #expect(
            event[field: "command"] == "llmnr-query" && event[field: "args"] == "ws07 A"
                && event[field: "answered"] == "yes"
        )
    }

    @Test func itNeverAnswersForANameItDoesNotOwn() throws {
        let capture = EventCapture()
        let (service, context) = try Self.service(capture)
        for name in ["wpad", "fileserv01", "ws07.corp.local", "ws070"] {
            #expect(service.respond(to: Self.query(name), session: Self.session(context, port: 5355)) == nil, "\(name)")
        }
        #expect(capture.events(.commandInput).map { $0[field: "answered"] } == ["no", "no", "no", "no"])
        // mDNS: only <name>.local; a multicast querier (port 5353) gets id 0 and the cache-flush class.
        #expect(service.respond(to: Self.query("ws07"), session: Self.session(context, port: 5353)) == nil)
        let reply = try #require(
            service.respond(to: Self.query("WS07.local"), session: Self.session(context, port: 5353, sourcePort: 5353))
        )
        #expect(Array(reply.prefix(4)) == [0, 0, 0x84, 0x00])
        #expect(reply.indices.contains { reply[$0...].starts(with: [0x00, 0x01, 0x80, 0x01, 0, 0, 0, 120]) })
        // A type it has no record of: the name is its own, so an empty answer.
        let aaaa = try #require(
            service.respond(to: Self.query("ws07", type: 28), session: Self.session(context, port: 5355))
        )
        #expect(aaaa[7] == 0)
    }

    @Test func responsesAndHostileDatagramsAreRecordedNeverAnswered() throws {
        let capture = EventCapture()
        let (service, context) = try Self.service(capture)
        var response = Self.query("wpad")
        response[2] = 0x80
        #expect(service.respond(to: response, session: Self.session(context, port: 5355)) == nil)
        #expect(capture.events(.commandInput).first?[field: "command"] == "llmnr-response")
        let loop: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1]
        for datagram in [
            [], [1, 2, 3], loop, [0, 1, 0, 0, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 6),
            [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64] + [UInt8](repeating: 0x41, count: 64),
        ] as [[UInt8]] {
            #expect(service.respond(to: datagram, session: Self.session(context, port: 5355)) == nil)
        }
        #expect(capture.events(.clientMalformed).count == 5)
        var generator = SeededGenerator(seed: 5355)
        for _ in 0..<5000 {
            var datagram = Self.query("ws07")
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                datagram[Int.random(in: 0..<datagram.count, using: &generator)] = UInt8.random(
                    in: 0...255,
                    using: &generator
                )
            }
            _ = service.respond(
                to: Array(datagram.prefix(Int.random(in: 0...datagram.count, using: &generator))),
                session: Self.session(context, port: 5355)
            )
        }
    }

    /// The bait: the decky asks its segment for names nobody owns; an answer to one is a poisoner.
    @Test func anAnswerToABaitQueryIsAPoisoner() throws {
        let capture = EventCapture()
        let context = ServiceContext(
            decky: "decky-w",
            hostname: "WS07",
            service: "llmnr",
            persona: ["llmnr_bait_names": "FS03, PRINT-02", "llmnr_bait_interval": "30"],
            sink: capture,
            osFamily: .windows,
            address: "10.0.0.7"
        )
        let service = try LLMNRService(context: context)
        #expect(service.tickInterval == .seconds(30))
        let queries = service.tick(port: 5355)
        #expect(
            service.tick(port: 5353).isEmpty && service.tick(port: 137).isEmpty,
            "no broadcast address known: no NBT-NS bait"
        )
        #expect(queries.map(\.host) == ["224.0.0.252", "224.0.0.252"] && queries.allSatisfy { $0.port == 5355 })
        let asked = try #require(DNSMessage(queries[0].datagram))
        #expect(asked.questions.map(\.name) == ["FS03"] && !asked.isResponse)
        // A Responder-style answer: the same question, QR set, an A record with the poisoner's address.
        var answer = queries[0].datagram
        answer[2] = 0x80
        answer[7] = 1
        answer += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 66]
        #expect(service.respond(to: answer, session: Self.session(context, port: 5355)) == nil)
        let alert = try #require(capture.events(.poisonerDetected).first)
        #expect(
            alert[field: "name"] == "FS03" && alert[field: "poisoner_ip"] == "10.0.0.66"
                && alert[field: "answer"] == "10.0.0.66"
        )
        #expect(alert.source.ip == "10.0.0.66")
        // An answer for another name is only recorded; the decky's own query looping back is nothing.
        var other = Self.query("intranet")
        other[2] = 0x80
        _ = service.respond(to: other, session: Self.session(context, port: 5355))
        #expect(capture.events(.poisonerDetected).count == 1)
        let own = SessionEvents(
            context: context,
            source: Endpoint(ip: "10.0.0.7", port: 5355),
            destination: Endpoint(ip: "10.0.0.7", port: 5355)
        )
        #expect(service.respond(to: queries[1].datagram, session: own) == nil)
        #expect(capture.events(.commandInput).count == 1)
        // On loopback, or with interval 0, nothing is sent.
        let quiet = ServiceContext(
            decky: "d",
            hostname: "WS07",
            service: "llmnr",
            persona: ["llmnr_bait_interval": "0"],
            sink: capture,
            address: "10.0.0.7"
        )
        #expect(try LLMNRService(context: quiet).tickInterval == nil)
        let loopback = ServiceContext(
            decky: "d",
            hostname: "WS07",
            service: "llmnr",
            persona: [:],
            sink: capture,
            address: "127.77.0.1"
        )
        #expect(try LLMNRService(context: loopback).tickInterval == nil)
    }

    /// NBT-NS on 137: nbtscan's node status query for "*" gets the name table and MAC; a name query only for the
    /// host's own names.
    @Test func netbiosNameServiceAnswersLikeAWindowsHost() throws {
        let capture = EventCapture()
        let context = ServiceContext(
            decky: "decky-w",
            hostname: "WS07",
            service: "llmnr",
            persona: ["workgroup": "ACME"],
            sink: capture,
            osFamily: .windows,
            macAddress: "00:1b:21:92:f7:56",
            address: "10.0.0.7"
        )
        let service = try LLMNRService(context: context)
        func query(_ name: String, suffix: UInt8, type: UInt8, pad: UInt8 = 0x20) -> [UInt8] {
            var raw = Array(name.utf8)
            while raw.count < 15 { raw.append(pad) }
            raw.append(suffix)
            var encoded: [UInt8] = [0x20]
            for byte in raw { encoded += [0x41 + (byte >> 4), 0x41 + (byte & 0xF)] }
            encoded.append(0)
            let header: [UInt8] = [0x13, 0x37, 0x00, 0x10, 0, 1, 0, 0, 0, 0, 0, 0]
            return header + encoded + [0, type, 0, 1]
        }
        let status = try #require(
            service.respond(to: query("*", suffix: 0, type: 0x21, pad: 0), session: Self.session(context, port: 137))
        )
        #expect(Array(status.prefix(8)) == [0x13, 0x37, 0x84, 0x00, 0, 0, 0, 1])
        let table = Array(status[(12 + 34 + 4 + 4 + 2)...])
        #expect(table[0] == 4, "four names")
        #expect(
            String(decoding: table[1..<16], as: UTF8.self) == "WS07           " && table[16] == 0x00
                && table[17] == 0x04
        )
        #expect(String(decoding: table[19..<34], as: UTF8.self) == "ACME           " && table[35] == 0x84)
        #expect(Array(table[(1 + 4 * 18)..<(1 + 4 * 18 + 6)]) == [0x00, 0x1b, 0x21, 0x92, 0xf7, 0x56])
        let own = try #require(
            service.respond(to: query("WS07", suffix: 0x20, type: 0x20), session: Self.session(context, port: 137))
        )
        #expect(Array(own.suffix(6)) == [0, 0, 10, 0, 0, 7])
        #expect(
            service.respond(to: query("FILESRV", suffix: 0x20, type: 0x20), session: Self.session(context, port: 137))
                == nil
        )
        #expect(capture.events(.commandInput).map { $0[field: "args"] } == ["*<00>", "WS07<20>", "FILESRV<20>"])
        var generator = SeededGenerator(seed: 137)
        for _ in 0..<3000 {
            var datagram = query("*", suffix: 0, type: 0x21, pad: 0)
            for _ in 0..<Int.random(in: 1...5, using: &generator) {
                datagram[Int.random(in: 0..<datagram.count, using: &generator)] = UInt8.random(
                    in: 0...255,
                    using: &generator
                )
            }
            _ = service.respond(
                to: Array(datagram.prefix(Int.random(in: 0...datagram.count, using: &generator))),
                session: Self.session(context, port: 137)
            )
        }
    }
}

extension LLMNRTests {
    /// NBT-NS bait: broadcast name queries for the bait names from port 137; a positive answer is a poisoner.
    @Test func anNBTNSAnswerToABaitBroadcastIsAPoisoner() throws {
        let capture = EventCapture()
        var context = ServiceContext(
            decky: "decky-w",
            hostname: "WS07",
            service: "llmnr",
            persona: ["llmnr_bait_names": "FS03", "llmnr_bait_interval": "30"],
            sink: capture,
            osFamily: .windows,
            address: "10.0.0.7"
        )
        context.broadcast = "10.0.0.255"
        let service = try LLMNRService(context: context)
        let queries = service.tick(port: 137)
        let query = try #require(queries.first)
        #expect(queries.count == 1 && query.host == "10.0.0.255" && query.port == 137)
        #expect(Array(query.datagram[2..<12]) == [0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0], "broadcast, recursion desired")
        let decoded = try #require(NBSS.name(query.datagram, at: 12))
        #expect(decoded.name == "FS03" && decoded.suffix == 0x20)
        #expect(Array(query.datagram.suffix(4)) == [0, 0x20, 0, 1], "NB, IN")
        // Responder's answer: same id, response, one answer record for the name, NB flags and its address.
        var answer = Array(query.datagram[0..<2]) + [0x85, 0x00, 0, 0, 0, 1, 0, 0, 0, 0]
        answer += Array(query.datagram[12..<46]) + [0, 0x20, 0, 1, 0, 0, 0, 165, 0, 6, 0, 0, 10, 0, 0, 66]
        let session = SessionEvents(
            context: context,
            source: Endpoint(ip: "10.0.0.66", port: 137),
            destination: Endpoint(ip: "10.0.0.7", port: 137)
        )
        #expect(service.respond(to: answer, session: session) == nil)
        let alert = try #require(capture.events(.poisonerDetected).first)
        #expect(
            alert[field: "protocol"] == "nbns" && alert[field: "name"] == "FS03"
                && alert[field: "answer"] == "10.0.0.66"
        )
        // An answer for a name that is not bait, or a truncated one, is nothing.
        var other = answer
        other.replaceSubrange(12..<46, with: NetBIOSNameService.encode("INTRANET", suffix: 0x20))
        _ = service.respond(to: other, session: session)
        _ = service.respond(to: Array(answer.prefix(50)), session: session)
        #expect(capture.events(.poisonerDetected).count == 1)
    }

    /// mDNS answers a querier on 5353 on the group, unless it asked for a unicast answer (QU) or is a one-shot
    /// querier on another port; LLMNR always answers the asker.
    @Test func mDNSAnswersMulticastQueriersOnTheGroup() throws {
        let (service, context) = try Self.service(EventCapture())
        let query = Self.query("ws07.local")
        let group = service.replyDestination(for: query, session: Self.session(context, port: 5353, sourcePort: 5353))
        #expect(group?.host == "224.0.0.251" && group?.port == 5353)
        #expect(
            service.replyDestination(
                for: Self.query("ws07.local", klass: 0x8001),
                session: Self.session(context, port: 5353, sourcePort: 5353)
            ) == nil
        )
        #expect(
            service.replyDestination(for: query, session: Self.session(context, port: 5353, sourcePort: 40_000)) == nil
        )
        #expect(
            service.replyDestination(
                for: Self.query("ws07"),
                session: Self.session(context, port: 5355, sourcePort: 5353)
            ) == nil
        )
    }
}
