import DecnetCore
import DecnetServiceKit

/// An Active Directory domain controller's LDAP before anyone has bound, without I/O: the rootDSE from the
/// persona (naming contexts, DNS and service names, functional levels, controls, SASL mechanisms) in AD's BER
/// style, simple binds captured and refused with AD's 49/52e message, NTLM binds (Sicily, as impacket makes them,
/// and SASL GSS-SPNEGO, as ldap3's NTLM and ldapdomaindump do) challenged with the persona's CHALLENGE and
/// captured as hashcat lines, and searches below the rootDSE refused as AD refuses an unbound connection.
struct LDAPStateMachine {
    enum Action: Equatable {
        case send([UInt8])
        case emit(EventID, EventFields)
        case close
        /// Start TLS after what was sent (a successful StartTLS).
        case startTLS
    }

    struct Configuration: Sendable, Equatable {
        var identity: WindowsIdentity
        /// `DC=corp,DC=local`.
        var baseDN: String
        /// The DNS domain (`corp.local`).
        var domain: String
        /// AD's functional level for the release (7 from Server 2016).
        var functionalLevel: Int
        var site = "Default-First-Site-Name"
        /// USN the rootDSE reports (a live DC's is in the hundreds of thousands).
        var highestCommittedUSN: Int
        /// The directory searches read, nil for none (every search below the rootDSE then needs a bind).
        var directory: LDAPDirectory? = nil
        /// `ldap_anonymous`: anonymous searches read the directory (as on a DC whose dsHeuristics allow it).
        var anonymousReads = false
        /// Simple binds the persona accepts (`users`): they may read the directory.
        var users = AcceptedCredentials(nil)
        /// Whether the service has a certificate for StartTLS.
        var tlsAvailable = false
    }

    let configuration: Configuration
    var random: () -> [UInt8]
    var now: () -> UInt64
    /// The current time as LDAP's GeneralizedTime (`20261205204500.0Z`).
    var generalizedTime: () -> String
    private var closed = false
    /// NTLM exchanges in progress, by mechanism: the challenge sent.
    private var challenge: [UInt8]?
    /// The DN of an accepted simple bind.
    private(set) var bound: String?
    /// Whether the connection is TLS already (LDAPS, or after StartTLS).
    var inTLS = false

    init(
        configuration: Configuration,
        random: @escaping () -> [UInt8],
        now: @escaping () -> UInt64,
        generalizedTime: @escaping () -> String
    ) {
        self.configuration = configuration
        self.random = random
        self.now = now
        self.generalizedTime = generalizedTime
    }

    var identity: WindowsIdentity { self.configuration.identity }

    /// `v4563`: the build in hexadecimal, as AD's diagnostic messages end.
    var buildTag: String { "v" + String(self.identity.build, radix: 16) }

    mutating func received(_ inbound: LDAPInbound) -> [Action] {
        guard !self.closed else { return [] }
        switch inbound {
        case .invalid(let problem, let bytes):
            self.closed = true
            return [.emit(.clientMalformed, EventFields.malformed(problem, preview: bytes)), .close]
        case .message(let bytes):
            guard let (id, request) = LDAP.parse(bytes) else {
                // AD drops a connection that sends something that is not an LDAPMessage.
                self.closed = true
                return [.emit(.clientMalformed, EventFields.malformed("not an LDAPMessage", preview: bytes)), .close]
            }
            return self.handle(id, request)
        }
    }

