import ArgumentParser
import Testing

@testable import DecnetCLI

@Suite struct CommandParsingTests {
    @Test func deployTakesTheSeedsFlags() throws {
        let command = try DecnetCommand.parseAsRoot([
            "deploy", "--mode", "unihost", "-n", "5", "-i", "eth1", "--subnet", "10.0.0.0/24", "--ip-start",
            "10.0.0.10", "--services", "ssh,http", "--randomize-services", "--distro", "debian", "--randomize-distros",
            "-a", "linux-server", "--log-target", "127.0.0.1:5140", "--log-file", "/var/log/x.log", "--ipvlan",
            "--dry-run", "--no-cache", "-c", "net.ini",
        ])
        let deploy = try #require(command as? DeployCommand)
        #expect(deploy.deckies == 5)
        #expect(deploy.interface == "eth1")
        #expect(deploy.subnet == "10.0.0.0/24")
        #expect(deploy.ipStart == "10.0.0.10")
        #expect(deploy.services == "ssh,http")
        #expect(deploy.randomizeServices && deploy.randomizeDistros && deploy.ipvlan && deploy.dryRun && deploy.noCache)
        #expect(deploy.archetype == "linux-server")
        #expect(deploy.logTarget == "127.0.0.1:5140")
        #expect(deploy.logFile == "/var/log/x.log")
        #expect(deploy.config == "net.ini")
        #expect(deploy.mode == .unihost)
    }

    @Test func catalogueCommandsTakeJSON() throws {
        #expect((try DecnetCommand.parseAsRoot(["services", "--json"]) as? ServicesCommand)?.json == true)
        #expect((try DecnetCommand.parseAsRoot(["archetypes"]) as? ArchetypesCommand)?.json == false)
        #expect((try DecnetCommand.parseAsRoot(["distros", "--json"]) as? DistrosCommand)?.json == true)
        #expect(throws: (any Error).self) { try DecnetCommand.parseAsRoot(["deploy", "--mode", "cluster"]) }
        #expect(throws: (any Error).self) { try DecnetCommand.parseAsRoot(["teleport"]) }
    }
}
