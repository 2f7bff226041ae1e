import DecnetServiceKit
import NIOCore

/// What the telnet decoder hands on: text bytes, option negotiation, or a subnegotiation.
public enum TelnetMessage: Equatable, Sendable {
    /// Plain data (IAC IAC already unescaped).
    case data([UInt8])
    /// `IAC WILL|WONT|DO|DONT option`.
    case negotiation(command: UInt8, option: UInt8)
    /// `IAC SB option … IAC SE`.
    case subnegotiation(option: UInt8, bytes: [UInt8])
    /// Another IAC command (`IP`, `AYT`, `BRK` …).
    case command(UInt8)
}

/// Telnet (RFC 854) framing: separates data from IAC sequences. Subnegotiations are bounded; an overlong one is
/// dropped, never buffered without limit.
struct TelnetDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = TelnetMessage

    static let iac: UInt8 = 255
    static let will: UInt8 = 251
    static let wont: UInt8 = 252
    static let `do`: UInt8 = 253
    static let dont: UInt8 = 254
    static let sb: UInt8 = 250
    static let se: UInt8 = 240
    static let maximumSubnegotiation = 1024

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let first = view.first else { return .needMoreData }
        if first != Self.iac {
            // Data up to the next IAC.
            let end = view.firstIndex(of: Self.iac) ?? view.endIndex
            let count = end - view.startIndex
            context.fireChannelRead(Self.wrapInboundOut(.data(Array(view[view.startIndex..<end]))))
            buffer.moveReaderIndex(forwardBy: count)
            return .continue
        }
        guard view.count >= 2 else { return .needMoreData }
        let command = view[view.startIndex + 1]
        switch command {
        case Self.iac:
            context.fireChannelRead(Self.wrapInboundOut(.data([Self.iac])))
            buffer.moveReaderIndex(forwardBy: 2)
        case Self.will, Self.wont, Self.do, Self.dont:
            guard view.count >= 3 else { return .needMoreData }
            context.fireChannelRead(
                Self.wrapInboundOut(.negotiation(command: command, option: view[view.startIndex + 2]))
            )
            buffer.moveReaderIndex(forwardBy: 3)
        case Self.sb:
            guard view.count >= 3 else { return .needMoreData }
            // Find IAC SE, skipping escaped IAC IAC.
            var index = view.startIndex + 3
            var body: [UInt8] = []
            while index < view.endIndex {
                let byte = view[index]
                if byte == Self.iac {
                    guard index + 1 < view.endIndex else { break }
                    let next = view[index + 1]
                    if next == Self.se {
                        let option = view[view.startIndex + 2]
                        buffer.moveReaderIndex(forwardBy: index + 2 - view.startIndex)
                        if body.count <= Self.maximumSubnegotiation {
                            context.fireChannelRead(Self.wrapInboundOut(.subnegotiation(option: option, bytes: body)))
                        }
                        return .continue
                    }
                    if next == Self.iac { body.append(Self.iac) }
                    index += 2
                    continue
                }
                if body.count <= Self.maximumSubnegotiation { body.append(byte) }
                index += 1
            }
            if view.count > Self.maximumSubnegotiation * 4 {
                // A subnegotiation that never ends: drop what we have and read on as data.
                buffer.moveReaderIndex(forwardBy: view.count)
                return .continue
            }
            return .needMoreData
        default:
            context.fireChannelRead(Self.wrapInboundOut(.command(command)))
            buffer.moveReaderIndex(forwardBy: 2)
        }
        return .continue
    }
}
