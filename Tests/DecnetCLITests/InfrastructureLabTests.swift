import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// Deckies of the iot-device and devops-host archetypes on a lab LAN, seen from the lab's attacker: mosquitto's
/// clients, net-snmp's walk and the docker CLI work against them, and nmap -sV names each service as the persona
/// claims.
@Suite(.serialized) struct InfrastructureLabTests {
    @Test(.enabled(if: NativeEngineTests.rootOrCI, "needs root to make network namespaces (CI runs as root)"))
    func iotAndDevopsDeckiesServeTheirClients() async throws {
        try #require(getuid() == 0, "network namespaces need root")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let sub = try #require(MQTTLabTools.mosquittoSub.path, "\(MQTTLabTools.mosquittoSub.missingMessage)")
        let walk = try #require(MQTTLabTools.snmpwalk.path, "\(MQTTLabTools.snmpwalk.missingMessage)")
        let docker = try #require(MQTTLabTools.docker.path, "\(MQTTLabTools.docker.missingMessage)")
        let kubectl = try #require(MQTTLabTools.kubectl.path, "\(MQTTLabTools.kubectl.missingMessage)")
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.78.\(Int.random(in: 1...250))"
            let fleet = """
                [general]
                net = \(net).0/24

                [\(tag)-iot]
                ip = \(net).30
                hostname = gw-plant2
                archetype = iot-device
                services = mqtt, snmp, tftp

                [\(tag)-iot.mqtt]
                mqtt_version = mosquitto 2.0.18
                users = plant:Sens0r!

                [\(tag)-iot.snmp]
                snmp_community = plant-ro
                snmp_archetype = router

                [\(tag)-ops]
                ip = \(net).31
                hostname = build-01
                archetype = devops-host
                services = docker_api, k8s

                [\(tag)-ops.docker_api]
                docker_version = 24.0.7

                [\(tag)-ops.k8s]
                k8s_version = v1.29.2
                k8s_tokens = ci-deploy-7f3a=system:serviceaccount:ci:deployer
                """
            let file = harness.directory.url.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            let deploy = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")
            let iot = "\(net).30", ops = "\(net).31"

            let version = try await harness.attacker([
                sub, "-h", iot, "-u", "plant", "-P", "Sens0r!", "-t", "$SYS/broker/version", "-C", "1", "-W", "5",
            ])
            #expect(
                version.standardOutput == "mosquitto version 2.0.18\n",
                "\(version.standardOutput)\(version.standardError)"
            )
            let walked = try await harness.attacker([walk, "-v2c", "-c", "plant-ro", "-On", iot, "1.3.6.1.2.1.1"])
            #expect(
                walked.standardOutput.contains(".1.3.6.1.2.1.1.5.0 = STRING: \"gw-plant2\""),
                "\(walked.standardOutput)\(walked.standardError)"
            )
            let config = try await harness.attacker([
                "/bin/sh", "-c",
                "cd /tmp && \(MQTTLabTools.tftp.path ?? "tftp") \(iot) -c get startup-config /dev/stdout",
            ])
            #expect(
                config.standardOutput.contains("hostname gw-plant2"),
                "\(config.standardOutput)\(config.standardError)"
            )
            let ps = try await harness.attacker([
                "/usr/bin/env", "DOCKER_CONFIG=/nonexistent-decnet-docker-config", docker, "-H", "tcp://\(ops):2375",
                "ps", "--format", "{{.Names}}",
            ])
            #expect(ps.standardOutput.contains("web"), "\(ps.standardOutput)\(ps.standardError)")
            let home = harness.directory.url.appendingPathComponent("kube-home").path
            let pods = try await harness.attacker([
                "/usr/bin/env", "HOME=\(home)", "KUBECONFIG=\(home)/none", kubectl, "--server=https://\(ops):6443",
                "--insecure-skip-tls-verify", "--token=ci-deploy-7f3a", "get", "pods", "-A",
            ])
            #expect(pods.standardOutput.contains("kube-system"), "\(pods.standardOutput)\(pods.standardError)")
            let cluster = try await harness.attacker([
                "/usr/bin/env", "HOME=\(home)", "KUBECONFIG=\(home)/none", kubectl, "--server=http://\(ops):8080",
                "version",
            ])
            #expect(cluster.standardOutput.contains("Server Version: v1.29.2"), "\(cluster.standardOutput)")
            let scan = try await harness.attacker([
                nmap, "-sV", "-Pn", "-n", "-p", "T:1883,2375,U:161", "-sU", "-sS", iot, ops,
            ])
            let output = scan.standardOutput
            let lines = output.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
            #expect(lines.contains("1883/tcp open mosquitto version 2.0.18"), "\(output)")
            #expect(lines.contains("161/udp open snmp Cisco SNMP service; ciscoSystems SNMPv3 server"), "\(output)")
            #expect(lines.contains("2375/tcp open docker Docker 24.0.7 (API 1.43)"), "\(output)")
            // nmap 7.93 has no kube-apiserver signature (a real one is "ssl/sun-sr-https?" after two minutes of
            // probes); what names it is its certificate.
            let certificate = try await harness.attacker([nmap, "-Pn", "-n", "-p", "6443", "--script", "ssl-cert", ops])
            #expect(
                certificate.standardOutput.contains("Subject: commonName=kube-apiserver"),
                "\(certificate.standardOutput)"
            )
            let events = harness.eventLines()
            #expect(events.contains { $0.contains(" login.success ") && $0.contains("service=\"mqtt\"") })
            #expect(events.contains { $0.contains(" command.input ") && $0.contains("service=\"snmp\"") })
            #expect(events.contains { $0.contains(" command.input ") && $0.contains("service=\"docker_api\"") })
            #expect(events.contains { $0.contains(" login.success ") && $0.contains("service=\"k8s\"") })
            #expect(events.contains { $0.contains(" file.download ") && $0.contains("service=\"tftp\"") })
            #expect(try await harness.decnet(["teardown", "--all"]).status == 0)
            #expect(try await harness.decnet(["lab", "down"]).status == 0)
        }
    }
}

