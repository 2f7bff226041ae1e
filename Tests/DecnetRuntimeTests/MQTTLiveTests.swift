import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The mqtt service against mosquitto's own clients (3.1.1 and 5, with and without the persona's credentials) and
/// nmap's mqtt-subscribe, which names the broker from its `$SYS` topics.
@Suite struct MQTTLiveTests {
    static let mosquittoSub = ExternalTool("mosquitto_sub", package: "mosquitto-clients")
    static let mosquittoPub = ExternalTool("mosquitto_pub", package: "mosquitto-clients")

    @Test(
        .enabled(
            if: mosquittoSub.isUsable && mosquittoPub.isUsable && ExternalTool.nmap.isUsable,
            "needs mosquitto-clients and nmap (required under CI)"
        )
    )
    func mosquittosClientsAndNmapSeeAMosquittoBroker() async throws {
        let sub = try #require(Self.mosquittoSub.path, "\(Self.mosquittoSub.missingMessage)")
        let pub = try #require(Self.mosquittoPub.path, "\(Self.mosquittoPub.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            "mqtt",
            persona: ["mqtt_version": "mosquitto 2.0.18", "users": "plant:Sens0r!"],
            host: "127.77.19.26",
            port: 1883,
            osFamily: .linux,
            hostname: "iot-gw"
        )
        let version = try await ProcessRunner.run(
            sub,
            ["-h", "127.77.19.26", "-u", "plant", "-P", "Sens0r!", "-t", "$SYS/broker/version", "-C", "1", "-W", "5"]
        )
        #expect(
            version.standardOutput == "mosquitto version 2.0.18\n",
            "\(version.standardOutput)\(version.standardError)"
        )
        let published = try await ProcessRunner.run(
            pub,
            [
                "-h", "127.77.19.26", "-V", "5", "-u", "plant", "-P", "Sens0r!", "-t", "plant/valve/1", "-m", "OPEN",
                "-r", "-q", "1",
            ]
        )
        #expect(published.status == 0, "\(published.standardError)")
        let tree = try await ProcessRunner.run(
            sub,
            [
                "-h", "127.77.19.26", "-V", "5", "-t", "plant/#", "-t", "home/livingroom/temperature", "-v", "-C", "2",
                "-W", "5",
            ]
        )
        #expect(tree.standardOutput.contains("plant/valve/1 OPEN"), "\(tree.standardOutput)\(tree.standardError)")
        #expect(tree.standardOutput.contains("home/livingroom/temperature 21.6"), "\(tree.standardOutput)")
        let scan = try await ProcessRunner.run(
            nmap,
            ["-sV", "-Pn", "-n", "-p", "1883", "--script", "mqtt-subscribe", "127.77.19.26"]
        )
        await service.stop()
        // mqtt-subscribe names the port after `$SYS/broker/version`, as it names a real mosquitto.
        #expect(scan.standardOutput.contains("1883/tcp open  mosquitto version 2.0.18"), "\(scan.standardOutput)")
        #expect(scan.standardOutput.contains("plant/valve/1: OPEN"), "\(scan.standardOutput)")
        let logins = service.capture.events(.loginSuccess)
        #expect(logins.contains { $0[field: "username"] == "plant" && $0[field: "password"] == "Sens0r!" })
        #expect(logins.contains { $0[field: "method"] == "anonymous" })
        let payload = try #require(service.capture.events(.payloadReceived).first)
        #expect(
            payload[field: "topic"] == "plant/valve/1" && payload[field: "preview"] == "OPEN"
                && payload[field: "qos"] == "1"
        )
        #expect(service.capture.events(.clientFingerprint).contains { $0[field: "protocol"] == "5" })
        #expect(service.capture.events(.clientMalformed).isEmpty)
    }

    /// A broker that refuses anonymous clients answers them, and wrong passwords, "not authorised", as mosquitto 2.
    @Test(.enabled(if: mosquittoSub.isUsable, "needs mosquitto-clients (required under CI)"))
    func aClosedBrokerRefusesAsMosquittoDoes() async throws {
        let sub = try #require(Self.mosquittoSub.path, "\(Self.mosquittoSub.missingMessage)")
        let service = try await LiveService.start(
            "mqtt",
            persona: ["mqtt_anonymous": "false", "users": "plant:Sens0r!"],
            host: "127.77.19.27",
            port: 1883,
            osFamily: .linux,
            hostname: "iot-gw"
        )
        let refused = try await ProcessRunner.run(
            sub,
            ["-h", "127.77.19.27", "-u", "admin", "-P", "admin123", "-t", "#", "-C", "1", "-W", "3"]
        )
        await service.stop()
        #expect(
            (refused.standardOutput + refused.standardError).contains("Connection Refused: not authorised."),
            "\(refused.standardOutput)\(refused.standardError)"
        )
        let failed = try #require(service.capture.events(.loginFailed).first)
        #expect(failed[field: "username"] == "admin" && failed[field: "password"] == "admin123")
    }
}