    private mutating func handle(_ id: Int, _ request: LDAPRequest) -> [Action] {
        switch request {
        case .bind(let version, let name, let authentication):
            return self.bind(id, version: version, name: name, authentication)
        case .search(let search):
            var fields = EventFields()
            fields.add("command", "search")
            fields.add(
                "args",
                attackerText:
                    "base=\(search.base) scope=\(search.scope) filter=\(search.filter) attributes=\(search.attributes.joined(separator: ","))"
            )
            if search.base.isEmpty && search.scope == 0 {
                return [
                    .emit(.commandInput, fields), .send(self.rootDSE(id, attributes: search.attributes)),
                    .send(self.result(id, tag: 0x65, code: 0)),
                ]
            }
            guard let directory = self.configuration.directory, self.bound != nil || self.configuration.anonymousReads
            else {
                let text =
                    "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, \(self.buildTag)"
                return [.emit(.commandInput, fields), .send(self.result(id, tag: 0x65, code: 1, message: text))]
            }
            return [.emit(.commandInput, fields)] + self.search(id, search, in: directory)
        case .unbind:
            self.closed = true
            return [.close]
        case .abandon:
            return []
        case .extended(let name):
            var fields = EventFields()
            fields.add("command", "extended")
            fields.add("args", attackerText: name)
            // StartTLS with the DC's certificate (the one LDAPS serves); a second one is an error, as on AD.
            // Without a certificate AD answers unavailable. Anything else is not supported.
            let starttls = name == "1.3.6.1.4.1.1466.20037"
            if starttls && self.configuration.tlsAvailable {
                guard !self.inTLS else {
                    let text =
                        "00000000: LdapErr: DSID-0C09125E, comment: TLS or SSL already in effect, data 0, \(self.buildTag)"
                    return [.emit(.commandInput, fields), .send(self.result(id, tag: 0x78, code: 1, message: text))]
                }
                self.inTLS = true
                let body =
                    BERWriter.integer(0, tag: 0x0A) + BERWriter.octets([]) + BERWriter.string("")
                    + BERWriter.string(name, tag: 0x8A)
                return [
                    .emit(.commandInput, fields),
                    .send(self.envelope(id, BERWriter.element(0x78, body, longLength: true))), .startTLS,
                ]
            }
            let text =
                starttls
                ? "00000000: LdapErr: DSID-0C091257, comment: Error initializing SSL/TLS, data 0, \(self.buildTag)"
                : "0000203D: LdapErr: DSID-0C091248, comment: Unknown extended request OID, data 0, \(self.buildTag)"
            return [
                .emit(.commandInput, fields),
                .send(self.result(id, tag: 0x78, code: starttls ? 52 : 2, message: text)),
            ]
        case .other(let tag):
            var fields = EventFields()
            fields.add("command", "operation \(tag)")
            let text =
                "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, \(self.buildTag)"
            let responseTag: UInt8 = [6: 0x67, 8: 0x69, 10: 0x6B, 12: 0x6D, 14: 0x6F][tag] ?? 0x65
            if self.bound != nil {
                // A bound user who is not an administrator: the directory is read-only to them.
                let denied =
                    "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n"
                return [
                    .emit(.commandInput, fields), .send(self.result(id, tag: responseTag, code: 50, message: denied)),
                ]
            }
            return [.emit(.commandInput, fields), .send(self.result(id, tag: responseTag, code: 1, message: text))]
        }
    }

    private mutating func bind(
        _ id: Int,
        version: Int,
        name: String,
        _ authentication: LDAPRequest.Authentication
    ) -> [Action] {
        switch authentication {
        case .simple(let password):
            guard !(name.isEmpty && password.isEmpty) else {
                // An anonymous bind succeeds on AD; what it may then read is the rootDSE.
                self.bound = nil
                return [.send(self.result(id, tag: 0x61, code: 0))]
            }
            var fields = EventFields()
            fields.add("username", attackerText: name)
            fields.add("password", attackerBytes: password, secret: true)
            fields.add("method", "simple")
            fields.add("ldap_version", String(version))
            if let account = self.accountName(name),
                self.configuration.users.pairs.contains(where: {
                    $0.user.lowercased() == account.lowercased()
                        && ($0.password == "*" || Array($0.password.utf8) == password)
                })
            {
                self.bound = name
                return [.emit(.loginSuccess, fields), .send(self.result(id, tag: 0x61, code: 0))]
            }
            let text =
                "80090308: LdapErr: DSID-0C090569, comment: AcceptSecurityContext error, data 52e, \(self.buildTag)"
            return [.emit(.loginFailed, fields), .send(self.result(id, tag: 0x61, code: 49, message: text))]
        case .sicilyDiscovery:
            // AD names the packages it offers in the matched DN.
            return [.send(self.bindResponse(id, code: 0, matchedDN: Array("NTLM".utf8)))]
        case .sicilyNegotiate(let token):
            guard NTLM.messageType(token) == .negotiate else { return self.badNTLM(id, token) }
            let challenge = self.newChallenge()
            let message = NTLM.challenge(
                challenge,
                answering: token,
                wrapped: false,
                identity: self.identity,
                time: self.now()
            )
            return [.send(self.bindResponse(id, code: 0, matchedDN: message))]
        case .sicilyResponse(let token):
            return self.authenticate(id, token: token, wrapped: false, method: "sicily")
        case .sasl(let mechanism, let credentials):
            guard mechanism == "GSS-SPNEGO" || mechanism == "NTLM" else {
                var fields = EventFields()
                fields.add("username", attackerText: name)
                fields.add("method", "sasl(\(mechanism))")
                let text =
                    "80090308: LdapErr: DSID-0C090569, comment: AcceptSecurityContext error, data 52e, \(self.buildTag)"
                return [.emit(.loginFailed, fields), .send(self.result(id, tag: 0x61, code: 49, message: text))]
            }
            let token = SPNEGO.clientToken(credentials ?? [])
            guard let ntlm = token.ntlm else { return self.badNTLM(id, credentials ?? []) }
            if NTLM.messageType(ntlm) == .negotiate {
                let challenge = self.newChallenge()
                let reply = NTLM.challenge(
                    challenge,
                    answering: ntlm,
                    wrapped: token.wrapped,
                    identity: self.identity,
                    time: self.now()
                )
                return [.send(self.bindResponse(id, code: 14, serverSaslCreds: reply))]
            }
            return self.authenticate(id, token: ntlm, wrapped: token.wrapped, method: "sasl(\(mechanism))")
        case .other(let tag):
            var fields = EventFields()
            fields.add("username", attackerText: name)
            fields.add("method", "bind choice \(tag)")
            return [
                .emit(.loginFailed, fields),
                .send(
                    self.result(
                        id,
                        tag: 0x61,
                        code: 7,
                        message:
                            "00002027: LdapErr: DSID-0C0905DF, comment: Unknown authentication method, data 0, \(self.buildTag)"
                    )
                ),
            ]
        }
    }

