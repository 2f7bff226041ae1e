import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOEmbedded
import Synchronization

@testable import DecnetServices

/// A plant clock a test moves by hand.
final class PlantClock: Sendable {
    private let seconds: Mutex<Double>

    init(_ start: Double = 4_000_000) { self.seconds = Mutex(start) }

    var now: Double { self.seconds.withLock { $0 } }

    func advance(_ by: Double) { self.seconds.withLock { $0 += by } }
}

/// Builders and readers shared by the conpot tests.
enum Conpot {
    static func process(
        _ persona: [String: String] = [:],
        hostname: String = "plc-3",
        clock: PlantClock = PlantClock()
    ) -> PLCProcess {
        PLCProcess(persona: PLCPersona(persona: persona, hostname: hostname)) { clock.now }
    }

    static func sent(_ actions: [ProtocolAction]) -> [[UInt8]] {
        actions.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } }
    }

    static func closes(_ actions: [ProtocolAction]) -> Bool { actions.contains(.close) }

    /// The fields of the first event `id` among actions.
    static func fields(_ actions: [ProtocolAction], _ id: EventID) -> [String: String] {
        for case .emit(id, let fields) in actions {
            return Dictionary(fields.fields.map { ($0.name, $0.value) }) { first, _ in first }
        }
        return [:]
    }

    static func events(_ actions: [ProtocolAction]) -> [EventID] {
        actions.compactMap { if case .emit(let id, _) = $0 { id } else { nil } }
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// What the decoder makes of `input` in `mode`.
    static func decode(_ input: [UInt8], mode: ConpotFrameDecoder.Mode) -> [ConpotInbound] {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(
                ConpotFrameDecoder(mode: mode),
                maximumBufferSize: ConpotFrameDecoder.bufferLimit
            )
        )
        _ = try? channel.writeInbound(ByteBuffer(bytes: input))
        var output: [ConpotInbound] = []
        while let message = try? channel.readInbound(as: ConpotInbound.self) { output.append(message) }
        _ = try? channel.finish()
        return output
    }

    /// A NUL-terminated string at a 1-based offset, as Lua's `string.unpack("z", response, offset)` reads it.
    static func zString(_ bytes: [UInt8], at offset: Int) -> String {
        String(decoding: bytes.dropFirst(offset - 1).prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Random bytes for fuzz loops, from DecnetCore's seeded SplitMix64 so a failure replays.
    static func randomBytes(_ count: Int, _ generator: inout SeededGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
