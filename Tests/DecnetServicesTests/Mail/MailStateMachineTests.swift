import DecnetCore
import DecnetServiceKit
import Foundation
import Testing

@testable import DecnetServices

@Suite struct POP3StateMachineTests {
    static func machine(users: String? = "bob:hunter2") throws -> POP3StateMachine {
        var persona: [String: String] = [:]
        persona["users"] = users
        let service = try POP3Service(
            context: ServiceContext(
                decky: "d",
                hostname: "mail.corp.local",
                service: "pop3",
                persona: persona,
                sink: DiscardingEventSink(),
                distro: "debian"
            )
        )
        return POP3StateMachine(configuration: service.configuration)
    }

    static func replies(_ actions: [POP3StateMachine.Action]) -> String {
        actions.compactMap { if case .reply(let text) = $0 { text } else { nil } }.joined()
    }

    static func logins(_ actions: [POP3StateMachine.Action]) -> [(EventID, [EventField])] {
        actions.compactMap {
            if case .emit(let id, let fields) = $0, id == .loginSuccess || id == .loginFailed {
                (id, fields.fields)
            } else {
                nil
            }
        }
    }

    @Test func userPassAndSaslAreCaptured() throws {
        var machine = try Self.machine()
        #expect(machine.greeting == "+OK Dovecot (Debian) ready.\r\n")
        #expect(Self.replies(machine.received(Array("PASS x".utf8))) == "-ERR No username given.\r\n")
        _ = machine.received(Array("USER bob".utf8))
        let failed = machine.received(Array("PASS nope".utf8))
        #expect(Self.replies(failed) == "-ERR [AUTH] Authentication failed.\r\n")
        #expect(Self.logins(failed)[0].1.contains(EventField("password", "nope")))
        let plain = machine.received(Array(("AUTH PLAIN " + Data("\0bob\0hunter2".utf8).base64EncodedString()).utf8))
        #expect(Self.replies(plain) == "+OK Logged in.\r\n")
        #expect(Self.logins(plain).map(\.0) == [.loginSuccess])
        #expect(Self.replies(machine.received(Array("STAT".utf8))).hasPrefix("+OK 1 "))
        #expect(Self.replies(machine.received(Array("RETR 1".utf8))).hasSuffix("\r\n.\r\n"))
        #expect(Self.replies(machine.received(Array("RETR 9".utf8))) == "-ERR There's no message 9.\r\n")
        #expect(machine.received(Array("QUIT".utf8)).contains(.close))
    }

    @Test func commandsBeforeLoginAndGarbage() throws {
        var machine = try Self.machine(users: nil)
        #expect(Self.replies(machine.received(Array("STAT".utf8))) == "-ERR Unknown command.\r\n")
        #expect(Self.replies(machine.received([0xFF, 0x00, 0x20])) == "-ERR Unknown command.\r\n")
        #expect(Self.replies(machine.received(Array("AUTH LOGIN".utf8))) == "+ VXNlcm5hbWU6\r\n")
        #expect(Self.replies(machine.received(Array("*".utf8))) == "-ERR Authentication aborted by client.\r\n")
        #expect(Self.replies(machine.receivedOverlongLine()) == "-ERR Input buffer full, aborting\r\n")
    }

    /// Dovecot's pop3-login: the third bad command before login ends the connection; QUIT there has no period.
    @Test func threeBadCommandsBeforeLoginClose() throws {
        var machine = try Self.machine(users: nil)
        #expect(Self.replies(machine.received(Array("HELO x".utf8))) == "-ERR Unknown command.\r\n")
        #expect(Self.replies(machine.received(Array("STAT".utf8))) == "-ERR Unknown command.\r\n")
        let third = machine.received(Array("RETR 1".utf8))
        #expect(Self.replies(third) == "-ERR Unknown command.\r\n-ERR Too many invalid bad commands.\r\n")
        #expect(third.contains(.close))
        var other = try Self.machine(users: nil)
        #expect(Self.replies(other.received(Array("QUIT".utf8))) == "+OK Logging out\r\n")
    }
}

@Suite struct IMAPStateMachineTests {
    static func machine(users: String? = "bob:hunter2", distro: String = "ubuntu22") throws -> IMAPStateMachine {
        var persona: [String: String] = [:]
        persona["users"] = users
        let service = try IMAPService(
            context: ServiceContext(
                decky: "d",
                hostname: "mail.corp.local",
                service: "imap",
                persona: persona,
                sink: DiscardingEventSink(),
                distro: distro
            )
        )
        return IMAPStateMachine(configuration: service.configuration)
    }

