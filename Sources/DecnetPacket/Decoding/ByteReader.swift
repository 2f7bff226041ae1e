/// Reads big-endian fields from captured bytes; every read is bounds-checked and returns nil past the end. It
/// reads the capture buffer in place (no copy per frame) and lives only while a `Frame` is being decoded.
struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int
    private let end: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.offset = 0
        self.end = bytes.count
    }

    private init(bytes: UnsafeRawBufferPointer, offset: Int, end: Int) {
        self.bytes = bytes
        self.offset = offset
        self.end = end
    }

    var remaining: Int { self.end - self.offset }

    mutating func u8() -> UInt8? {
        guard self.remaining >= 1 else { return nil }
        defer { self.offset += 1 }
        return self.bytes[self.offset]
    }

    mutating func u16() -> UInt16? {
        guard self.remaining >= 2 else { return nil }
        defer { self.offset += 2 }
        return UInt16(self.bytes[self.offset]) << 8 | UInt16(self.bytes[self.offset + 1])
    }

    mutating func u32() -> UInt32? {
        guard let high = self.u16(), let low = self.u16() else { return nil }
        return UInt32(high) << 16 | UInt32(low)
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, self.remaining >= count else { return nil }
        defer { self.offset += count }
        return Array(self.bytes[self.offset..<self.offset + count])
    }

    /// Skips `count` bytes; false (and nothing skipped) when fewer remain.
    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, self.remaining >= count else { return false }
        self.offset += count
        return true
    }

    /// A reader over the next `limit` bytes (at most what remains); this one does not move.
    func sub(limit: Int) -> ByteReader {
        ByteReader(bytes: self.bytes, offset: self.offset, end: self.offset + max(0, min(limit, self.remaining)))
    }
}