    private mutating func newChallenge() -> [UInt8] {
        let challenge = Array(self.random().prefix(8))
        self.challenge = challenge
        return challenge
    }

    private mutating func authenticate(_ id: Int, token: [UInt8], wrapped: Bool, method: String) -> [Action] {
        guard let challenge = self.challenge, let message = try? NTLM.authenticate(token) else {
            return self.badNTLM(id, token)
        }
        self.challenge = nil
        var fields = NTLM.loginFields(message, serverChallenge: challenge)
        fields.add("auth", method)
        let text = "8009030C: LdapErr: DSID-0C0906B5, comment: AcceptSecurityContext error, data 52e, \(self.buildTag)"
        return [.emit(.loginFailed, fields), .send(self.result(id, tag: 0x61, code: 49, message: text))]
    }

    private func badNTLM(_ id: Int, _ bytes: [UInt8]) -> [Action] {
        let text = "80090308: LdapErr: DSID-0C0907C2, comment: AcceptSecurityContext error, data 57, \(self.buildTag)"
        return [
            .emit(.clientMalformed, EventFields.malformed("bind without a usable NTLM message", preview: bytes)),
            .send(self.result(id, tag: 0x61, code: 49, message: text)),
        ]
    }

    // MARK: replies

    /// An LDAPResult-shaped response (BindResponse 0x61, SearchResultDone 0x65, ExtendedResponse 0x78 …).
    func result(_ id: Int, tag: UInt8, code: Int, matchedDN: [UInt8] = [], message: String = "") -> [UInt8] {
        let body = BERWriter.integer(code, tag: 0x0A) + BERWriter.octets(matchedDN) + BERWriter.string(message)
        return self.envelope(id, BERWriter.element(tag, body, longLength: true))
    }

    func bindResponse(_ id: Int, code: Int, matchedDN: [UInt8] = [], serverSaslCreds: [UInt8]? = nil) -> [UInt8] {
        var body = BERWriter.integer(code, tag: 0x0A) + BERWriter.octets(matchedDN) + BERWriter.string("")
        if let serverSaslCreds { body += BERWriter.octets(serverSaslCreds, tag: 0x87) }
        return self.envelope(id, BERWriter.element(0x61, body, longLength: true))
    }

    func envelope(_ id: Int, _ operation: [UInt8]) -> [UInt8] {
        BERWriter.constructed(0x30, [BERWriter.integer(id), operation], ad: true)
    }

    /// The rootDSE entry, with the attributes asked for (all of them for none, `*` or `+`).
    func rootDSE(_ id: Int, attributes wanted: [String]) -> [UInt8] {
        let all = wanted.isEmpty || wanted.contains("*") || wanted.contains("+")
        let wantedSet = Set(wanted.map { $0.lowercased() })
        let attributes = self.rootDSEAttributes.filter { all || wantedSet.contains($0.name.lowercased()) }
        let encoded = attributes.map { attribute in
            BERWriter.constructed(
                0x30,
                [
                    BERWriter.string(attribute.name),
                    BERWriter.constructed(0x31, attribute.values.map { BERWriter.string($0) }, ad: true),
                ],
                ad: true
            )
        }
        let entry = BERWriter.constructed(
            0x64,
            [BERWriter.string(""), BERWriter.constructed(0x30, encoded, ad: true)],
            ad: true
        )
        return self.envelope(id, entry)
    }