    static func send(_ machine: inout IMAPStateMachine, _ line: String) -> [IMAPStateMachine.Action] {
        machine.received(Array(line.utf8))
    }

    static func replies(_ actions: [IMAPStateMachine.Action]) -> String {
        actions.compactMap { if case .reply(let text) = $0 { text } else { nil } }.joined()
    }

    static func fields(_ actions: [IMAPStateMachine.Action], _ id: EventID) -> [EventField]? {
        for case .emit(let found, let fields) in actions where found == id { return fields.fields }
        return nil
    }

    @Test func loginWithQuotedStringsAndLiterals() throws {
        var machine = try Self.machine()
        #expect(machine.greeting.hasSuffix("] Dovecot (Ubuntu) ready.\r\n"))
        let quoted = Self.send(&machine, "a1 LOGIN \"bob\" \"wr\\\"ong\"")
        #expect(Self.replies(quoted) == "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
        #expect(Self.fields(quoted, .loginFailed)?.contains(EventField("password", "wr\"ong")) == true)
        // A synchronizing literal asks the client to go on, and may contain a line break.
        #expect(Self.replies(Self.send(&machine, "a2 LOGIN bob {9}")) == "+ OK\r\n")
        #expect(Self.send(&machine, "hun").isEmpty)
        let literal = Self.send(&machine, "ter2")
        #expect(Self.fields(literal, .loginFailed)?.contains(EventField("password_b64", "aHVuDQp0ZXIy")) == true)
        // LITERAL+ needs no continuation.
        #expect(Self.send(&machine, "a3 LOGIN bob {7+}").isEmpty)
        let ok = Self.send(&machine, "hunter2")
        #expect(Self.replies(ok).hasPrefix("a3 OK [CAPABILITY IMAP4rev1 "))
        #expect(Self.fields(ok, .loginSuccess)?.contains(EventField("username", "bob")) == true)
        #expect(Self.replies(Self.send(&machine, "a4 SELECT INBOX")).contains("* 1 EXISTS\r\n"))
        #expect(Self.replies(Self.send(&machine, "a5 UID FETCH 1 (BODY[])")).contains("a5 OK Fetch completed"))
        #expect(Self.send(&machine, "a6 LOGOUT").contains(.close))
    }

