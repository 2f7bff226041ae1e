import CZlib

/// zlib@openssh.com (OpenSSH's PROTOCOL): one deflate stream per direction for the whole connection, each
/// payload flushed with Z_PARTIAL_FLUSH, switched on once the login succeeded. Inflating is bounded, so a
/// compressed bomb ends the connection instead of filling memory.
final class SSHCompression {
    /// The largest payload accepted after inflating (OpenSSH's packet limit).
    static let maximumPayload = 256 * 1024

    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let deflating: Bool

    init(deflating: Bool) {
        self.deflating = deflating
        self.stream.initialize(to: z_stream())
        _ = deflating ? decnet_deflate_init(self.stream) : decnet_inflate_init(self.stream)
    }

    deinit {
        _ = self.deflating ? deflateEnd(self.stream) : inflateEnd(self.stream)
        self.stream.deallocate()
    }

    func compress(_ payload: [UInt8]) -> [UInt8] {
        self.run(payload) { deflate($0, Z_PARTIAL_FLUSH) }.output
    }

    func decompress(_ payload: [UInt8]) throws -> [UInt8] {
        let (output, status) = self.run(payload) { inflate($0, Z_SYNC_FLUSH) }
        guard status == Z_OK || status == Z_BUF_ERROR, output.count <= Self.maximumPayload, !output.isEmpty else {
            throw SSHWire.ProtocolError("decompression failed (\(status), \(output.count) bytes)")
        }
        return output
    }

    /// Feeds `payload` through the stream until it has nothing more to give (or the inflated size passes the
    /// limit); the output and zlib's last status.
    private func run(
        _ payload: [UInt8],
        _ step: (UnsafeMutablePointer<z_stream>) -> Int32
    ) -> (output: [UInt8], status: Int32) {
        var input = payload
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var status = Z_OK
        input.withUnsafeMutableBufferPointer { source in
            self.stream.pointee.next_in = source.baseAddress
            self.stream.pointee.avail_in = UInt32(source.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { target in
                    self.stream.pointee.next_out = target.baseAddress
                    self.stream.pointee.avail_out = UInt32(target.count)
                    status = step(self.stream)
                    output += target.prefix(target.count - Int(self.stream.pointee.avail_out))
                }
            } while status == Z_OK && self.stream.pointee.avail_out == 0 && output.count <= Self.maximumPayload
        }
        return (output, status)
    }
}
