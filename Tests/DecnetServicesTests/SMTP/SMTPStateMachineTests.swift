import DecnetCore
import DecnetServiceKit
import Foundation
import Testing

@testable import DecnetServices

@Suite struct SMTPStateMachineTests {
    static func machine(_ persona: [String: String] = [:]) throws -> SMTPStateMachine {
        let service = try SMTPService(
            context: ServiceContext(
                decky: "d",
                hostname: "mail.corp.local",
                service: "smtp",
                persona: persona,
                sink: DiscardingEventSink()
            )
        )
        return SMTPStateMachine(configuration: service.configuration, seed: 1)
    }

    static func replies(_ actions: [SMTPStateMachine.Action]) -> [String] {
        actions.compactMap { if case .reply(let text) = $0 { text } else { nil } }
    }

    static func events(_ actions: [SMTPStateMachine.Action]) -> [(EventID, [EventField])] {
        actions.compactMap { if case .emit(let id, let fields) = $0 { (id, fields.fields) } else { nil } }
    }

    static func send(_ machine: inout SMTPStateMachine, _ line: String) -> [SMTPStateMachine.Action] {
        machine.received(Array(line.utf8))
    }

    @Test func authPlainAndLoginAreCaptured() throws {
        var machine = try Self.machine(["users": "alice:pw1"])
        #expect(machine.greeting == "220 mail.corp.local ESMTP Postfix (Debian/GNU)")
        let plain = Self.send(&machine, "AUTH PLAIN " + Data("\0bob\0guess".utf8).base64EncodedString())
        #expect(Self.replies(plain) == ["535 5.7.8 Error: authentication failed: authentication failure"])
        let failed = Self.events(plain).first { $0.0 == .loginFailed }
        #expect(failed?.1.contains(EventField("username", "bob")) == true)
        #expect(failed?.1.contains(EventField("password", "guess")) == true)
        #expect(failed?.1.contains(EventField("method", "PLAIN")) == true)

        #expect(Self.replies(Self.send(&machine, "AUTH LOGIN")) == ["334 VXNlcm5hbWU6"])
        #expect(Self.replies(Self.send(&machine, Data("alice".utf8).base64EncodedString())) == ["334 UGFzc3dvcmQ6"])
        let login = Self.send(&machine, Data("pw1".utf8).base64EncodedString())
        #expect(Self.replies(login) == ["235 2.7.0 Authentication successful"])
        #expect(Self.events(login).map(\.0) == [.loginSuccess])
    }