    @Test func authenticatePlainAndIDAreRecorded() throws {
        var machine = try Self.machine()
        let id = Self.send(&machine, "x ID (\"name\" \"Thunderbird\" \"version\" \"115.8\")")
        #expect(
            Self.fields(id, .clientFingerprint)?.contains(
                EventField("client", "\"name\" \"Thunderbird\" \"version\" \"115.8\"")
            ) == true
        )
        #expect(Self.replies(Self.send(&machine, "y AUTHENTICATE PLAIN")) == "+ \r\n")
        let plain = Self.send(&machine, Data("\0eve\0pw".utf8).base64EncodedString())
        #expect(Self.fields(plain, .loginFailed)?.contains(EventField("username", "eve")) == true)
        let ir = Self.send(&machine, "z AUTHENTICATE PLAIN " + Data("\0bob\0hunter2".utf8).base64EncodedString())
        #expect(Self.replies(ir).hasPrefix("z OK "))
    }

    @Test func malformedCommandsGetBadAndTheSessionGoesOn() throws {
        var machine = try Self.machine()
        #expect(
            Self.replies(Self.send(&machine, "a LOGIN \"unterminated"))
                == "a BAD Error in IMAP command received by server.\r\n"
        )
        #expect(
            Self.replies(Self.send(&machine, "b ID ((((((((((((((((((((x))))))))))))))))))))"))
                == "b BAD Error in IMAP command received by server.\r\n"
        )
        #expect(Self.replies(Self.send(&machine, "e NOOP")) == "e OK NOOP completed.\r\n")
        // imap-login says goodbye at the third bad command, as Dovecot's does.
        let third = Self.send(&machine, "c LOGIN bob {999999999}")
        #expect(Self.replies(third) == "* BYE Too many invalid IMAP commands.\r\n" && third.contains(.close))
    }

    /// Before login every command imap-login will not run gets one answer, whatever it was: the reply to
    /// `GET / HTTP/1.0` nmap names Dovecot by (bench/differential measured the real one).
    @Test func commandsBeforeLoginGetDovecotsOneAnswer() throws {
        var machine = try Self.machine()
        #expect(
            Self.replies(Self.send(&machine, "GET / HTTP/1.0"))
                == "GET BAD Error in IMAP command received by server.\r\n"
        )
        #expect(Self.replies(Self.send(&machine, "")) == "* BAD Error in IMAP command received by server.\r\n")
        var other = try Self.machine()
        #expect(
            Self.replies(Self.send(&other, "d SELECT INBOX")) == "d BAD Error in IMAP command received by server.\r\n"
        )
        #expect(
            Self.replies(Self.send(&other, "LOGIN a b"))
                == "LOGIN BAD First parameter in line is IMAP's command tag, not the command name. Add that before the command, like: a login user pass\r\n"
        )
        #expect(Self.replies(other.receivedOverlongLine()) == "* BYE Input buffer full, aborting\r\n")
        // A failed login waits as Dovecot's auth_failure_delay does.
        var third = try Self.machine()
        #expect(Self.send(&third, "a LOGIN bob wrong").contains(.delay(.seconds(2))))
    }

    @Test func randomLinesNeverCrash() async throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("a1 LOGIN AUTHENTICATE {}+\"\\() 0123456789*".utf8) + [0x00, 0xFF]
        for round in 0..<3000 {
            if round % 50 == 0 { await Task.yield() }
            var machine = try Self.machine()
            for _ in 0..<4 {
                let line = (0..<Int.random(in: 0...40, using: &generator)).map { _ in
                    alphabet.randomElement(using: &generator)!
                }
                _ = machine.received(line)
            }
        }
    }

    /// Before login, input is read as Dovecot's imap-login reads it (Debian 12's 2.3.19, bench/differential): a
    /// binary probe's first byte is a bad tag at once, the rest of its line is skipped, the third bad command
    /// ends the connection, LOGIN's advice is not counted, and a token that outgrows the 1,026-byte buffer ends
    /// it too.
    @Test func beforeLoginTagsAreReadByteByByte() throws {
        var rpc = try Self.machine()
        #expect(
            Self.replies(rpc.received(bytes: [0x80, 0, 0, 0x28, 0x72, 0xFE]))
                == "* BAD Error in IMAP command received by server.\r\n"
        )
        #expect(rpc.received(bytes: [0x41, 0x42]).isEmpty)
        var garbage = try Self.machine()
        let all = (0..<256).map { UInt8($0) }
        let replies = garbage.received(bytes: all + all)
        #expect(
            Self.replies(replies)
                == "* BAD Error in IMAP command received by server.\r\n* BAD Error in IMAP command received by server.\r\n* BYE Too many invalid IMAP commands.\r\n"
        )
        #expect(replies.contains(.close))
        var advice = try Self.machine()
        let first = Self.replies(advice.received(bytes: Array("LOGIN a b\r\n".utf8)))
        #expect(first.hasPrefix("LOGIN BAD First parameter in line is IMAP's command tag"))
        #expect(
            Self.replies(advice.received(bytes: Array("a1 FOO\r\n".utf8)))
                == "a1 BAD Error in IMAP command received by server.\r\n"
        )
        #expect(
            Self.replies(advice.received(bytes: Array("\r\n".utf8)))
                == "* BAD Error in IMAP command received by server.\r\n"
        )
        #expect(
            Self.replies(advice.received(bytes: Array("LOGIN\r\n".utf8))) == "* BYE Too many invalid IMAP commands.\r\n"
        )
        var long = try Self.machine()
        #expect(Self.replies(long.received(bytes: Array(repeating: 0x41, count: 1025) + [13, 10])).hasPrefix("* BAD"))
        var full = try Self.machine()
        #expect(
            Self.replies(full.received(bytes: Array(repeating: 0x41, count: 8192) + [13, 10]))
                == "* BYE Input buffer full, aborting\r\n"
        )
        // A real client's login, split at every byte, and a literal, still work.
        var client = try Self.machine()
        var answered = ""
        for byte in Array("a1 CAPABILITY\r\na2 LOGIN {3}\r\n".utf8) {
            answered += Self.replies(client.received(bytes: [byte]))
        }
        #expect(answered.contains("a1 OK Pre-login capabilities listed") && answered.hasSuffix("+ OK\r\n"))
        let login = client.received(bytes: Array("bob hunter2\r\na3 SELECT INBOX\r\n".utf8))
        #expect(Self.replies(login).contains("a2 OK [CAPABILITY") && Self.replies(login).contains("a3 OK [READ-WRITE]"))
    }
}
