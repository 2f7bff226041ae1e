import DecnetCore
import DecnetServiceKit
import Testing

@testable import DecnetServices

/// TFTP as tftp-hpa serves it: reads in blocks (with and without options), writes kept, errors, hostile datagrams.
@Suite struct TFTPTests {
    static func request(
        _ opcode: UInt8,
        _ name: String,
        mode: String = "octet",
        options: [(String, String)] = []
    ) -> [UInt8] {
        var out: [UInt8] = [0, opcode] + Array(name.utf8) + [0] + Array(mode.utf8) + [0]
        for (option, value) in options { out += Array(option.utf8) + [0] + Array(value.utf8) + [0] }
        return out
    }

    static func ack(_ block: Int) -> [UInt8] { [0, 4, UInt8(block >> 8), UInt8(block & 0xFF)] }

    @Test func aReadIsSentBlockByBlockUntilAShortOne() throws {
        let server = TFTPServer(files: ["big.bin": [UInt8](repeating: 0x41, count: 1_100)])
        let (first, events, _) = server.receive(Self.request(1, "/big.bin"), from: "10.0.0.66:4000")
        #expect(Array(try #require(first).prefix(4)) == [0, 3, 0, 1] && first?.count == 516)
        #expect(events.contains { $0.0 == .fileDownload })
        #expect(server.receive(Self.ack(1), from: "10.0.0.66:4000").0?.prefix(4) == [0, 3, 0, 2])
        #expect(
            server.receive(Self.ack(1), from: "10.0.0.66:4000").0?.prefix(4) == [0, 3, 0, 2],
            "a repeated ACK gets its block again"
        )
        let last = try #require(server.receive(Self.ack(2), from: "10.0.0.66:4000").0)
        #expect(last.prefix(4) == [0, 3, 0, 3] && last.count == 4 + 76)
        #expect(server.receive(Self.ack(3), from: "10.0.0.66:4000").0 == nil, "done")
        #expect(server.receive(Self.ack(1), from: "10.0.0.99:4000").0 == nil, "no transfer for another client")
    }

    @Test func optionsAreNegotiatedAsRFC2347Says() throws {
        let server = TFTPServer(files: TFTPServer.defaultFiles(hostname: "edge-rtr01"))
        let (oack, _, _) = server.receive(
            Self.request(1, "startup-config", options: [("tsize", "0"), ("blksize", "1024")]),
            from: "a:1"
        )
        let size = TFTPServer.defaultFiles(hostname: "edge-rtr01")["startup-config"]!.count
        #expect(
            oack == [0, 6] + Array("tsize".utf8) + [0] + Array(String(size).utf8) + [0] + Array("blksize".utf8) + [0]
                + Array("1024".utf8) + [0]
        )
        let data = try #require(server.receive(Self.ack(0), from: "a:1").0)
        #expect(
            data.prefix(4) == [0, 3, 0, 1]
                && String(decoding: data.dropFirst(4), as: UTF8.self).contains("hostname edge-rtr01")
        )
    }

    /// `tftp_uploads = no`: tftpd-hpa's --secure without -c, which writes only existing world-writable files.
    @Test func withoutUploadsWritesAreRefusedAsTftpHpaRefusesThem() {
        let server = TFTPServer(files: ["startup-config": Array("x".utf8)], uploads: false)
        #expect(server.receive(Self.request(2, "upload.bin"), from: "a:1").0 == TFTPServer.error(1, "File not found"))
        #expect(
            server.receive(Self.request(2, "startup-config"), from: "a:2").0 == TFTPServer.error(0, "Permission denied")
        )
    }

    @Test func writesAreKeptAndUnknownFilesRefused() {
        let server = TFTPServer(files: [:])
        let (missing, events, _) = server.receive(Self.request(1, "../../etc/passwd"), from: "a:1")
        #expect(missing == TFTPServer.error(1, "File not found"))
        #expect(events.first?.1.fields.contains { $0.name == "args" && $0.value == "../../etc/passwd" } == true)
        #expect(server.receive(Self.request(2, "implant.bin"), from: "b:2").0 == [0, 4, 0, 0])
        let block1 = [0, 3, 0, 1] + [UInt8](repeating: 0x7F, count: 512)
        #expect(server.receive(block1, from: "b:2").0 == Self.ack(1))
        #expect(server.receive(block1, from: "b:2").0 == Self.ack(1), "a retransmission is acknowledged again")
        let (ack, _, upload) = server.receive([0, 3, 0, 2] + Array("ELF".utf8), from: "b:2")
        #expect(ack == Self.ack(2) && upload?.0 == "implant.bin" && upload?.1.count == 515)
        #expect(
            server.receive(Self.request(1, "x", mode: "mail"), from: "c:3").0 == TFTPServer.error(4, "Unknown mode")
        )
    }

    @Test func hostileDatagramsGetErrorsOrSilence() {
        let server = TFTPServer(files: TFTPServer.defaultFiles(hostname: "r1"))
        #expect(server.receive([0, 1], from: "a:1").0 == nil)
        // tftp-hpa's port 69 drops what is not a request (a scanner's DNS or SNMP probe), and a request without
        // a mode gets "Missing mode" (both measured against the real one, bench/differential).
        #expect(server.receive([0, 9, 0, 0], from: "a:1").0 == nil)
        #expect(server.receive(Array("\0\u{6}\u{1}\0\0\u{1}\0\0\0\0\0\0\u{7}version".utf8), from: "a:1").0 == nil)
        #expect(server.receive([0, 1, 0x41, 0x41], from: "a:1").0 == TFTPServer.error(4, "Missing mode"))
        #expect(server.receive([0, 3, 0, 1, 1, 2, 3], from: "z:9").0 == TFTPServer.error(5, "Unknown transfer ID"))
        var generator = SeededGenerator(seed: 69)
        for _ in 0..<3000 {
            var sample = Self.request(
                UInt8.random(in: 1...2, using: &generator),
                "startup-config",
                options: [("blksize", "8")]
            )
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                sample[Int.random(in: 0..<sample.count, using: &generator)] = UInt8.random(
                    in: 0...255,
                    using: &generator
                )
            }
            _ = server.receive(sample, from: "f:\(Int.random(in: 1...50, using: &generator))")
            _ = server.receive(Self.ack(Int.random(in: 0...3, using: &generator)), from: "f:1")
        }
    }
}
