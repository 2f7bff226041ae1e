import DecnetServiceKit
import NIOCore

/// One message of the MongoDB wire protocol as the decoder frames it: the standard header and the body after it.
public enum MongoInbound: Equatable, Sendable, FramingFailure {
    case message(requestID: Int32, responseTo: Int32, opCode: Int32, body: [UInt8])
    /// An HTTP request on the driver port: mongod answers it in plain text and closes.
    case http([UInt8])
    /// A length no client sends; the server closes.
    case invalid(String, [UInt8])
}

/// Frames wire-protocol messages by their `messageLength` (the header's first field), trusting none below the
/// header's 16 bytes or above `maximumMessage`.
struct MongoMessageDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = MongoInbound

    /// mongod reads up to 48 MB (`maxMessageSizeBytes`); a honeypot keeps what one connection may hold smaller
    /// and closes on more, as mongod closes on more than its limit.
    static let maximumMessage = 4 << 20

    private var failed = false
    private var first = true

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard buffer.readableBytes >= 4 else { return .needMoreData }
        if self.first, buffer.getBytes(at: buffer.readerIndex, length: 4) == Array("GET ".utf8) {
            // mongod's transport layer looks at the first bytes of a connection for "GET " and answers in HTTP.
            self.failed = true
            context.fireChannelRead(Self.wrapInboundOut(.http(buffer.discardReadable(keepingPreview: 256))))
            return .needMoreData
        }
        let length = Int(buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: Int32.self)!)
        guard length >= 16 else {
            return self.failFraming(context, &buffer, "message length \(length) below the header", failed: &self.failed)
        }
        guard length <= Self.maximumMessage else {
            return self.failFraming(context, &buffer, "message of \(length) bytes", failed: &self.failed)
        }
        guard buffer.readableBytes >= length else { return .needMoreData }
        self.first = false
        let requestID = buffer.getInteger(at: buffer.readerIndex + 4, endianness: .little, as: Int32.self)!
        let responseTo = buffer.getInteger(at: buffer.readerIndex + 8, endianness: .little, as: Int32.self)!
        let opCode = buffer.getInteger(at: buffer.readerIndex + 12, endianness: .little, as: Int32.self)!
        buffer.moveReaderIndex(forwardBy: 16)
        let body = buffer.readBytes(length: length - 16)!
        context.fireChannelRead(
            Self.wrapInboundOut(.message(requestID: requestID, responseTo: responseTo, opCode: opCode, body: body))
        )
        return .continue
    }
}

/// The wire protocol's op codes and message layouts (MongoDB Wire Protocol, "Legacy Opcodes" and OP_MSG).
enum MongoWire {
    static let opReply: Int32 = 1
    static let opUpdate: Int32 = 2001
    static let opInsert: Int32 = 2002
    static let opQuery: Int32 = 2004
    static let opGetMore: Int32 = 2005
    static let opDelete: Int32 = 2006
    static let opKillCursors: Int32 = 2007
    static let opCompressed: Int32 = 2012
    static let opMsg: Int32 = 2013

    /// OP_MSG flag bits.
    static let checksumPresent: UInt32 = 1 << 0
    static let moreToCome: UInt32 = 1 << 1

    /// A legacy OP_QUERY: the namespace (`admin.$cmd` for commands) and the query document.
    struct Query: Equatable {
        var flags: Int32
        var namespace: String
        var skip: Int32
        var limit: Int32
        var query: BSONDocument

        init(_ body: [UInt8]) throws(BSONReader.Failure) {
            var reader = BSONReader(body)
            self.flags = try reader.int32()
            self.namespace = try reader.cString()
            self.skip = try reader.int32()
            self.limit = try reader.int32()
            self.query = try reader.document()
            // An optional returnFieldsSelector may follow; the emulator returns whole documents.
            if reader.remaining > 0 { _ = try reader.document() }
            guard reader.remaining == 0 else { throw .badLength(body.count) }
        }

        /// The database of `db.$cmd`, or nil for a query on a collection.
        var commandDatabase: String? {
            guard self.namespace.hasSuffix(".$cmd") else { return nil }
            return String(self.namespace.dropLast(5))
        }
    }

    /// An OP_MSG: its flags and its command, with each kind-1 document sequence folded into the command under
    /// its identifier, as the server reads it.
    struct Message: Equatable {
        var flags: UInt32
        var command: BSONDocument

        init(_ body: [UInt8]) throws(BSONReader.Failure) {
            var reader = BSONReader(body)
            self.flags = UInt32(bitPattern: try reader.int32())
            var end = body.count
            if self.flags & MongoWire.checksumPresent != 0 {
                guard end >= 8 else { throw .truncated }
                end -= 4
            }
            var body: BSONDocument?
            var sequences: [(String, [BSONValue])] = []
            while reader.offset < end {
                let kind = try reader.raw(1)[0]
                switch kind {
                case 0:
                    guard body == nil else { throw .badLength(end) }
                    body = try reader.document()
                case 1:
                    let start = reader.offset
                    let size = Int(try reader.int32())
                    guard size >= 5, start + size <= end else { throw .badLength(size) }
                    let identifier = try reader.cString()
                    var documents: [BSONValue] = []
                    while reader.offset < start + size {
                        documents.append(.document(try reader.document(depth: 1)))
                    }
                    guard reader.offset == start + size else { throw .badLength(size) }
                    sequences.append((identifier, documents))
                default:
                    throw .unknownType(kind)
                }
            }
            guard var command = body, reader.offset == end else { throw .truncated }
            for (identifier, documents) in sequences { command[identifier] = .array(documents) }
            self.command = command
        }
    }

    static func header(length: Int, requestID: Int32, responseTo: Int32, opCode: Int32) -> [UInt8] {
        var out: [UInt8] = []
        for value in [Int32(length), requestID, responseTo, opCode] {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// An OP_REPLY carrying documents (the answer to OP_QUERY). mongod sets AwaitCapable (8) on every reply,
    /// with QueryFailure (2) for `$err` documents.
    static func reply(
        to request: Int32,
        id: Int32,
        documents: [BSONDocument],
        flags: Int32 = 8,
        cursor: Int64 = 0
    ) -> [UInt8] {
        var body: [UInt8] = []
        withUnsafeBytes(of: flags.littleEndian) { body.append(contentsOf: $0) }
        withUnsafeBytes(of: cursor.littleEndian) { body.append(contentsOf: $0) }
        withUnsafeBytes(of: Int32(0).littleEndian) { body.append(contentsOf: $0) }
        withUnsafeBytes(of: Int32(documents.count).littleEndian) { body.append(contentsOf: $0) }
        for document in documents { body += document.bson }
        return Self.header(length: 16 + body.count, requestID: id, responseTo: request, opCode: opReply) + body
    }

    /// An OP_MSG reply: flags, then the reply document as a kind-0 section.
    static func message(to request: Int32, id: Int32, document: BSONDocument, flags: UInt32 = 0) -> [UInt8] {
        var body: [UInt8] = []
        withUnsafeBytes(of: flags.littleEndian) { body.append(contentsOf: $0) }
        body.append(0)
        body += document.bson
        return Self.header(length: 16 + body.count, requestID: id, responseTo: request, opCode: opMsg) + body
    }

    /// What mongod writes to an HTTP request on its driver port, before closing.
    static let httpAnswer = Array(
        ("HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 84\r\n\r\n"
            + "It looks like you are trying to access MongoDB over HTTP on the native driver port.\n").utf8
    )
}