    var rootDSEAttributes: [(name: String, values: [String])] {
        let base = self.configuration.baseDN
        let configuration = "CN=Configuration," + base
        let host = self.identity.netbiosName
        let server = "CN=\(host),CN=Servers,CN=\(self.configuration.site),CN=Sites,\(configuration)"
        let domain = self.configuration.domain
        let level = String(self.configuration.functionalLevel)
        return [
            ("currentTime", [self.generalizedTime()]),
            ("subschemaSubentry", ["CN=Aggregate,CN=Schema,\(configuration)"]),
            ("dsServiceName", ["CN=NTDS Settings,\(server)"]),
            (
                "namingContexts",
                [
                    base, configuration, "CN=Schema,\(configuration)", "DC=DomainDnsZones,\(base)",
                    "DC=ForestDnsZones,\(base)",
                ]
            ),
            ("defaultNamingContext", [base]),
            ("rootDomainNamingContext", [base]),
            ("configurationNamingContext", [configuration]),
            ("schemaNamingContext", ["CN=Schema,\(configuration)"]),
            ("supportedControl", Self.supportedControls),
            ("supportedLDAPVersion", ["3", "2"]),
            (
                "supportedLDAPPolicies",
                [
                    "MaxPoolThreads", "MaxPercentDirSyncRequests", "MaxDatagramRecv",
                    "MaxReceiveBuffer", "InitRecvTimeout", "MaxConnections", "MaxConnIdleTime",
                    "MaxPageSize", "MaxBatchReturnMessages", "MaxQueryDuration",
                    "MaxDirSyncDuration", "MaxTempTableSize", "MaxResultSetSize", "MinResultSets",
                    "MaxResultSetsPerConn", "MaxNotificationPerConn", "MaxValRange",
                    "MaxValRangeTransitive", "ThreadMemoryLimit", "SystemMemoryLimitPercent",
                ]
            ),
            ("highestCommittedUSN", [String(self.configuration.highestCommittedUSN)]),
            ("supportedSASLMechanisms", ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"]),
            ("dnsHostName", [self.identity.dnsHostName]),
            ("ldapServiceName", ["\(domain):\(host.lowercased())$@\(domain.uppercased())"]),
            ("serverName", [server]),
            (
                "supportedCapabilities",
                [
                    "1.2.840.113556.1.4.800", "1.2.840.113556.1.4.1670", "1.2.840.113556.1.4.1791",
                    "1.2.840.113556.1.4.1935", "1.2.840.113556.1.4.2080", "1.2.840.113556.1.4.2237",
                ]
            ),
            ("isSynchronized", ["TRUE"]),
            ("isGlobalCatalogReady", ["TRUE"]),
            ("domainFunctionality", [level]),
            ("forestFunctionality", [level]),
            ("domainControllerFunctionality", [level]),
        ]
    }

    /// The controls a Windows Server 2016+ DC lists (MS-ADTS 3.1.1.3.4.1).
    static let supportedControls: [String] = [
        "1.2.840.113556.1.4.319", "1.2.840.113556.1.4.801", "1.2.840.113556.1.4.473", "1.2.840.113556.1.4.528",
        "1.2.840.113556.1.4.417", "1.2.840.113556.1.4.619", "1.2.840.113556.1.4.841", "1.2.840.113556.1.4.529",
        "1.2.840.113556.1.4.805", "1.2.840.113556.1.4.521", "1.2.840.113556.1.4.970", "1.2.840.113556.1.4.1338",
        "1.2.840.113556.1.4.474", "1.2.840.113556.1.4.1339", "1.2.840.113556.1.4.1340", "1.2.840.113556.1.4.1413",
        "2.16.840.1.113730.3.4.9", "2.16.840.1.113730.3.4.10", "1.2.840.113556.1.4.1504", "1.2.840.113556.1.4.1852",
        "1.2.840.113556.1.4.802", "1.2.840.113556.1.4.1907", "1.2.840.113556.1.4.1948", "1.2.840.113556.1.4.1974",
        "1.2.840.113556.1.4.1341", "1.2.840.113556.1.4.2026", "1.2.840.113556.1.4.2064", "1.2.840.113556.1.4.2065",
        "1.2.840.113556.1.4.2066", "1.2.840.113556.1.4.2090", "1.2.840.113556.1.4.2205", "1.2.840.113556.1.4.2204",
        "1.2.840.113556.1.4.2206", "1.2.840.113556.1.4.2211", "1.2.840.113556.1.4.2239", "1.2.840.113556.1.4.2255",
        "1.2.840.113556.1.4.2256", "1.2.840.113556.1.4.2309",
    ]

}

extension LDAPStateMachine {
    /// The account a bind name means: `CORP\user`, `user@corp.local`, a directory user's DN, or the bare name.
    func accountName(_ name: String) -> String? {
        if let slash = name.lastIndex(of: "\\") { return String(name[name.index(after: slash)...]) }
        if let at = name.firstIndex(of: "@") { return String(name[..<at]) }
        if name.lowercased().hasPrefix("cn=") {
            if let sam = self.configuration.directory?.entry(name)?.values("sAMAccountName").first {
                return String(decoding: sam, as: UTF8.self)
            }
            return name.dropFirst(3).split(separator: ",").first.map(String.init)
        }
        return name.isEmpty ? nil : name
    }

