import DecnetConfig
import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The loader against malformed files: each error names file:line:key and says what is expected.
@Suite struct FleetFileLoaderTests {
    static let general = "[general]\nnet = 192.168.1.0/24\ngw = 192.168.1.1\n"

    /// Loads and plans `text`, returning every diagnostic.
    static func problems(_ text: String) -> [String] {
        let request = FleetFileLoader.request(from: text, path: "bad.ini")
        do {
            _ = try FleetPlanner().plan(request)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    static func expectSingle(
        _ text: String,
        _ prefix: String,
        _ expected: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let problems = Self.problems(text)
        #expect(problems.count == 1, "\(problems)", sourceLocation: sourceLocation)
        let first = problems.first ?? ""
        #expect(first.hasPrefix(prefix), "\(first)", sourceLocation: sourceLocation)
        #expect(first.contains(expected), "\(first)", sourceLocation: sourceLocation)
    }

    @Test func missingGeneral() {
        Self.expectSingle(
            "[decky-01]\nservices = ssh\n",
            "bad.ini:1: [general]: section missing",
            "expected [general] with net"
        )
    }

    @Test func missingNetAndGateway() {
        let problems = Self.problems("[general]\ninterface = eth0\n[decky-01]\nservices = ssh\n")
        #expect(
            problems == [
                "bad.ini:1: [general] net: missing; expected net = CIDR, e.g. 192.168.1.0/24",
                "bad.ini:1: [general] gw: missing; expected gw = gateway IP, e.g. 192.168.1.1",
            ]
        )
    }

    @Test func badCIDR() {
        for net in ["192.168.1.0/33", "192.168.1.5/24", "192.168.1.0", "banana"] {
            Self.expectSingle(
                "[general]\nnet = \(net)\ngw = 192.168.1.1\n[decky-01]\nservices = ssh\n",
                "bad.ini:2: [general] net: '\(net)' is not a subnet",
                "expected a CIDR with host bits zero"
            )
        }
    }

    @Test func amountWithIP() {
        Self.expectSingle(
            Self.general + "[group]\nip = 192.168.1.120\nservices = ssh\namount = 3\n",
            "bad.ini:7: [group] amount: cannot be combined with ip = (set at bad.ini:5)",
            "expected either one static ip or amount"
        )
    }

    @Test func unknownService() {
        Self.expectSingle(
            Self.general + "[decky-01]\nservices = ssh, telnetd\n",
            "bad.ini:5: [decky-01] services: unknown service 'telnetd'",
            "expected slugs from `decnet services`"
        )
    }

    @Test func unknownPersonaKey() {
        Self.expectSingle(
            Self.general + "[decky-01]\nservices = ssh\n[decky-01.ssh]\nssh_version = OpenSSH_9.2p1\nbanner = hi\n",
            "bad.ini:8: [decky-01.ssh] banner: unknown persona key for ssh",
            "expected one of ssh_version, kernel_version, users, keyboard_interactive, password_delay_ms, login_grace_time"
        )
    }

    @Test func badPersonaValue() {
        Self.expectSingle(
            Self.general + "[decky-01]\nservices = http\n[decky-01.http]\nresponse_code = 9000\n",
            "bad.ini:7: [decky-01.http] response_code: '9000'",
            "expected a whole number from 100 to 599"
        )
    }

    @Test func personaForAServiceTheDeckyDoesNotRun() {
        Self.expectSingle(
            Self.general + "[decky-01]\nservices = ssh\n[decky-01.http]\nserver_header = nginx\n",
            "bad.ini:6: [decky-01.http]: decky-01 does not run http",
            "expected one of its services: ssh"
        )
    }

    @Test func duplicateIPs() {
        Self.expectSingle(
            Self.general
                + "[decky-01]\nip = 192.168.1.110\nservices = ssh\n[decky-02]\nip = 192.168.1.110\nservices = ssh\n",
            "bad.ini:8: [decky-02] ip: 192.168.1.110 is already used by decky-01 (bad.ini:5)",
            "expected a unique address"
        )
    }

    @Test func ipOutsideTheSubnet() {
        Self.expectSingle(
            Self.general + "[decky-01]\nip = 10.0.0.5\nservices = ssh\n",
            "bad.ini:5: [decky-01] ip: 10.0.0.5 is outside net 192.168.1.0/24",
            "expected a host address inside it"
        )
        Self.expectSingle(
            Self.general + "[decky-01]\nip = 192.168.1.255\nservices = ssh\n",
            "bad.ini:5: [decky-01] ip: 192.168.1.255 is the network or broadcast address of net 192.168.1.0/24",
            "expected a host address"
        )
    }

    @Test func unknownKeysAreErrorsNotIgnored() {
        Self.expectSingle(
            Self.general + "[decky-01]\nservices = ssh\nservice = http\n",
            "bad.ini:6: [decky-01] service: unknown key",
            "expected one of ip, services, archetype, nmap_os, amount"
        )
        Self.expectSingle(
            "[general]\nnet = 192.168.1.0/24\ngw = 192.168.1.1\nlogtarget = x\n[d]\nservices = ssh\n",
            "bad.ini:4: [general] logtarget: unknown key",
            "expected one of net, gw, interface, log_target"
        )
    }

    @Test func deckyWithoutServices() {
        Self.expectSingle(
            Self.general + "[decky-01]\nip = 192.168.1.110\n",
            "bad.ini:4: [decky-01]: decky has no services",
            "expected services =, archetype = or --randomize-services"
        )
    }

    @Test func badCustomService() {
        let problems = Self.problems(
            Self.general + "[custom-x]\nexec = /bin/x\nports = 99999\n[custom-ssh]\nbinary = i\nports = 22\n"
        )
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("bad.ini:4: [custom-x] binary: missing") })
        #expect(problems.contains { $0.hasPrefix("bad.ini:6: [custom-x] ports: '99999' is not a port") })
        #expect(problems.contains { $0.hasPrefix("bad.ini:7: [custom-ssh]: 'ssh' is a built-in service") })
    }

    /// All errors come back at once, in one pass.
    @Test func everyErrorIsReportedTogether() {
        let text = """
            [general]
            net = 192.168.1.0/24
            gw = 192.168.1.1
            [decky-01]
            ip = 192.168.1.300
            services = ssh, nosuch
            nmap_os = amiga
            [decky-02]
            archetype = mainframe
            amount = many
            [decky-03.ssh]
            users = root
            """
        let problems = Self.problems(text)
        #expect(problems.count == 6, "\(problems)")
        for line in [5, 6, 7, 9, 10, 11] {
            #expect(problems.contains { $0.hasPrefix("bad.ini:\(line): ") }, "line \(line) in \(problems)")
        }
    }

    @Test func unreadableFile() {
        let request = FleetFileLoader.load(path: "/nonexistent/decnet.ini")
        #expect(
            request.diagnostics.map(\.description) == [
                "/nonexistent/decnet.ini:0: file: cannot be read (No such file or directory)"
            ]
        )
    }

    /// The shipped sample uses all 25 services and every persona key, and plans cleanly.
    @Test func testFullIniCoversEveryService() throws {
        let path = PackageLayout.root.appendingPathComponent("test-full.ini").path
        let request = FleetFileLoader.load(path: path)
        #expect(request.diagnostics.isEmpty)
        let fleet = try FleetPlanner().plan(request)
        let services = Set(fleet.deckies.flatMap { $0.services.map(\.kind) })
        #expect(services.isSuperset(of: ServiceCatalogue.kinds))
        #expect(services.contains("myapp"))
        let keysUsed = Set(
            request.deckies.flatMap {
                $0.personas.flatMap { section in section.settings.map { "\(section.service).\($0.name)" } }
            }
        )
        for definition in ServiceCatalogue.all {
            for key in definition.personaKeys {
                #expect(
                    keysUsed.contains("\(definition.kind).\(key.name)"),
                    "test-full.ini lacks \(definition.kind).\(key.name)"
                )
            }
        }
        #expect(fleet.deckies.count == 11)
        #expect(fleet.logTarget == "127.0.0.1:5140")
    }
}

