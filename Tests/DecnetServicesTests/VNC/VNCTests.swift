import DecnetCore
import Testing

@testable import DecnetServices

/// The RFB state machine, with challenge/response pairs hydra 9.4 (an independent VNC client) computed against it.
@Suite struct VNCTests {
    static let configuration = VNCStateMachine.Configuration(
        minor: 8,
        versionText: "003.008",
        password: "s3cr3t",
        desktopName: "ws01"
    )

    static func bytes(_ hex: String) -> [UInt8] {
        stride(from: 0, to: hex.count, by: 2).map {
            UInt8(
                hex[hex.index(hex.startIndex, offsetBy: $0)..<hex.index(hex.startIndex, offsetBy: $0 + 2)],
                radix: 16
            )!
        }
    }

    static func fields(_ actions: [VNCStateMachine.Action], _ id: EventID) -> [String: String] {
        for case .emit(id, let fields) in actions {
            return Dictionary(fields.fields.map { ($0.name, $0.value) }) { first, _ in first }
        }
        return [:]
    }

    @Test func hydrasResponsesVerifyAgainstTheirPasswords() {
        // Captured live: hydra answering challenges with "admin" and "s3cr3t".
        let pairs = [
            ("ce4702571dffaf808f9ef0dbe577c878", "0a054cecf6733b6c10ce50e53047406b", "admin"),
            ("9e0940f8d33625d20b396da863c7f957", "58fa2f5e813b2399b03b55f5780675af", "s3cr3t"),
        ]
        for (challenge, response, password) in pairs {
            #expect(
                VNCAuth.response(challenge: Self.bytes(challenge), password: Array(password.utf8))
                    == Self.bytes(response)
            )
            #expect(
                VNCAuth.response(challenge: Self.bytes(challenge), password: Array("x".utf8)) != Self.bytes(response)
            )
        }
        #expect(VNCAuth.reversed(0b1000_0011) == 0b1100_0001)
    }

    /// The common-password check (key schedules made once, the second block only when the first matches) names
    /// each listed password from its response, and nothing for others or for a response of the wrong size.
    @Test func everyCommonPasswordIsRecoveredFromItsResponse() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let challenge = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for password in VNCAuth.commonPasswords {
                let response = VNCAuth.response(challenge: challenge, password: Array(password.utf8))
                #expect(VNCAuth.recoverCommon(challenge: challenge, response: response) == password)
            }
            for other in ["hunter2", "s3cr3t", "", "passwore"] {
                let response = VNCAuth.response(challenge: challenge, password: Array(other.utf8))
                #expect(VNCAuth.recoverCommon(challenge: challenge, response: response) == nil, "\(other)")
            }
            // The first block right and the second wrong is no match.
            var half = VNCAuth.response(challenge: challenge, password: Array("admin".utf8))
            half[15] ^= 1
            #expect(VNCAuth.recoverCommon(challenge: challenge, response: half) == nil)
            #expect(VNCAuth.recoverCommon(challenge: challenge, response: Array(half.prefix(8))) == nil)
            #expect(VNCAuth.recoverCommon(challenge: [], response: half) == nil)
        }
    }

    @Test func aWrongPasswordIsCapturedWithItsChallengeAndRefusedAsRFB38Does() {
        let challenge = Self.bytes("ce4702571dffaf808f9ef0dbe577c878")
        var machine = VNCStateMachine(configuration: Self.configuration, challenge: challenge)
        #expect(machine.greeting == Array("RFB 003.008\n".utf8))
        #expect(machine.received(Array("RFB 003.008\n".utf8)).contains(.send([1, 2])))
        // The type and the response may arrive in one chunk, or split anywhere.
        var actions = machine.received([2] + Self.bytes("0a054cecf6"))
        #expect(actions.contains(.send(challenge)))
        actions = machine.received(Self.bytes("733b6c10ce50e53047406b"))
        let login = Self.fields(actions, .loginFailed)
        #expect(login["challenge_hex"] == "ce4702571dffaf808f9ef0dbe577c878" && login["password"] == "admin")
        #expect(login["john"] == "$vnc$*CE4702571DFFAF808F9EF0DBE577C878*0A054CECF6733B6C10CE50E53047406B")
        #expect(actions.contains(.send([0, 0, 0, 1, 0, 0, 0, 21] + Array("Authentication failed".utf8))))
        #expect(actions.last == .close)
    }

    /// A Linux decky speaking 3.8 words its refusals as TigerVNC, Debian's VNC server (Xtigervnc 1.12, measured
    /// in bench/differential): "Authentication failure", and a silent close for a type it did not offer.
    @Test func linuxDeckiesRefuseAsTigerVNC() {
        var configuration = Self.configuration
        configuration.tigerVNC = true
        var machine = VNCStateMachine(configuration: configuration, challenge: Array(repeating: 7, count: 16))
        _ = machine.received(Array("RFB 003.008\n".utf8))
        _ = machine.received([2])
        let refused = machine.received(Array(repeating: 0x41, count: 16))
        #expect(refused.contains(.send([0, 0, 0, 1, 0, 0, 0, 22] + Array("Authentication failure".utf8))))
        var unoffered = VNCStateMachine(configuration: configuration, challenge: Array(repeating: 7, count: 16))
        _ = unoffered.received(Array("RFB 003.008\n".utf8))
        let none = unoffered.received([1])
        #expect(!none.contains { if case .send = $0 { true } else { false } } && none.last == .close)
        var future = VNCStateMachine(configuration: configuration, challenge: Array(repeating: 7, count: 16))
        let reason = "Client needs protocol version 9.999, server has 3.8"
        let refusedVersion = future.received(Array("RFB 009.999\n".utf8))
        #expect(refusedVersion.contains(.send([0, 0, 0, 0, UInt8(reason.utf8.count)] + Array(reason.utf8))))
        #expect(refusedVersion.last == .close)
    }

    @Test func theRightPasswordOpensADesktopThatRecordsTyping() {
        let challenge = Self.bytes("9e0940f8d33625d20b396da863c7f957")
        var machine = VNCStateMachine(configuration: Self.configuration, challenge: challenge)
        _ = machine.received(Array("RFB 003.008\n".utf8) + [2])
        let actions = machine.received(Self.bytes("58fa2f5e813b2399b03b55f5780675af"))
        #expect(Self.fields(actions, .loginSuccess)["password"] == "s3cr3t" && actions.contains(.send([0, 0, 0, 0])))
        let init_ = machine.received([1])
        #expect(
            init_.contains(.send(machine.serverInit))
                && machine.serverInit.suffix(8) == [0, 0, 0, 4] + Array("ws01".utf8)
        )
        var keys: [UInt8] = [2, 0, 0, 1, 0, 0, 0, 0]  // SetEncodings: raw
        for character in "id" {
            keys += [4, 1, 0, 0, 0, 0, 0, UInt8(character.asciiValue!)] + [4, 0, 0, 0, 0, 0, 0, 0x69]
        }
        keys += [4, 1, 0, 0, 0, 0, 0xFF, 0x0D]
        #expect(Self.fields(machine.received(keys), .commandInput)["args"] == "id")
    }

    @Test func olderClientsGetTheirOwnVersionsFraming() {
        var machine = VNCStateMachine(configuration: Self.configuration, challenge: [UInt8](repeating: 7, count: 16))
        // 3.3: the server picks the type itself and sends the challenge at once; a failure carries no reason.
        #expect(
            machine.received(Array("RFB 003.003\n".utf8)).contains(
                .send([0, 0, 0, 2] + [UInt8](repeating: 7, count: 16))
            )
        )
        #expect(machine.received([UInt8](repeating: 0, count: 16)).contains(.send([0, 0, 0, 1])))
        var v37 = VNCStateMachine(configuration: Self.configuration, challenge: [UInt8](repeating: 7, count: 16))
        _ = v37.received(Array("RFB 003.007\n".utf8) + [2] + [UInt8](repeating: 0, count: 16))
        #expect(v37.state == .closed)
    }

    @Test func hostileClientsAreRefusedOrClosed() {
        // realvnc-auth-bypass: asks for None, which was not offered.
        var bypass = VNCStateMachine(configuration: Self.configuration, challenge: [UInt8](repeating: 0, count: 16))
        let refused = bypass.received(Array("RFB 003.008\n".utf8) + [1])
        #expect(Self.fields(refused, .loginFailed)["method"] == "rfb-security-type-1" && refused.last == .close)
        for junk in [
            Array("GET / HTTP/1.1\r\n".utf8), [UInt8](repeating: 0xFF, count: 12), Array("RFB 00x.008\n".utf8),
        ] {
            var machine = VNCStateMachine(
                configuration: Self.configuration,
                challenge: [UInt8](repeating: 0, count: 16)
            )
            #expect(machine.received(junk).last == .close)
        }
        var flood = VNCStateMachine(configuration: Self.configuration, challenge: [UInt8](repeating: 0, count: 16))
        #expect(flood.received([UInt8](repeating: 0x41, count: VNCStateMachine.maximumBuffer + 1)).last == .close)
        // A session message claiming a 2 GiB clipboard, and an unknown message type, close.
        var session = VNCStateMachine(
            configuration: Self.configuration,
            challenge: Self.bytes("9e0940f8d33625d20b396da863c7f957")
        )
        _ = session.received(Array("RFB 003.008\n".utf8) + [2] + Self.bytes("58fa2f5e813b2399b03b55f5780675af") + [1])
        #expect(session.received([6, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF]).last == .close)
        var generator = SeededGenerator(seed: 59)
        for _ in 0..<2000 {
            var machine = VNCStateMachine(
                configuration: Self.configuration,
                challenge: [UInt8](repeating: 0, count: 16)
            )
            let chunk = (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            _ = machine.received(Array("RFB 003.008\n".utf8) + chunk)
            _ = machine.connectionClosed()
        }
    }
}
