import Foundation

extension UUID {
    /// A version 7 UUID (RFC 9562 §5.7): the Unix time in milliseconds in the first 48 bits, then 74 random
    /// bits. Event ids are made this way so that ids minted one after another sort together: the store's unique
    /// index on them then grows at its right edge, like the timestamp index, instead of taking every insert at a
    /// random page (with version 4 ids, each committed batch rewrote pages all over that index).
    public static func timeOrdered(at date: Date = Date()) -> UUID {
        var random = PooledRandom()
        let milliseconds = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down)))
        let high = random.next() as UInt64
        let low = random.next() as UInt64
        // Built in place in the UUID's own 16 bytes: one event each, no array to allocate.
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { bytes in
            for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * UInt64(index))) }
            for index in 6..<16 {
                bytes[index] = UInt8(truncatingIfNeeded: (index < 14 ? high : low) >> (8 * UInt64(index % 8)))
            }
            bytes[6] = 0x70 | (bytes[6] & 0x0F)  // version 7
            bytes[8] = 0x80 | (bytes[8] & 0x3F)  // variant 10
        }
        return UUID(uuid: uuid)
    }

    /// The canonical text in lower case (`5fe4c9b1-9667-47d4-b658-43d90746eeeb`), as events and the store
    /// write it; made directly (the ingester writes one per event, and `uuidString` goes through a formatted
    /// print).
    public var lowercasedText: String {
        withUnsafeBytes(of: self.uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                let digits: StaticString = "0123456789abcdef"
                var index = 0
                for (position, byte) in bytes.enumerated() {
                    if position == 4 || position == 6 || position == 8 || position == 10 {
                        out[index] = 0x2D
                        index += 1
                    }
                    out[index] = digits.utf8Start[Int(byte >> 4)]
                    out[index + 1] = digits.utf8Start[Int(byte & 0x0F)]
                    index += 2
                }
                return index
            }
        }
    }

    /// Reads the canonical 36-character text (either case); nil for anything else.
    public init?(canonicalText text: some Collection<UInt8>) {
        guard text.count == 36 else { return nil }
        var bytes = (
            UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0),
            UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0)
        )
        let valid = withUnsafeMutableBytes(of: &bytes) { out -> Bool in
            var position = 0
            var high: UInt8?
            for (index, character) in text.enumerated() {
                if index == 8 || index == 13 || index == 18 || index == 23 {
                    guard character == 0x2D else { return false }
                    continue
                }
                let nibble: UInt8
                switch character {
                case 0x30...0x39: nibble = character - 0x30
                case 0x61...0x66: nibble = character - 0x61 + 10
                case 0x41...0x46: nibble = character - 0x41 + 10
                default: return false
                }
                if let first = high {
                    out[position] = first << 4 | nibble
                    position += 1
                    high = nil
                } else {
                    high = nibble
                }
            }
            return position == 16
        }
        guard valid else { return nil }
        self.init(uuid: bytes)
    }
}
