import DecnetCore
import DecnetServiceKit
import Testing

@testable import DecnetServices

/// The domain controller's directory: searches as enumeration tools send them (filters, scopes, paging, AD's
/// bitwise matching rules), accepted simple binds, StartTLS, and hostile searches.
@Suite struct LDAPDirectoryTests {
    static func machine(
        anonymous: Bool = true,
        users: String = "anna.keller:Spring2024!",
        tls: Bool = true
    ) -> LDAPStateMachine {
        var configuration = LDAPTests.configuration
        configuration.directory = LDAPDirectory(
            identity: configuration.identity,
            baseDN: configuration.baseDN,
            domain: configuration.domain,
            staff: LDAPDirectory.defaultStaff
        )
        configuration.anonymousReads = anonymous
        configuration.users = AcceptedCredentials(users)
        configuration.tlsAvailable = tls
        return LDAPStateMachine(
            configuration: configuration,
            random: { [1, 2, 3, 4, 5, 6, 7, 8] },
            now: { 133_777_000_000_000_000 },
            generalizedTime: { "20261205120000.0Z" }
        )
    }

    /// A SearchRequest with a filter already BER-encoded, and optionally the paged results control.
    static func search(
        _ id: Int,
        base: String,
        scope: Int = 2,
        sizeLimit: Int = 0,
        filter: [UInt8],
        attributes: [String] = [],
        paged: (Int, [UInt8])? = nil
    ) -> [UInt8] {
        let body =
            BERWriter.string(base) + BERWriter.integer(scope, tag: 0x0A) + BERWriter.integer(0, tag: 0x0A)
            + BERWriter.integer(sizeLimit) + BERWriter.integer(0) + [0x01, 0x01, 0x00] + filter
            + BERWriter.constructed(0x30, attributes.map { BERWriter.string($0) }, ad: false)
        var parts = [BERWriter.integer(id), BERWriter.element(0x63, body)]
        if let (size, cookie) = paged {
            let value = BERWriter.constructed(0x30, [BERWriter.integer(size), BERWriter.octets(cookie)], ad: false)
            let control = BERWriter.constructed(
                0x30,
                [BERWriter.string("1.2.840.113556.1.4.319"), BERWriter.octets(value)],
                ad: false
            )
            parts.append(BERWriter.constructed(0xA0, [control], ad: false))
        }
        return BERWriter.constructed(0x30, parts, ad: false)
    }

    static func equal(_ name: String, _ value: String) -> [UInt8] {
        BERWriter.element(0xA3, BERWriter.string(name) + BERWriter.string(value))
    }
    static func present(_ name: String) -> [UInt8] { BERWriter.string(name, tag: 0x87) }
    static func and(_ filters: [UInt8]...) -> [UInt8] { BERWriter.element(0xA0, filters.flatMap { $0 }) }
    static func or(_ filters: [UInt8]...) -> [UInt8] { BERWriter.element(0xA1, filters.flatMap { $0 }) }
    static func not(_ filter: [UInt8]) -> [UInt8] { BERWriter.element(0xA2, filter) }
    static func substring(_ name: String, initial: String? = nil, any: [String] = [], final: String? = nil) -> [UInt8] {
        var pieces: [UInt8] = []
        if let initial { pieces += BERWriter.string(initial, tag: 0x80) }
        for piece in any { pieces += BERWriter.string(piece, tag: 0x81) }
        if let final { pieces += BERWriter.string(final, tag: 0x82) }
        return BERWriter.element(0xA4, BERWriter.string(name) + BERWriter.element(0x30, pieces))
    }
    static func bitwise(_ name: String, _ rule: String, _ value: String) -> [UInt8] {
        BERWriter.element(
            0xA9,
            BERWriter.string(rule, tag: 0x81) + BERWriter.string(name, tag: 0x82) + BERWriter.string(value, tag: 0x83)
        )
    }

    /// The DNs of the entries a reply sends, and its SearchResultDone's result code.
    static func results(
        _ actions: [LDAPStateMachine.Action]
    ) -> (dns: [String], references: Int, code: Int, done: [UInt8]) {
        var dns: [String] = []
        var references = 0
        var code = -1
        var done: [UInt8] = []
        for reply in LDAPTests.sent(actions) {
            guard let (_, operation) = Self.operation(reply) else { continue }
            switch operation.tag {
            case 0x64:
                let length = Int(operation.body[1])
                dns.append(String(decoding: operation.body[2..<(2 + length)], as: UTF8.self))
            case 0x73: references += 1
            case 0x65, 0x78:
                code = Int(operation.body[2])
                done = reply
            default: break
            }
        }
        return (dns, references, code, done)
    }

