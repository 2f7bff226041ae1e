import CNetfilterQueue
import DecnetCore

#if canImport(Glibc)
import Glibc
#endif

/// One decky's NFQUEUE (queue 0 of its namespace; queues are per network namespace), opened inside the namespace,
/// with the decky's shaper. Its descriptor is polled by `PersonalityLayer`'s thread, which alone calls `drain`,
/// so the shaper is only ever touched there.
///
/// The queue fails open: when it is full, or this process is gone (`--queue-bypass` on the rules), the kernel
/// lets packets through unshaped rather than dropping them.
final class QueueHandle: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let name: String
    let descriptor: Int32
    var shaper: PacketShaper
    private var library: OpaquePointer?
    private var queue: OpaquePointer?
    private var buffer = [UInt8](repeating: 0, count: 65_536 + 4096)
    /// Packets seen, and verdicts the kernel refused.
    private(set) var packets = 0
    private(set) var verdictFailures = 0

    /// How many packets may wait in the kernel for this process; past it the queue fails open.
    static let queueLength: UInt32 = 4096

    private init(name: String, shaper: PacketShaper, library: OpaquePointer, descriptor: Int32) {
        self.name = name
        self.shaper = shaper
        self.library = library
        self.descriptor = descriptor
    }

    /// Opens queue 0 in the calling thread's network namespace (call it from a `NamespaceThread`).
    static func open(name: String, shaper: PacketShaper) throws -> QueueHandle {
        guard let library = nfq_open() else {
            throw Failure(description: "nfq_open: \(String(cString: strerror(errno)))")
        }
        let descriptor = nfq_fd(library)
        let handle = QueueHandle(name: name, shaper: shaper, library: library, descriptor: descriptor)
        let context = Unmanaged.passUnretained(handle).toOpaque()
        let queue = nfq_create_queue(
            library,
            0,
            { queue, _, data, context in
                guard let context else { return -1 }
                return Unmanaged<QueueHandle>.fromOpaque(context).takeUnretainedValue().verdict(queue, data)
            },
            context
        )
        guard let queue else {
            handle.close()
            throw Failure(description: "nfq_create_queue 0: \(String(cString: strerror(errno))) (needs CAP_NET_ADMIN)")
        }
        handle.queue = queue
        guard nfq_set_mode(queue, UInt8(NFQNL_COPY_PACKET.rawValue), 0xFFFF) >= 0 else {
            handle.close()
            throw Failure(description: "nfq_set_mode: \(String(cString: strerror(errno)))")
        }
        _ = nfq_set_queue_maxlen(queue, Self.queueLength)
        let failOpen = UInt32(NFQA_CFG_F_FAIL_OPEN)
        guard nfq_set_queue_flags(queue, failOpen, failOpen) >= 0 else {
            handle.close()
            throw Failure(description: "nfq_set_queue_flags FAIL_OPEN: \(String(cString: strerror(errno)))")
        }
        // A full socket buffer is not an error to report: the kernel lets the packet through (fail-open).
        var on: Int32 = 1
        _ = setsockopt(descriptor, SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, socklen_t(MemoryLayout<Int32>.size))
        var size: Int32 = 1 << 20
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        return handle
    }

    /// Reads what is waiting (at most `limit` messages) and gives every packet its verdict.
    func drain(limit: Int) {
        guard let library else { return }
        for _ in 0..<limit {
            let count = self.buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            self.buffer.withUnsafeMutableBytes { bytes in
                _ = nfq_handle_packet(library, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(count))
            }
        }
    }

    func close() {
        if let queue { nfq_destroy_queue(queue) }
        if let library { nfq_close(library) }
        self.queue = nil
        self.library = nil
    }

    /// One queued packet: a watched incoming one is noted and passed; an outgoing one is shaped.
    fileprivate func verdict(_ queue: OpaquePointer?, _ data: OpaquePointer?) -> Int32 {
        guard let header = nfq_get_msg_packet_hdr(data) else { return -1 }
        let id = UInt32(bigEndian: header.pointee.packet_id)
        self.packets += 1
        var payload: UnsafeMutablePointer<UInt8>?
        let length = nfq_get_payload(data, &payload)
        guard length > 0, let payload else { return nfq_set_verdict(queue, id, UInt32(DECNET_NF_ACCEPT), 0, nil) }
        // The packet is shaped where it lies, in this handle's receive buffer: no copy, no allocation.
        var packet = PacketBuffer(UnsafeMutableRawBufferPointer(start: payload, count: Int(length)))
        let result: Int32
        if header.pointee.hook == UInt8(DECNET_NF_INET_PRE_ROUTING) {
            self.shaper.observe(incoming: packet)
            result = nfq_set_verdict(queue, id, UInt32(DECNET_NF_ACCEPT), 0, nil)
        } else if self.shaper.shape(outgoing: &packet) {
            result = nfq_set_verdict(queue, id, UInt32(DECNET_NF_ACCEPT), UInt32(packet.count), payload)
        } else {
            result = nfq_set_verdict(queue, id, UInt32(DECNET_NF_ACCEPT), 0, nil)
        }
        if result < 0 { self.verdictFailures += 1 }
        return result
    }
}