/// Problems a review found; each stays fixed.
@Suite struct FleetFileLoaderEdgeTests {
    static let general = FleetFileLoaderTests.general

    @Test func personaValuesMustBeOneLine() {
        FleetFileLoaderTests.expectSingle(
            Self.general + "[d]\nservices = http\n[d.http]\nserver_header = nginx\n  X-Injected: 1\n",
            "bad.ini:7: [d.http] server_header: a value with a line break or control character",
            "on one line"
        )
    }

    @Test func namesAreCaseInsensitiveLikeSlugs() throws {
        let text =
            Self.general + "[custom-MyApp]\nbinary = i\nports = 9\n[d]\nservices = SSH, myapp\n[d.SSH]\nusers = a:b\n"
        let fleet = try FleetPlanner().plan(FleetFileLoader.request(from: text, path: "ok.ini"))
        #expect(fleet.deckies[0].services.map(\.kind) == ["ssh", "myapp"])
        #expect(fleet.deckies[0].services[0].persona["users"] == "a:b")
    }

    @Test func explicitMACsAndHostnamesMustBeUnique() {
        let problems = FleetFileLoaderTests.problems(
            Self.general
                + "[a]\nservices = ssh\nmac = 00:14:22:01:02:03\nhostname = web\n"
                + "[b]\nservices = ssh\nmac = 00:14:22:01:02:03\nhostname = WEB\n"
        )
        #expect(problems.count == 2, "\(problems)")
        #expect(
            problems.contains { $0.hasPrefix("bad.ini:10: [b] mac: 00:14:22:01:02:03 is already given at bad.ini:6") }
        )
        #expect(problems.contains { $0.hasPrefix("bad.ini:11: [b] hostname: 'WEB' is already given at bad.ini:7") })
    }

    @Test func addressesAreCheckedEvenWhenServicesAreWrong() {
        let problems = FleetFileLoaderTests.problems(Self.general + "[d]\nip = 10.1.1.1\nservices = nosuch\n")
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("bad.ini:5: [d] ip: 10.1.1.1 is outside net") })
    }

    @Test func aRepeatedSectionIsOneError() {
        FleetFileLoaderTests.expectSingle(
            Self.general + "[d]\nservices = ssh\n[d]\nservices = http\n",
            "bad.ini:6: [d]: section appears twice (first at line 4)",
            "expected each section once"
        )
    }

    @Test func configparserDefaultsSectionIsRefused() {
        FleetFileLoaderTests.expectSingle(
            Self.general + "[DEFAULT]\nnmap_os = linux\n[d]\nservices = ssh\n",
            "bad.ini:4: [DEFAULT]: configparser's defaults section is not supported",
            "expected the keys in each section"
        )
    }

    @Test func aMissingConfigFileIsTheOnlyError() {
        var flags = DeployFlags()
        flags.config = "/nonexistent/net.ini"
        let request = CommandLineFleet.request(flags: flags, detected: nil)
        do {
            _ = try FleetPlanner().plan(request)
            Issue.record("planned a fleet from a missing file")
        } catch {
            #expect(
                error.diagnostics.map(\.description) == [
                    "/nonexistent/net.ini:0: file: cannot be read (No such file or directory)"
                ]
            )
        }
    }

    @Test func nonLinuxDeckiesGetTheirOwnSSHBannerAndNoDistroTurn() throws {
        let text =
            Self.general
            + "[w]\nservices = ssh, rdp\n[l1]\nservices = ssh\n[e]\nservices = ssh\nnmap_os = embedded\n[l2]\nservices = ssh\n"
        let fleet = try FleetPlanner().plan(FleetFileLoader.request(from: text, path: "ok.ini"))
        #expect(fleet.deckies[0].services[0].persona["ssh_version"] == "OpenSSH_for_Windows_8.1")
        #expect(fleet.deckies[2].services[0].persona["ssh_version"] == "dropbear_2022.83")
        #expect(fleet.deckies[1].distro == "debian")
        #expect(fleet.deckies[3].distro == "ubuntu22", "the Windows and embedded deckies took no turn")
    }

    /// A Windows decky is one host: the identity set in one service's section reaches its other Windows services,
    /// and two sections that disagree are an error naming both places.
    /// `os_shaping` turns the OS personality's rewriting off per decky; the personality follows what the decky's
    /// services claim (a Windows decky whose SMB says Server is a server), and a bad value names file and line.
    @Test func osShapingAndThePersonality() throws {
        let text =
            Self.general
            + "[ws]\narchetype = windows-workstation\n"
            + "[srv]\nservices = smb\nnmap_os = windows\nos_shaping = off\n"
            + "[srv.smb]\nos_version = Windows Server 2022 Standard 20348\n"
            + "[box]\nservices = ssh\nnmap_os = linux\n"
        let fleet = try FleetPlanner().plan(FleetFileLoader.request(from: text, path: "ok.ini"))
        let deckies = Dictionary(uniqueKeysWithValues: fleet.deckies.map { ($0.name, $0) })
        #expect(deckies["ws"]?.personality == .windows)
        #expect(deckies["ws"]?.shapesPackets == true)
        #expect(deckies["srv"]?.personality == .windowsServer)
        #expect(deckies["srv"]?.shapesPackets == false)
        #expect(
            deckies["srv"]?.sysctls.contains { $0.key == "net.ipv4.tcp_ecn" && $0.value == "2" } == true,
            "a server answers ECN"
        )
        #expect(deckies["box"]?.personality == .linux)
        #expect(deckies["box"]?.shapesPackets == false, "Linux is the kernel's own")
        FleetFileLoaderTests.expectSingle(
            Self.general + "[w]\nservices = ssh\nos_shaping = maybe\n",
            "bad.ini:6: [w] os_shaping:",
            "'maybe' is not on or off"
        )
    }

    @Test func aWindowsDeckysServicesShareOneIdentity() throws {
        let text =
            Self.general
            + "[dc]\nservices = smb, rdp, mssql\narchetype = domain-controller\n"
            + "[dc.smb]\nworkgroup = ACME\nos_version = Windows Server 2016 Standard 14393\n"
        let fleet = try FleetPlanner().plan(FleetFileLoader.request(from: text, path: "ok.ini"))
        let personas = Dictionary(uniqueKeysWithValues: fleet.deckies[0].services.map { ($0.kind, $0.persona) })
        for kind in ["rdp", "mssql"] as [ServiceKind] {
            #expect(personas[kind]?["workgroup"] == "ACME", "\(kind)")
            #expect(personas[kind]?["os_version"] == "Windows Server 2016 Standard 14393", "\(kind)")
            #expect(personas[kind]?["build"] == nil, "the default build 17763 must not outlive the operator's OS")
        }
        FleetFileLoaderTests.expectSingle(
            Self.general + "[w]\nservices = smb, rdp\nnmap_os = windows\n[w.smb]\nos_version = Windows Server 2016\n"
                + "[w.rdp]\nos_version = Windows Server 2019\n",
            "bad.ini:10: [w.rdp] os_version:",
            "release Windows Server 2019 contradicts Windows Server 2016 from [w.smb] os_version (bad.ini:8)"
        )
        FleetFileLoaderTests.expectSingle(
            Self.general + "[w]\nservices = smb, rdp\n[w.smb]\nos_version = Windows Server 2016 Standard 14393\n"
                + "[w.rdp]\nbuild = 17763\n",
            "bad.ini:9: [w.rdp] build:",
            "build 17763 contradicts 14393"
        )
        FleetFileLoaderTests.expectSingle(
            Self.general + "[w]\nservices = smb\nnmap_os = linux\n[w.smb]\nos_version = Windows 10 Pro\n",
            "bad.ini:8: [w.smb] os_version:",
            "Windows 10 on a decky whose nmap_os is linux"
        )
        FleetFileLoaderTests.expectSingle(
            Self.general + "[w]\nservices = smb, ldap\n[w.smb]\ndomain = corp.local\n[w.ldap]\ndomain = acme.com\n",
            "bad.ini:9: [w.ldap] domain:",
            "domain acme.com contradicts corp.local from [w.smb] domain (bad.ini:7)"
        )
    }

    /// ldap's base_dn names the domain too: it must agree with a domain set anywhere on the decky, and alone it is
    /// the domain every Windows service shows.
    @Test func baseDNAgreesWithTheDomain() throws {
        FleetFileLoaderTests.expectSingle(
            Self.general
                + "[w]\nservices = smb, ldap\n[w.smb]\ndomain = corp.local\n[w.ldap]\nbase_dn = DC=other,DC=com\n",
            "bad.ini:9: [w.ldap] base_dn:",
            "domain other.com contradicts corp.local from [w.smb] domain (bad.ini:7)"
        )
        FleetFileLoaderTests.expectSingle(
            Self.general + "[w]\nservices = smb, ldap\n[w.ldap]\nbase_dn = O=Acme\n",
            "bad.ini:7: [w.ldap] base_dn:",
            "base_dn O=Acme has no DC= parts"
        )
        let agreeing =
            Self.general
            + "[w]\nservices = smb, rdp, ldap\n[w.smb]\ndomain = ACME.com\n[w.ldap]\nbase_dn = DC=acme,DC=com\n"
        #expect(FleetFileLoaderTests.problems(agreeing).isEmpty, "\(FleetFileLoaderTests.problems(agreeing))")
        let text = Self.general + "[dc]\nservices = smb, rdp, ldap\n[dc.ldap]\nbase_dn = DC=acme, DC=example\n"
        let fleet = try FleetPlanner().plan(FleetFileLoader.request(from: text, path: "ok.ini"))
        let personas = Dictionary(uniqueKeysWithValues: fleet.deckies[0].services.map { ($0.kind, $0.persona) })
        for kind in ["smb", "rdp", "ldap"] as [ServiceKind] {
            #expect(personas[kind]?["domain"] == "acme.example", "\(kind): \(personas[kind] ?? [:])")
        }
    }
}
