import DecnetCore
import DecnetTesting
import Foundation
import Testing

@Suite struct EventCatalogueTests {
    /// docs/events.md lists exactly the ids of `EventID.catalogue`, in the same order.
    @Test func docsAndCodeAgree() throws {
        let doc = try String(contentsOf: PackageLayout.root.appendingPathComponent("docs/events.md"), encoding: .utf8)
        let documented = doc.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") else { return nil }
            let id = String(line[line.index(line.startIndex, offsetBy: 3)..<end])
            return id.contains(".") ? id : nil
        }
        #expect(documented == EventID.catalogue.map(\.rawValue))
    }

    @Test func rfc5424LinesEscapeAndCarryEveryField() throws {
        var fields = EventFields()
        fields.add("username", attackerText: "ro\"ot]\\")
        fields.add("password", attackerBytes: [0x70, 0x00, 0x0A, 0xFF], secret: true)
        let event = HoneypotEvent(
            uuid: UUID(uuidString: "AD4F54F4-878E-43EE-A3D0-06C2C38068D8")!,
            time: Date(timeIntervalSince1970: 1_795_267_206.25),
            id: .loginFailed,
            decky: "decky-07",
            hostname: "db 01",
            service: "redis",
            session: "0e28133f49dc",
            source: Endpoint(ip: "10.0.0.66", port: 57180),
            destination: Endpoint(ip: "10.0.0.107", port: 6379),
            fields: fields.fields
        )
        let line = RFC5424Formatter.line(for: event)
        #expect(
            line.hasPrefix(
                "<133>1 2026-11-21T13:20:06.250000Z db01 redis - login.failed [decnet@32473 uuid=\"ad4f54f4-878e-43ee-a3d0-06c2c38068d8\" decky=\"decky-07\""
            )
        )
        #expect(line.contains(" username=\"ro\\\"ot\\]\\\\\\\\\""))
        #expect(line.contains(" username_b64=\"cm8ib3RdXA==\""))
        #expect(line.contains(" password=\"p\\\\x00\\\\n\\\\xff\" password_b64=\"cAAK/w==\""))
        #expect(line.contains(" src_ip=\"10.0.0.66\" src_port=\"57180\" dst_ip=\"10.0.0.107\" dst_port=\"6379\""))
        #expect(!line.contains("\n"))
    }

    @Test func printableKeepsUTF8AndEscapesTheRest() {
        #expect(EventFields.printable(Array("héllo wörld ✓".utf8)) == ("héllo wörld ✓", true))
        #expect(EventFields.printable([0x41, 0xC3]) == ("A\\xc3", false))
        #expect(
            EventFields.printable([0xE2, 0x80, 0xAE]).text == "\u{202E}"
                || EventFields.printable([0xE2, 0x80, 0xAE]).lossless == false
        )
        #expect(EventFields.printable(Array("a\tb".utf8)) == ("a\\tb", false))
    }
}
