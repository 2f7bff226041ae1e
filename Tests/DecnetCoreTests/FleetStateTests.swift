import DecnetCore
import DecnetTesting
import Foundation
import Testing

@Suite struct FleetStateTests {
    @Test func roundTripsThroughTheStateFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(try FleetState.read(fromDirectory: directory.path) == nil)
        var request = FleetPlannerTests.request(count: 3, services: ["ssh", "smb"])
        request.seed = 3
        let fleet = try FleetPlanner().plan(request)
        let state = FleetState(
            driver: "docker",
            mode: "unihost",
            deployed: false,
            createdAt: Date(timeIntervalSince1970: 1_700_000_000),
            composeFile: "docker-compose.yml",
            configFile: nil,
            fleet: fleet
        )
        try state.write(toDirectory: directory.path)
        #expect(try FleetState.read(fromDirectory: directory.path) == state)
    }

    @Test func theNativeBlockRoundTripsAndOldFilesWithoutItStillRead() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fleet = try FleetPlanner().plan(FleetPlannerTests.request(count: 2, services: ["redis"]))
        let native = NativeDeployment(network: .lab, lab: "lab", hairpin: false, stopped: ["decky-02"])
        let state = FleetState(
            driver: "native",
            mode: "unihost",
            deployed: true,
            createdAt: Date(timeIntervalSince1970: 1_700_000_000),
            composeFile: nil,
            configFile: nil,
            native: native,
            fleet: fleet
        )
        try state.write(toDirectory: directory.path)
        let read = try #require(try FleetState.read(fromDirectory: directory.path))
        #expect(read == state)
        #expect(read.native?.stopped == ["decky-02"])
        #expect(read.native?.portOffset == 10_000)
        #expect(NativeDeployment.namespace(of: "decky-01") == "decnet-decky-01")

        // A state file written before the native driver existed has no "native" key.
        let path = FleetState.path(in: directory.path)
        var object = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        )
        object["native"] = nil
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        #expect(try FleetState.read(fromDirectory: directory.path)?.native == nil)
    }

    @Test func aCorruptStateFileIsAClearError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "{ not json".write(toFile: FleetState.path(in: directory.path), atomically: true, encoding: .utf8)
        #expect {
            _ = try FleetState.read(fromDirectory: directory.path)
        } throws: { error in
            "\(error)".contains("decnet-state.json: is not a DECNET state file")
        }
    }
}
