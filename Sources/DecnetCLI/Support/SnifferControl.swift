import DecnetCore
import DecnetPacket
import DecnetRuntime
import DecnetServiceKit
import Foundation

/// The engine's packet layer, and whether the operator wants it (`decnet sniffer stop` leaves a marker file in
/// the state directory, so the choice outlives the engine).
struct SnifferControl: Sendable {
    let layer: PacketLayer?
    let stateDirectory: String

    static func marker(_ stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("decnet-sniffer.off")
    }

    init(settings: PacketLayer.Settings?, stateDirectory: String, state: FleetState, sink: any EventSink) {
        self.stateDirectory = stateDirectory
        guard let settings else {
            self.layer = nil
            return
        }
        let layer = PacketLayer(settings: settings, sink: sink) { EngineHost.log($0) }
        // The gateway and the deckies themselves are never scanners.
        var quiet = Set(state.fleet.deckies.map(\.ip))
        quiet.insert(state.fleet.gateway)
        layer.ignore(quiet)
        self.layer = layer
    }

    var wanted: Bool { !FileManager.default.fileExists(atPath: Self.marker(self.stateDirectory)) }

    var status: SnifferStatus? { self.layer?.status }

    /// Starts the layer unless the operator stopped it; the engine adds deckies as it serves them.
    func startIfWanted() -> String? {
        guard let layer else { return nil }
        guard self.wanted else { return "sniffer: off (decnet sniffer start turns it on)" }
        layer.start()
        return nil
    }

    func start(serving deckies: [(Decky, String)]) async throws -> [String] {
        guard let layer else { throw Self.absent }
        try? FileManager.default.removeItem(atPath: Self.marker(self.stateDirectory))
        layer.start()
        for (decky, namespace) in deckies { await layer.served(decky, namespace: namespace) }
        return ["sniffer: capturing on \(deckies.count) decky(s)"]
    }

    func stop() async throws -> [String] {
        guard let layer else { throw Self.absent }
        _ = FileManager.default.createFile(atPath: Self.marker(self.stateDirectory), contents: Data("off\n".utf8))
        await layer.stop()
        return ["sniffer: stopped"]
    }

    static let absent = CommandFailure("no packet layer in this engine: DECNET_SNIFFER=false, or the loopback network")
}