    @Test func relayingIsRefusedAndRecordedButLocalMailIsTaken() throws {
        var machine = try Self.machine()
        _ = Self.send(&machine, "EHLO probe")
        #expect(Self.replies(Self.send(&machine, "MAIL FROM:<spam@evil.example> SIZE=100")) == ["250 2.1.0 Ok"])
        let relay = Self.send(&machine, "RCPT TO:<victim@gmail.com>")
        #expect(Self.replies(relay) == ["454 4.7.1 <victim@gmail.com>: Relay access denied"])
        #expect(Self.events(relay)[0].1.contains(EventField("relay_probe", "true")))
        #expect(Self.replies(Self.send(&machine, "RCPT TO:<root@corp.local>")) == ["250 2.1.5 Ok"])
        #expect(Self.replies(Self.send(&machine, "DATA")) == ["354 End data with <CR><LF>.<CR><LF>"])
        #expect(Self.send(&machine, "Subject: x").isEmpty)
        #expect(Self.send(&machine, "..leading dot").isEmpty)
        let end = Self.send(&machine, ".")
        #expect(
            end.contains(
                .storeMessage(
                    Array("Subject: x\r\n.leading dot\r\n".utf8),
                    sender: "spam@evil.example",
                    recipients: ["root@corp.local"]
                )
            )
        )
        #expect(Self.replies(end).first?.hasPrefix("250 2.0.0 Ok: queued as ") == true)
    }

    /// `smtp_auth = no` claims a stock Debian Postfix, which has no SASL: no AUTH in EHLO, AUTH refused.
    @Test func withoutAuthThePersonaIsStockPostfix() throws {
        var machine = try Self.machine(["smtp_auth": "no"])
        let ehlo = Self.replies(Self.send(&machine, "EHLO x")).joined()
        #expect(!ehlo.contains("AUTH") && ehlo.hasSuffix("250 SMTPUTF8"))
        #expect(Self.replies(Self.send(&machine, "AUTH LOGIN")) == ["503 5.5.1 Error: authentication not enabled"])
    }

    @Test func sequenceErrorsUsePostfixWording() throws {
        var machine = try Self.machine()
        #expect(Self.replies(Self.send(&machine, "RCPT TO:<a@b>")) == ["503 5.5.1 Error: need MAIL command"])
        #expect(Self.replies(Self.send(&machine, "DATA")) == ["503 5.5.1 Error: need RCPT command"])
        #expect(Self.replies(Self.send(&machine, "XYZZY")) == ["500 5.5.2 Error: command not recognized"])
        #expect(Self.replies(Self.send(&machine, "")) == ["500 5.5.2 Error: bad syntax"])
        #expect(Self.replies(machine.received([0x41, 0x42, 0xFF, 0x0A])) == ["500 5.5.2 Error: bad UTF-8 syntax"])
        // Read as a C string: a NUL first leaves no word (bad syntax); a word not starting with a letter, or one
        // that looks like a mail header, is a forbidden command that ends the session (Postfix 3.7).
        #expect(Self.replies(machine.received([0x00, 0x41, 0x42])) == ["500 5.5.2 Error: bad syntax"])
        #expect(Self.replies(Self.send(&machine, "STARTTLS")) == ["502 5.5.1 Error: command not implemented"])
        for probe in ["\u{16}\u{3}\u{0}\u{FFFD}", "Subject: hi", "1abc"] {
            var forbidden = try Self.machine()
            let answer = Self.send(&forbidden, probe)
            #expect(
                Self.replies(answer) == ["221 2.7.0 Error: I can break rules, too. Goodbye."] && answer.contains(.close)
            )
        }
        // Postfix's smtpd_forbidden_commands: a web request ends the session (Debian 12's, bench/differential).
        var web = try Self.machine()
        let get = Self.send(&web, "GET / HTTP/1.0")
        #expect(Self.replies(get) == ["221 2.7.0 Error: I can break rules, too. Goodbye."] && get.contains(.close))
        #expect(
            Self.replies(Self.send(&machine, "AUTH CRAM-MD5")) == [
                "535 5.7.8 Error: authentication failed: Invalid authentication mechanism"
            ]
        )
        #expect(Self.replies(Self.send(&machine, "AUTH PLAIN !!!notbase64")) == ["501 5.5.2 Cannot decode response"])
        #expect(Self.send(&machine, "QUIT").contains(.close))
        #expect(Self.send(&machine, "NOOP").isEmpty)
    }

    @Test func oversizedMessagesAreRefusedAfterTheirEnd() throws {
        var machine = try Self.machine()
        _ = Self.send(&machine, "MAIL FROM:<a@b>")
        _ = Self.send(&machine, "RCPT TO:<root>")
        _ = Self.send(&machine, "DATA")
        let chunk = String(repeating: "x", count: 60_000)
        for _ in 0..<200 { _ = Self.send(&machine, chunk) }
        let end = Self.send(&machine, ".")
        #expect(Self.replies(end) == ["552 5.3.4 Error: message file too big"])
        #expect(!end.contains { if case .storeMessage = $0 { true } else { false } })
    }

    @Test func eximPersona() throws {
        var machine = try Self.machine(["smtp_mta": "exim"])
        #expect(machine.greeting.hasPrefix("220 mail.corp.local ESMTP Exim 4.96 "))
        #expect(Self.replies(Self.send(&machine, "EHLO x")).first?.hasPrefix("250-mail.corp.local Hello x\r\n") == true)
        #expect(Self.replies(Self.send(&machine, "BOGUS")) == ["500 unrecognized command"])
    }
}
