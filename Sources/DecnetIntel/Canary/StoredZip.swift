import CZlib
import Foundation

/// A ZIP archive of stored (uncompressed) entries (APPNOTE 6.3.x §4.3): what a DOCX is. Stored entries are
/// valid in every reader (Office, LibreOffice, `unzip -t`); the documents are a few kilobytes, so deflate would
/// save nothing that matters. CRC-32 is zlib's.
struct StoredZip {
    private var entries: [(name: [UInt8], data: [UInt8], crc: UInt32, offset: Int)] = []
    private var body: [UInt8] = []
    /// The entries' modification time in MS-DOS form.
    let time: UInt16
    let date: UInt16

    init(modified: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: modified)
        self.time = UInt16((parts.hour ?? 0) << 11 | (parts.minute ?? 0) << 5 | (parts.second ?? 0) / 2)
        self.date = UInt16(max(0, (parts.year ?? 1980) - 1980) << 9 | (parts.month ?? 1) << 5 | (parts.day ?? 1))
    }

    mutating func add(_ name: String, _ text: String) { self.add(name, Array(text.utf8)) }

    mutating func add(_ name: String, _ data: [UInt8]) {
        let crc = data.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        let nameBytes = Array(name.utf8)
        self.entries.append((nameBytes, data, crc, self.body.count))
        self.body += Self.le32(0x0403_4B50) + Self.le16(20) + Self.le16(0) + Self.le16(0)
        self.body += Self.le16(self.time) + Self.le16(self.date) + Self.le32(crc)
        self.body += Self.le32(UInt32(data.count)) + Self.le32(UInt32(data.count))
        self.body += Self.le16(UInt16(nameBytes.count)) + Self.le16(0) + nameBytes + data
    }

    /// The archive: the entries, the central directory, its end record.
    func archive() -> [UInt8] {
        var central: [UInt8] = []
        for entry in self.entries {
            central += Self.le32(0x0201_4B50) + Self.le16(20) + Self.le16(20) + Self.le16(0) + Self.le16(0)
            central += Self.le16(self.time) + Self.le16(self.date) + Self.le32(entry.crc)
            central += Self.le32(UInt32(entry.data.count)) + Self.le32(UInt32(entry.data.count))
            central += Self.le16(UInt16(entry.name.count)) + Self.le16(0) + Self.le16(0) + Self.le16(0)
            central += Self.le16(0) + Self.le32(0) + Self.le32(UInt32(entry.offset)) + entry.name
        }
        var out = self.body + central
        out += Self.le32(0x0605_4B50) + Self.le16(0) + Self.le16(0)
        out += Self.le16(UInt16(self.entries.count)) + Self.le16(UInt16(self.entries.count))
        out += Self.le32(UInt32(central.count)) + Self.le32(UInt32(self.body.count)) + Self.le16(0)
        return out
    }

    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) } }
}
