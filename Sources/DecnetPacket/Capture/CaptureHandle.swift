import CPcap
import DecnetCore
import DecnetRuntime

#if canImport(Glibc)
import Glibc
#endif

/// One libpcap handle on a decky's interface, opened inside its namespace: inbound frames only, cut to
/// `snapLength` bytes, filtered in the kernel to ARP requests for the decky's address and IPv4 sent to it,
/// into a ring of `bufferBytes`. The handle is non-blocking; its descriptor is polled by `PacketLayer`.
final class CaptureHandle: @unchecked Sendable {
    /// Why a capture could not be opened.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let pcap: OpaquePointer
    let descriptor: Int32
    let decky: DeckyTarget

    /// How long a frame may wait in a block before the kernel hands the block over.
    static let blockTimeoutMilliseconds: Int32 = 50

    /// Enough for Ethernet (+VLAN), the longest IPv4 and TCP headers and the first 64 payload bytes.
    static let snapLength: Int32 = 200

    private init(pcap: OpaquePointer, descriptor: Int32, decky: DeckyTarget) {
        self.pcap = pcap
        self.descriptor = descriptor
        self.decky = decky
    }

    /// The kernel filter for one decky (tcpdump syntax, compiled by libpcap).
    static func filter(for address: IPv4Address) -> String {
        "(arp and arp[6:2] = 1 and arp[24:4] = \(address.value)) or (ip and dst host \(address))"
    }

    /// Opens the capture in the calling thread's network namespace (call it from a `NamespaceThread`).
    static func open(_ decky: DeckyTarget, interface: String, bufferBytes: Int32) throws -> CaptureHandle {
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let pcap = pcap_create(interface, &errors) else {
            throw Failure(description: "pcap_create \(interface): \(Self.text(errors))")
        }
        func fail(_ step: String) -> Failure {
            let message = String(cString: pcap_geterr(pcap))
            pcap_close(pcap)
            return Failure(description: "\(step) on \(decky.name)'s \(interface): \(message)")
        }
        pcap_set_snaplen(pcap, Self.snapLength)
        pcap_set_promisc(pcap, 0)
        // Frames are handed over in blocks (TPACKET_V3) that the kernel passes on when full or after
        // `blockTimeout`: one wakeup per block instead of one per frame, which is what a flood costs. Detection
        // waits at most that long.
        pcap_set_immediate_mode(pcap, 0)
        pcap_set_timeout(pcap, Self.blockTimeoutMilliseconds)
        pcap_set_buffer_size(pcap, bufferBytes)
        let activated = pcap_activate(pcap)
        guard activated >= 0 else { throw fail("pcap_activate (\(activated))") }
        guard pcap_setdirection(pcap, PCAP_D_IN) == 0 else { throw fail("pcap_setdirection") }
        guard pcap_datalink(pcap) == DLT_EN10MB else {
            pcap_close(pcap)
            throw Failure(description: "\(decky.name)'s \(interface) is not Ethernet")
        }
        var program = bpf_program()
        guard pcap_compile(pcap, &program, Self.filter(for: decky.address), 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw fail("pcap_compile")
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(pcap, &program) == 0 else { throw fail("pcap_setfilter") }
        guard pcap_setnonblock(pcap, 1, &errors) == 0 else { throw fail("pcap_setnonblock") }
        let descriptor = pcap_get_selectable_fd(pcap)
        guard descriptor >= 0 else { throw fail("pcap_get_selectable_fd") }
        return CaptureHandle(pcap: pcap, descriptor: descriptor, decky: decky)
    }

    /// Reads every frame waiting (at most `limit`), handing each to `body` with its capture time.
    func drain(limit: Int, _ body: (UnsafeRawBufferPointer, Double) -> Void) -> Int {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        var count = 0
        while count < limit, pcap_next_ex(self.pcap, &header, &data) == 1, let header, let data {
            let time = Double(header.pointee.ts.tv_sec) + Double(header.pointee.ts.tv_usec) / 1_000_000
            body(UnsafeRawBufferPointer(start: data, count: Int(header.pointee.caplen)), time)
            count += 1
        }
        return count
    }

    /// Frames the kernel dropped because the ring was full, and frames it passed.
    var statistics: (received: UInt32, dropped: UInt32) {
        var stats = pcap_stat()
        guard pcap_stats(self.pcap, &stats) == 0 else { return (0, 0) }
        return (stats.ps_recv, stats.ps_drop)
    }

    func close() { pcap_close(self.pcap) }

    /// A NUL-terminated C buffer as text.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A decky as the packet layer knows it.
public struct DeckyTarget: Sendable, Hashable {
    public var name: String
    public var hostname: String
    public var address: IPv4Address
    /// The namespace its interface lives in.
    public var namespace: String

    public init(name: String, hostname: String, address: IPv4Address, namespace: String) {
        self.name = name
        self.hostname = hostname
        self.address = address
        self.namespace = namespace
    }
}
