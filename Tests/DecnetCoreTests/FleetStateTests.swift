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
