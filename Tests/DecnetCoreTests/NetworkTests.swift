import DecnetCore
import Testing

@Suite struct IPv4Tests {
    @Test(arguments: ["0.0.0.0", "192.168.1.10", "255.255.255.255", "10.0.0.1"])
    func parsesAndPrints(_ text: String) throws {
        let address = try #require(IPv4Address(text))
        #expect(address.description == text)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", "1..2.3", " 1.2.3.4", "1.2.3.4 ",
        "١.٢.٣.٤",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test func networksRequireZeroHostBits() throws {
        #expect(IPv4Network("192.168.1.0/24")?.description == "192.168.1.0/24")
        #expect(IPv4Network("192.168.1.7/24") == nil)
        #expect(IPv4Network("192.168.1.0/33") == nil)
        #expect(IPv4Network("192.168.1.0") == nil)
        #expect(IPv4Network("192.168.1.0/") == nil)
        let net = try #require(IPv4Network("10.0.0.0/30"))
        #expect(net.usableRange == IPv4Address("10.0.0.1")!...IPv4Address("10.0.0.2")!)
        #expect(!net.isUsableHost(IPv4Address("10.0.0.0")!))
        #expect(!net.isUsableHost(IPv4Address("10.0.0.3")!))
        #expect(net.broadcast.description == "10.0.0.3")
    }

    /// The seed's `ips_to_range()`: the minimal CIDR covering the addresses.
    @Test func coveringBlockIsMinimal() {
        func covering(_ texts: [String]) -> String? {
            IPv4Network.covering(texts.compactMap(IPv4Address.init))?.description
        }
        #expect(covering(["192.168.1.110"]) == "192.168.1.110/32")
        #expect(covering(["192.168.1.110", "192.168.1.111"]) == "192.168.1.110/31")
        #expect(covering((110...119).map { "192.168.1.\($0)" }) == "192.168.1.96/27")
        #expect(covering(["192.168.1.100", "192.168.1.103"]) == "192.168.1.100/30")
        #expect(covering(["192.168.1.127", "192.168.1.128"]) == "192.168.1.0/24")
        #expect(covering(["10.0.0.1", "10.255.0.1"]) == "10.0.0.0/8")
        #expect(covering([]) == nil)
    }

    @Test func macAddresses() throws {
        let mac = try #require(MACAddress("00:14:22:0A:0b:0c"))
        #expect(mac.description == "00:14:22:0a:0b:0c")
        #expect(mac.oui == "00:14:22")
        #expect(mac.isUnicast)
        #expect(MACAddress("01:00:5e:00:00:01")?.isUnicast == false)
        #expect(MACAddress("00-14-22-0a-0b-0c") == mac)
        for bad in ["", "00:14:22", "00:14:22:0a:0b:0c:0d", "0:14:22:0a:0b:0c", "zz:14:22:0a:0b:0c"] {
            #expect(MACAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func portSpecs() {
        #expect(PortSpec(parsing: "9999") == PortSpec(9999))
        #expect(PortSpec(parsing: "161/udp") == PortSpec(161, .udp))
        #expect(PortSpec(parsing: "161/UDP") == PortSpec(161, .udp))
        for bad in ["", "0", "65536", "80/sctp", "x", "80/", "/tcp", "-1"] {
            #expect(PortSpec(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func inputSyntax() {
        #expect(InputSyntax.isInterfaceName("eth0"))
        #expect(!InputSyntax.isInterfaceName("this-name-is-too-long"))
        #expect(!InputSyntax.isInterfaceName("eth0:1"))
        #expect(InputSyntax.isHostname("web-01.corp.local"))
        #expect(!InputSyntax.isHostname("-web"))
        #expect(!InputSyntax.isHostname("web..corp"))
        #expect(InputSyntax.hostPort("192.168.1.200:5140")?.port == 5140)
        #expect(InputSyntax.hostPort("192.168.1.200:0") == nil)
        #expect(InputSyntax.hostPort("192.168.1.200") == nil)
        #expect(InputSyntax.hostPort("host:5140") == nil)
    }
}
