import DecnetCore
import DecnetServiceKit
import Testing

@testable import DecnetServices

@Suite struct FTPStateMachineTests {
    static func machine(users: String? = "deploy:Summer2024", anonymous: String = "yes") throws -> FTPStateMachine {
        var persona = ["anonymous": anonymous]
        persona["users"] = users
        let service = try FTPService(
            context: ServiceContext(
                decky: "d",
                hostname: "files-01",
                service: "ftp",
                persona: persona,
                sink: DiscardingEventSink()
            )
        )
        return FTPStateMachine(configuration: service.configuration, localAddress: "10.0.0.5", peerAddress: "10.0.0.66")
    }

    static func send(_ machine: inout FTPStateMachine, _ line: String) -> [FTPStateMachine.Action] {
        machine.received(Array(line.utf8))
    }

    static func replies(_ actions: [FTPStateMachine.Action]) -> [String] {
        actions.compactMap { if case .reply(let text) = $0 { text } else { nil } }
    }

    @Test func anonymousLoginListsPub() throws {
        var machine = try Self.machine()
        #expect(machine.greeting == "220 (vsFTPd 3.0.3)")
        #expect(Self.replies(Self.send(&machine, "LIST")) == ["530 Please login with USER and PASS."])
        #expect(Self.replies(Self.send(&machine, "USER anonymous")) == ["331 Please specify the password."])
        let login = Self.send(&machine, "PASS mozilla@example.com")
        #expect(Self.replies(login) == ["230 Login successful."])
        #expect(
            login.contains {
                if case .emit(.loginSuccess, let fields) = $0 {
                    fields.fields.contains(EventField("method", "anonymous"))
                } else {
                    false
                }
            }
        )
        #expect(Self.replies(Self.send(&machine, "LIST")) == ["425 Use PORT or PASV first."])
        #expect(Self.send(&machine, "PASV").contains(.openPassive(extended: false)))
        #expect(
            Self.replies(machine.passiveOpened(port: 40_123, extended: false)) == [
                "227 Entering Passive Mode (10,0,0,5,156,187)."
            ]
        )
        let list = Self.send(&machine, "LIST")
        #expect(Self.replies(list) == ["150 Here comes the directory listing."])
        #expect(
            list.contains(
                .transfer(
                    .send(Array("drwxr-xr-x    2 1000     1000         4096 Sep 09  2024 pub\r\n".utf8), listing: true)
                )
            )
        )
        #expect(Self.replies(Self.send(&machine, "NOOP")).isEmpty, "commands wait while a transfer runs")
        #expect(Self.replies(machine.transferFinished(connected: true, received: [])) == ["226 Directory send OK."])
        #expect(Self.replies(Self.send(&machine, "STOR x.sh")) == ["550 Permission denied."])
    }

    @Test func accountsUploadAndTheFileIsListedAfterwards() throws {
        var machine = try Self.machine()
        _ = Self.send(&machine, "USER deploy")
        #expect(Self.replies(Self.send(&machine, "PASS Summer2024")) == ["230 Login successful."])
        #expect(Self.replies(Self.send(&machine, "PWD")) == ["257 \"/home/deploy\" is the current directory"])
        _ = Self.send(&machine, "EPSV")
        #expect(
            Self.replies(machine.passiveOpened(port: 40_000, extended: true)) == [
                "229 Entering Extended Passive Mode (|||40000|)"
            ]
        )
        #expect(Self.send(&machine, "STOR miner.sh").contains(.transfer(.receive(path: "/home/deploy/miner.sh"))))
        #expect(
            Self.replies(machine.transferFinished(connected: true, received: Array("#!/bin/sh\n".utf8))) == [
                "226 Transfer complete."
            ]
        )
        #expect(Self.replies(Self.send(&machine, "SIZE miner.sh")) == ["213 10"])
    }

    @Test func bounceAttemptsAreRefused() throws {
        var machine = try Self.machine()
        _ = Self.send(&machine, "USER deploy")
        _ = Self.send(&machine, "PASS Summer2024")
        #expect(Self.replies(Self.send(&machine, "PORT 192,168,1,20,0,25")) == ["500 Illegal PORT command."])
        #expect(Self.replies(Self.send(&machine, "EPRT |1|192.168.1.20|25|")) == ["500 Illegal EPRT command."])
        let own = Self.send(&machine, "PORT 10,0,0,66,195,80")
        #expect(own.contains(.setActive(host: "10.0.0.66", port: 50_000)))
        #expect(Self.replies(Self.send(&machine, "PORT 1,2,3")) == ["500 Illegal PORT command."])
    }

    @Test func threeFailedLoginsClose() throws {
        var machine = try Self.machine()
        for attempt in 1...3 {
            _ = Self.send(&machine, "USER root")
            let actions = Self.send(&machine, "PASS guess\(attempt)")
            #expect(Self.replies(actions) == ["530 Login incorrect."])
            #expect(actions.contains(.close) == (attempt == 3))
        }
        #expect(Self.send(&machine, "USER root").isEmpty)
    }

    @Test func pathsNeverClimbAboveTheRoot() {
        #expect(FTPFileSystem.resolve("../../../etc/passwd", from: "/home/deploy") == "/etc/passwd")
        #expect(FTPFileSystem.resolve("/../../x", from: "/") == "/x")
        #expect(FTPFileSystem.resolve("./a/./b/..", from: "/pub") == "/pub/a")
    }

    @Test func randomLinesNeverCrash() async throws {
        var generator = SystemRandomNumberGenerator()
        let words = [
            "USER", "PASS", "PASV", "EPSV", "PORT", "EPRT", "LIST", "RETR", "STOR", "CWD", "RNFR", "RNTO", "..", "/",
            "|", ",", "1", "anonymous",
        ]
        for round in 0..<2000 {
            if round % 50 == 0 { await Task.yield() }
            var machine = try Self.machine()
            for _ in 0..<8 {
                let line = (0..<Int.random(in: 1...4, using: &generator)).map { _ in
                    words.randomElement(using: &generator)!
                }.joined(separator: " ")
                for action in Self.send(&machine, line) {
                    if case .openPassive(let extended) = action {
                        _ = machine.passiveOpened(
                            port: Int.random(in: 1...65535, using: &generator),
                            extended: extended
                        )
                    }
                    if case .transfer = action {
                        _ = machine.transferFinished(connected: Bool.random(using: &generator), received: [1, 2])
                    }
                }
            }
        }
    }
}