    /// The operation inside an envelope written with four-byte lengths: its tag and content.
    static func operation(_ reply: [UInt8]) -> (id: Int, (tag: UInt8, body: [UInt8]))? {
        guard reply.count > 12, reply[0] == 0x30, reply[1] == 0x84, reply[6] == 0x02 else { return nil }
        let idLength = Int(reply[7])
        let at = 8 + idLength
        guard reply.count > at + 5, reply[at + 1] == 0x84 else { return nil }
        let length = Int(reply[at + 2]) << 24 | Int(reply[at + 3]) << 16 | Int(reply[at + 4]) << 8 | Int(reply[at + 5])
        let body = Array(reply[(at + 6)..<min(reply.count, at + 6 + length)])
        return (Int(reply[8]), (reply[at], body))
    }

    @Test func anonymousSearchesEnumerateUsersGroupsAndComputers() {
        var machine = Self.machine()
        let users = Self.results(
            machine.received(
                .message(
                    Self.search(
                        2,
                        base: "DC=corp,DC=local",
                        filter: Self.and(Self.equal("objectCategory", "person"), Self.equal("objectClass", "user")),
                        attributes: ["sAMAccountName"]
                    )
                )
            )
        )
        #expect(users.code == 0 && users.references == 3, "subtree searches of the domain name its partitions")
        #expect(users.dns.contains("CN=Administrator,CN=Users,DC=corp,DC=local"))
        #expect(users.dns.contains("CN=Sara Lind,CN=Users,DC=corp,DC=local") && users.dns.count == 13)
        let computers = Self.results(
            machine.received(
                .message(Self.search(3, base: "DC=corp,DC=local", filter: Self.equal("objectCategory", "computer")))
            )
        )
        #expect(computers.dns.first == "CN=DC01,OU=Domain Controllers,DC=corp,DC=local" && computers.dns.count == 3)
        let disabled = Self.results(
            machine.received(
                .message(
                    Self.search(
                        4,
                        base: "DC=corp,DC=local",
                        filter: Self.bitwise("userAccountControl", "1.2.840.113556.1.4.803", "2")
                    )
                )
            )
        )
        #expect(disabled.dns == ["CN=Guest,CN=Users,DC=corp,DC=local", "CN=krbtgt,CN=Users,DC=corp,DC=local"])
        let spn = Self.results(
            machine.received(
                .message(
                    Self.search(
                        5,
                        base: "CN=Users,DC=corp,DC=local",
                        scope: 1,
                        filter: Self.and(
                            Self.present("servicePrincipalName"),
                            Self.not(Self.substring("sAMAccountName", final: "$"))
                        )
                    )
                )
            )
        )
        #expect(spn.dns == ["CN=svc_sql,CN=Users,DC=corp,DC=local"] && spn.references == 0)
        let admins = Self.results(
            machine.received(
                .message(
                    Self.search(
                        6,
                        base: "DC=corp,DC=local",
                        filter: Self.or(
                            Self.substring("cn", initial: "domain ad"),
                            Self.substring("cn", any: ["terprise"])
                        )
                    )
                )
            )
        )
        #expect(
            admins.dns == [
                "CN=Domain Admins,CN=Users,DC=corp,DC=local", "CN=Enterprise Admins,CN=Users,DC=corp,DC=local",
            ]
        )
    }

    @Test func aBaseThatDoesNotExistGetsADsNoObjectError() {
        var machine = Self.machine()
        let actions = machine.received(
            .message(Self.search(2, base: "OU=Payroll,DC=corp,DC=local", filter: Self.present("objectClass")))
        )
        let result = Self.results(actions)
        #expect(result.code == 32)
        #expect(
            String(decoding: result.done, as: UTF8.self).contains(
                "problem 2001 (NO_OBJECT), data 0, best match of:\n\t'DC=corp,DC=local'"
            )
        )
    }

    @Test func pagedSearchesReturnPagesAndACookieUntilTheEnd() throws {
        var machine = Self.machine()
        var cookie: [UInt8] = []
        var seen: [String] = []
        for page in 0..<20 {
            let result = Self.results(
                machine.received(
                    .message(
                        Self.search(
                            10 + page,
                            base: "DC=corp,DC=local",
                            filter: Self.present("objectClass"),
                            attributes: ["1.1"],
                            paged: (7, cookie)
                        )
                    )
                )
            )
            seen += result.dns
            // The done message ends with the paged control: SEQUENCE { INTEGER 0, OCTET STRING cookie }.
            let tail = result.done
            let marker = Array("1.2.840.113556.1.4.319".utf8)
            let at = try #require(tail.indices.first { tail[$0...].starts(with: marker) })
            let value = Array(tail[(at + marker.count + 2)...])
            cookie = Array(value[7..<(7 + Int(value[6]))])
            if cookie.isEmpty { break }
            #expect(result.dns.count == 7)
        }
        #expect(Set(seen).count == seen.count && seen.count == 30, "every entry once")
        let limited = Self.results(
            machine.received(
                .message(Self.search(40, base: "DC=corp,DC=local", sizeLimit: 2, filter: Self.present("objectClass")))
            )
        )
        #expect(limited.dns.count == 2 && limited.code == 4, "sizeLimitExceeded")
        // The cookie comes back from the client, so it may be anything: a negative one starts at the start, one
        // past the end gives an empty page; a page size of Int.max is the rest.
        for (forged, size, expected) in [("-5", 7, 7), ("99999999999999", 7, 0), ("x", 7, 7), ("1", Int.max, 29)] {
            let page = Self.results(
                machine.received(
                    .message(
                        Self.search(
                            50,
                            base: "DC=corp,DC=local",
                            filter: Self.present("objectClass"),
                            attributes: ["1.1"],
                            paged: (size, Array(forged.utf8))
                        )
                    )
                )
            )
            #expect(page.dns.count == expected && page.code == 0, "cookie \(forged)")
        }
    }

    @Test func withoutAnonymousReadsOnlyAnAcceptedBindMaySearch() {
        var machine = Self.machine(anonymous: false)
        let search = Self.search(2, base: "DC=corp,DC=local", filter: Self.present("objectClass"))
        #expect(Self.results(machine.received(.message(search))).code == 1)
        let wrong = machine.received(
            .message(LDAPTests.bind(3, name: "CORP\\anna.keller", choice: 0x80, Array("nope".utf8)))
        )
        #expect(LDAPTests.fields(wrong, .loginFailed)["username"]?.hasSuffix("anna.keller") == true)
        for name in ["CORP\\anna.keller", "anna.keller@corp.local", "CN=Anna Keller,CN=Users,DC=corp,DC=local"] {
            var bound = Self.machine(anonymous: false)
            let accepted = bound.received(
                .message(LDAPTests.bind(3, name: name, choice: 0x80, Array("Spring2024!".utf8)))
            )
            #expect(LDAPTests.fields(accepted, .loginSuccess)["password"] == "Spring2024!", "\(name)")
            #expect(Self.results(bound.received(.message(search))).code == 0, "\(name)")
        }
    }

    @Test func startTLSIsAcceptedOnceWhenThereIsACertificate() {
        let request = BERWriter.constructed(
            0x30,
            [BERWriter.integer(1), BERWriter.element(0x77, BERWriter.string("1.3.6.1.4.1.1466.20037", tag: 0x80))],
            ad: false
        )
        var machine = Self.machine()
        let first = machine.received(.message(request))
        #expect(first.last == .startTLS && Self.results(first).code == 0)
        let response = Self.results(first).done
        #expect(response.suffix(24) == [0x8A, 22] + Array("1.3.6.1.4.1.1466.20037".utf8), "the responseName AD sends")
        let second = machine.received(.message(request))
        #expect(!second.contains(.startTLS) && Self.results(second).code == 1)
        var plain = Self.machine(tls: false)
        let refused = plain.received(.message(request))
        #expect(!refused.contains(.startTLS) && Self.results(refused).code == 52)
    }

    /// Filters nested past any sense, controls that lie and cookies that are not ours get answers, never a crash.
    @Test func hostileSearchesAreAnswered() {
        var deep = Self.present("cn")
        for _ in 0..<40 { deep = Self.not(deep) }
        var machine = Self.machine()
        for request in [
            Self.search(2, base: "DC=corp,DC=local", filter: deep),
            Self.search(3, base: "DC=corp,DC=local", filter: Self.present("cn"), paged: (-5, Array("zz".utf8))),
            Self.search(
                4,
                base: "DC=corp,DC=local",
                filter: Self.present("cn"),
                paged: (1 << 30, Array("999999999999".utf8))
            ),
            Self.search(5, base: String(repeating: "CN=x,", count: 2000), filter: Self.present("cn")),
            Self.search(
                6,
                base: "DC=corp,DC=local",
                filter: Self.bitwise("userAccountControl", "1.2.840.113556.1.4.803", "not a number")
            ),
            Self.search(7, base: "DC=corp,DC=local", filter: [0xA9, 0x00]),
        ] {
            let actions = machine.received(.message(request))
            #expect(Self.results(actions).code >= 0 && !actions.contains(.close))
        }
    }
}