    /// A search below the rootDSE: the entries its base, scope and filter reach, with the attributes asked for,
    /// paged when the client asks (the simple paged results control, as ldapdomaindump and impacket do), the
    /// application partitions as references on a subtree search of the domain, and AD's NO_OBJECT error for a
    /// base that does not exist.
    func search(_ id: Int, _ search: LDAPRequest.Search, in directory: LDAPDirectory) -> [Action] {
        guard directory.entry(search.base) != nil else {
            let best = directory.bestMatch(search.base)
            let text =
                "0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'\(best)'\n"
            return [.send(self.result(id, tag: 0x65, code: 32, matchedDN: Array(best.utf8), message: text))]
        }
        let matched = directory.scope(search.base, search.scope).filter { search.tree.matches($0) }
        var start = 0, end = matched.count, code = 0
        if let paged = search.paged {
            // The cookie is the client's to send back, so anything may come: a negative one starts at the start.
            start = min(max(Int(String(decoding: paged.cookie, as: UTF8.self)) ?? 0, 0), matched.count)
            end = paged.size > 0 ? start + min(paged.size, matched.count - start) : start
        }
        if search.sizeLimit > 0 && end - start > search.sizeLimit {
            end = start + search.sizeLimit
            code = 4
        }
        var actions: [Action] = matched[start..<end].map { .send(self.entry(id, $0, search)) }
        let finished = end == matched.count
        if finished && code == 0 && search.scope == 2
            && LDAPDirectory.normalize(search.base) == LDAPDirectory.normalize(directory.baseDN)
        {
            let domain = self.configuration.domain, base = directory.baseDN
            for uri in [
                "ldap://ForestDnsZones.\(domain)/DC=ForestDnsZones,\(base)",
                "ldap://DomainDnsZones.\(domain)/DC=DomainDnsZones,\(base)",
                "ldap://\(domain)/CN=Configuration,\(base)",
            ] {
                actions.append(.send(self.envelope(id, BERWriter.constructed(0x73, [BERWriter.string(uri)], ad: true))))
            }
        }
        let done = BERWriter.element(
            0x65,
            BERWriter.integer(code, tag: 0x0A) + BERWriter.octets([]) + BERWriter.string(""),
            longLength: true
        )
        var parts = [BERWriter.integer(id), done]
        if search.paged != nil {
            let cookie = finished ? [] : Array(String(end).utf8)
            let value = BERWriter.constructed(0x30, [BERWriter.integer(0), BERWriter.octets(cookie)], ad: false)
            let control = BERWriter.constructed(
                0x30,
                [BERWriter.string("1.2.840.113556.1.4.319"), BERWriter.octets(value)],
                ad: true
            )
            parts.append(BERWriter.constructed(0xA0, [control], ad: true))
        }
        actions.append(.send(BERWriter.constructed(0x30, parts, ad: true)))
        return actions
    }

    /// A SearchResultEntry with the attributes asked for (all of them for none or `*`, none for `1.1`).
    func entry(_ id: Int, _ entry: LDAPDirectory.Entry, _ search: LDAPRequest.Search) -> [UInt8] {
        let wanted = Set(search.attributes.map { $0.lowercased() })
        let all = wanted.isEmpty || wanted.contains("*")
        let attributes = entry.attributes.filter { all || wanted.contains($0.name.lowercased()) }
        let encoded: [[UInt8]] =
            wanted == ["1.1"]
            ? []
            : attributes.map { attribute in
                BERWriter.constructed(
                    0x30,
                    [
                        BERWriter.string(attribute.name),
                        BERWriter.constructed(
                            0x31,
                            search.typesOnly ? [] : attribute.values.map { BERWriter.octets($0) },
                            ad: true
                        ),
                    ],
                    ad: true
                )
            }
        let body = BERWriter.constructed(
            0x64,
            [BERWriter.string(entry.dn), BERWriter.constructed(0x30, encoded, ad: true)],
            ad: true
        )
        return self.envelope(id, body)
    }
}
