/// The parts of a TLS ClientHello that fingerprints are made of, parsed from the first handshake record
/// without trusting any length in it.
struct TLSClientHello: Equatable, Sendable {
    /// `legacy_version` of the hello (0x0303 for TLS 1.2 and 1.3 clients).
    var version: UInt16
    var cipherSuites: [UInt16]
    /// Extension types in the order sent.
    var extensions: [UInt16]
    var supportedGroups: [UInt16]
    var pointFormats: [UInt8]
    var signatureAlgorithms: [UInt16]
    var supportedVersions: [UInt16]
    var serverName: String?
    var alpn: [String]

    /// GREASE values (RFC 8701) are left out of every fingerprint.
    static func isGREASE(_ value: UInt16) -> Bool { value & 0x0F0F == 0x0A0A && value >> 8 == value & 0xFF }

    /// Parses a TLS record stream that starts with a handshake record holding a ClientHello; nil when the bytes
    /// are not one (or not complete yet: see `neededLength`).
    init?(record: [UInt8]) {
        var reader = ByteReader(record)
        guard reader.u8() == 22, reader.u16() != nil, let recordLength = reader.u16(),
            var body = reader.slice(Int(recordLength)),
            body.u8() == 1, let helloLength = body.u24(), var hello = body.slice(helloLength),
            let version = hello.u16(), hello.skip(32), let sessionLength = hello.u8(), hello.skip(Int(sessionLength)),
            let cipherLength = hello.u16(), cipherLength % 2 == 0, var ciphers = hello.slice(Int(cipherLength)),
            let compressionLength = hello.u8(), hello.skip(Int(compressionLength))
        else { return nil }
        self.version = version
        self.cipherSuites = []
        while let suite = ciphers.u16() { self.cipherSuites.append(suite) }
        self.extensions = []
        self.supportedGroups = []
        self.pointFormats = []
        self.signatureAlgorithms = []
        self.supportedVersions = []
        self.alpn = []
        guard let extensionsLength = hello.u16(), var extensions = hello.slice(Int(extensionsLength)) else {
            return  // a hello without extensions (SSLv3-era) is still a hello
        }
        while let type = extensions.u16(), let length = extensions.u16(), var data = extensions.slice(Int(length)) {
            self.extensions.append(type)
            switch type {
            case 0x0000:  // server_name
                if data.u16() != nil, data.u8() == 0, let nameLength = data.u16(),
                    let name = data.bytes(Int(nameLength))
                {
                    self.serverName = String(decoding: name, as: UTF8.self)
                }
            case 0x000A:  // supported_groups
                if let listLength = data.u16(), var list = data.slice(Int(listLength)) {
                    while let group = list.u16() { self.supportedGroups.append(group) }
                }
            case 0x000B:  // ec_point_formats
                if let listLength = data.u8(), let list = data.bytes(Int(listLength)) { self.pointFormats = list }
            case 0x000D:  // signature_algorithms
                if let listLength = data.u16(), var list = data.slice(Int(listLength)) {
                    while let algorithm = list.u16() { self.signatureAlgorithms.append(algorithm) }
                }
            case 0x0010:  // application_layer_protocol_negotiation
                if let listLength = data.u16(), var list = data.slice(Int(listLength)) {
                    while let nameLength = list.u8(), let name = list.bytes(Int(nameLength)) {
                        self.alpn.append(String(decoding: name, as: UTF8.self))
                    }
                }
            case 0x002B:  // supported_versions
                if let listLength = data.u8(), var list = data.slice(Int(listLength)) {
                    while let value = list.u16() { self.supportedVersions.append(value) }
                }
            default:
                break
            }
        }
    }

    /// How many bytes the first record needs in all (header included), once its header has arrived.
    static func neededLength(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 5 else { return nil }
        return 5 + (Int(bytes[3]) << 8 | Int(bytes[4]))
    }
}

/// Bounds-checked big-endian reads over a byte array.
struct ByteReader {
    private let bytes: [UInt8]
    private var index: Int
    private let end: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.index = 0
        self.end = bytes.count
    }

    private init(_ bytes: [UInt8], from start: Int, to end: Int) {
        self.bytes = bytes
        self.index = start
        self.end = end
    }

    mutating func u8() -> UInt8? {
        guard self.index < self.end else { return nil }
        defer { self.index += 1 }
        return self.bytes[self.index]
    }

    mutating func u16() -> UInt16? {
        guard self.index + 2 <= self.end else { return nil }
        defer { self.index += 2 }
        return UInt16(self.bytes[self.index]) << 8 | UInt16(self.bytes[self.index + 1])
    }

    mutating func u24() -> Int? {
        guard self.index + 3 <= self.end else { return nil }
        defer { self.index += 3 }
        return Int(self.bytes[self.index]) << 16 | Int(self.bytes[self.index + 1]) << 8
            | Int(self.bytes[self.index + 2])
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, self.index + count <= self.end else { return false }
        self.index += count
        return true
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, self.index + count <= self.end else { return nil }
        defer { self.index += count }
        return Array(self.bytes[self.index..<(self.index + count)])
    }

    /// A reader over the next `count` bytes, which this reader skips.
    mutating func slice(_ count: Int) -> ByteReader? {
        guard count >= 0, self.index + count <= self.end else { return nil }
        defer { self.index += count }
        return ByteReader(self.bytes, from: self.index, to: self.index + count)
    }
}