extension InfrastructureLabTests {
    /// Deckies of the database-server, industrial-control and voip-server archetypes on a lab LAN: pymongo,
    /// pymodbus and sipsak work against them from the lab's attacker, and nmap -sV names each service as its
    /// persona claims (mongod 6.0 as nmap names a real one, from its answer to HTTP).
    @Test(.enabled(if: NativeEngineTests.rootOrCI, "needs root to make network namespaces (CI runs as root)"))
    func dataVoiceAndPlantDeckiesServeTheirClients() async throws {
        try #require(getuid() == 0, "network namespaces need root")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let python = try #require(ExternalTool.python3.path, "\(ExternalTool.python3.missingMessage)")
        let sipsak = try #require(MQTTLabTools.sipsak.path, "\(MQTTLabTools.sipsak.missingMessage)")
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.79.\(Int.random(in: 1...250))"
            let fleet = """
                [general]
                net = \(net).0/24

                [\(tag)-db]
                ip = \(net).40
                hostname = db-prod-01
                archetype = database-server
                services = mongodb, redis

                [\(tag)-db.mongodb]
                mongo_version = 6.0.14
                users = admin:S3cure!Pass

                [\(tag)-plc]
                ip = \(net).41
                hostname = plc-res12
                archetype = industrial-control

                [\(tag)-pbx]
                ip = \(net).42
                hostname = pbx-01
                archetype = voip-server

                [\(tag)-pbx.sip]
                sip_server = Asterisk PBX 18.20.0
                users = 100:Winter2024
                """
            let file = harness.directory.url.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            let deploy = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")
            let db = "\(net).40", plc = "\(net).41", pbx = "\(net).42"

            let mongo = try await harness.attacker([
                python, "-c",
                "import pymongo; c = pymongo.MongoClient('\(db)', 27017, serverSelectionTimeoutMS=30000); "
                    + "print(','.join(c.list_database_names())); print(c.crm.customers.count_documents({}))",
            ])
            #expect(
                mongo.standardOutput == "admin,config,local,crm\n8\n",
                "\(mongo.standardOutput)\(mongo.standardError)"
            )
            let modbus = try await harness.attacker([
                python, "-c",
                "from pymodbus.client import ModbusTcpClient; c = ModbusTcpClient('\(plc)', port=502, timeout=15); "
                    + "c.connect(); print(c.write_register(22, 4242, device_id=1).isError(), "
                    + "c.read_holding_registers(22, count=1, device_id=1).registers)",
            ])
            #expect(modbus.standardOutput == "False [4242]\n", "\(modbus.standardOutput)\(modbus.standardError)")
            let options = try await harness.attacker([sipsak, "-vv", "-s", "sip:100@\(pbx)"])
            #expect(options.standardOutput.contains("Server: Asterisk PBX 18.20.0"), "\(options.standardOutput)")

            let scan = try await harness.attacker([
                nmap, "-sV", "-Pn", "-n", "-sS", "-sU", "-p", "T:27017,6379,102,502,5060,U:5060", db, plc, pbx,
            ])
            let output = scan.standardOutput
            let lines = output.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
            #expect(lines.contains("27017/tcp open mongodb MongoDB 2.5.1 or later"), "\(output)")
            #expect(lines.contains("6379/tcp open redis Redis key-value store 7.0.15"), "\(output)")
            #expect(lines.contains("102/tcp open iso-tsap Siemens S7 PLC"), "\(output)")
            #expect(lines.contains { $0.hasPrefix("502/tcp open") }, "\(output)")
            #expect(lines.contains("5060/tcp open sip-proxy Asterisk PBX 18.20.0"), "\(output)")
            #expect(lines.contains("5060/udp open sip-proxy Asterisk PBX 18.20.0"), "\(output)")
            let events = harness.eventLines()
            #expect(events.contains { $0.contains(" command.input ") && $0.contains("service=\"mongodb\"") })
            #expect(
                events.contains {
                    $0.contains(" command.input ") && $0.contains("service=\"conpot\"")
                        && $0.contains("command=\"write_single_register\"")
                },
                "\(events.filter { $0.contains("service=\"conpot\"") })"
            )
            #expect(events.contains { $0.contains("service=\"sip\"") && $0.contains("transport=\"udp\"") })
            #expect(try await harness.decnet(["teardown", "--all"]).status == 0)
            #expect(try await harness.decnet(["lab", "down"]).status == 0)
        }
    }
}

enum MQTTLabTools {
    static let mosquittoSub = ExternalTool("mosquitto_sub", package: "mosquitto-clients")
    static let snmpwalk = ExternalTool("snmpwalk", package: "snmp")
    static let docker = ExternalTool("docker", package: "docker.io")
    static let tftp = ExternalTool("tftp", package: "tftp-hpa")
    static let sipsak = ExternalTool("sipsak", package: "sipsak")
    static let kubectl = ExternalTool("kubectl", package: "kubernetes-client")
}
