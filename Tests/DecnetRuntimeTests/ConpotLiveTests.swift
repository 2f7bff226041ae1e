import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import DecnetServices
import DecnetTesting
import Foundation
import Testing

/// The conpot PLC against real ICS clients: pymodbus and nmap's modbus-discover on 502, nmap's s7-info and
/// python-snap7 on 102 (sharing one plant with Modbus), the web server under curl and nmap -sV on 80, the SNMP
/// agent under snmpget on 161/udp, and hydra's s7-300 module.
@Suite struct ConpotLiveTests {
    static let snmpget = ExternalTool("snmpget", package: "snmp")
    static let hydra = ExternalTool("hydra", package: "hydra")

    static func script(_ name: String) -> String {
        PackageLayout.root.appendingPathComponent("Tests/DecnetRuntimeTests/Scripts/\(name)").path
    }

    static func json(_ text: String) throws -> [String: Any] {
        let line = text.split(separator: "\n").last.map(String.init) ?? ""
        return try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(text)")
    }

    static func start(
        _ host: String,
        port: Int,
        hostname: String,
        persona: [String: String] = [:]
    ) async throws
        -> LiveService
    {
        try await LiveService.start(
            "conpot",
            persona: persona,
            host: host,
            port: port,
            osFamily: .embedded,
            hostname: hostname
        )
    }

    @Test(
        .enabled(
            if: ExternalTool.python3.isUsable && ExternalTool.nmap.isUsable,
            "needs python3 with pymodbus and nmap (required under CI)"
        )
    )
    func pymodbusReadsAndWritesAndModbusDiscoverNamesTheCPU() async throws {
        let python = try #require(ExternalTool.python3.path, "\(ExternalTool.python3.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        try #require(ExternalTool.pythonCanImport("pymodbus"), "pip install pymodbus (the .venv-test has 3.16)")
        let host = "127.77.40.1"
        let service = try await Self.start(host, port: 502, hostname: "plc-11")
        let run = try await ProcessRunner.run(python, [Self.script("conpot_modbus.py"), host, "502"])
        #expect(run.status == 0, "\(run.standardError)")
        let result = try Self.json(run.standardOutput)
        let holding = try #require(result["holding"] as? [Int])
        #expect(holding.count == 28 && (60...940).contains(holding[0]) && holding[20] == 850)
        #expect((result["input"] as? [Int])?.allSatisfy { $0 <= 27_648 } == true)
        #expect((result["coils"] as? [Bool])?.first == true && (result["discrete"] as? [Bool])?.first == true)
        #expect(result["write_register"] as? Bool == true && result["register_22"] as? [Int] == [4242])
        #expect(result["write_coils"] as? Bool == true && result["coils_8"] as? [Bool] == [true, false, true])
        #expect(result["beyond"] as? Int == 2 && result["gateway"] as? Int == 11)
        let device = try #require(result["device"] as? [String: String])
        #expect(
            device["0"] == "Siemens" && device["1"] == "6ES7 315-2EH14-0AB0" && device["2"]?.hasPrefix("V3.2.") == true
        )
        #expect((result["meter_registers"] as? [Int])?.count == 2)
        let scan = try await ProcessRunner.run(nmap, ["-Pn", "-n", "-p", "502", "--script", "modbus-discover", host])
        await service.stop()
        #expect(scan.standardOutput.contains("502/tcp open  modbus"), "\(scan.standardOutput)")
        #expect(scan.standardOutput.contains("sid 0x1:"), "\(scan.standardOutput)")
        #expect(scan.standardOutput.contains("Slave ID data: \\xC0\\xFFSiemens SIMATIC S7-300 CPU 315-2 PN/DP V3.2."))
        #expect(scan.standardOutput.contains("Device identification: Siemens 6ES7 315-2EH14-0AB0 V3.2."))
        let commands = service.capture.events(.commandInput)
        #expect(
            commands.contains {
                $0[field: "command"] == "write_single_register" && $0[field: "address"] == "22"
                    && $0[field: "values"] == "4242"
            }
        )
        #expect(commands.contains { $0[field: "command"] == "write_multiple_coils" && $0[field: "values"] == "1,0,1" })
        #expect(commands.contains { $0[field: "command"] == "read_holding_registers" && $0[field: "unit"] == "9" })
        #expect(commands.contains { $0[field: "command"] == "report_server_id" && $0[field: "unit"] == "1" })
        #expect(service.capture.events(.clientMalformed).isEmpty)
    }

    @Test(
        .enabled(
            if: ExternalTool.python3.isUsable && ExternalTool.nmap.isUsable,
            "needs python3 with python-snap7 and pymodbus, and nmap (required under CI)"
        )
    )
    func s7InfoAndSnap7SeeTheSamePlantAsModbus() async throws {
        let python = try #require(ExternalTool.python3.path, "\(ExternalTool.python3.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        try #require(ExternalTool.pythonCanImport("snap7"), "pip install python-snap7 (the .venv-test has 3.3)")
        let host = "127.77.40.2"
        let persona = ["plc_password": "Letmein1"]
        let s7 = try await Self.start(host, port: 102, hostname: "plc-12", persona: persona)
        let modbus = try await Self.start(host, port: 502, hostname: "plc-12", persona: persona)
        let expected = PLCIdentity(hostname: "plc-12")
        let scan = try await ProcessRunner.run(nmap, ["-sV", "-Pn", "-n", "-p", "102", "--script", "s7-info", host])
        let output = scan.standardOutput
        #expect(output.contains("102/tcp open  iso-tsap Siemens S7 PLC"), "\(output)")
        #expect(output.contains("Module: 6ES7 315-2EH14-0AB0"), "\(output)")
        #expect(output.contains("Basic Hardware: 6ES7 315-2EH14-0AB0"))
        #expect(output.contains("Version: 3.2."))
        #expect(output.contains("System Name: \(expected.systemName)"))
        #expect(output.contains("Module Type: CPU 315-2 PN/DP"))
        #expect(output.contains("Serial Number: \(expected.serial)"))
        #expect(output.contains("Plant Identification: \(expected.plant)"))
        #expect(output.contains("Copyright: Original Siemens Equipment"))
        let run = try await ProcessRunner.run(python, [Self.script("conpot_snap7.py"), host, "102", "Letmein1"])
        #expect(run.status == 0, "\(run.standardOutput)\(run.standardError)")
        let result = try Self.json(run.standardOutput)
        let cpu = try #require(result["cpu"] as? [String: String])
        #expect(cpu["as_name"] == expected.systemName && cpu["serial"] == expected.serial)
        #expect(cpu["module_type"] == "CPU 315-2 PN/DP" && cpu["copyright"] == "Original Siemens Equipment")
        #expect(result["order_code"] as? String == "6ES7 315-2EH14-0AB0")
        #expect((result["version"] as? [Int])?.prefix(2) == [3, 2])
        #expect(result["db1_44"] as? [Int] == [0x12, 0x34])
        #expect((result["stop_before_password"] as? String)?.contains("protection level") == true, "\(result)")
        #expect(result["stop"] as? String == "stopped" && result["start"] as? String == "started")
        #expect(result["blocks"] as? Int == 3)
        // The DB1 write is holding register 22 over Modbus.
        let read = try await ProcessRunner.run(
            python,
            [
                "-c",
                "from pymodbus.client import ModbusTcpClient as C; c = C('\(host)', port=502); c.connect(); "
                    + "print(c.read_holding_registers(22, count=1, device_id=1).registers)",
            ]
        )
        #expect(read.standardOutput.contains("[4660]"), "\(read.standardOutput)\(read.standardError)")
        await s7.stop()
        await modbus.stop()
        let login = try #require(s7.capture.events(.loginSuccess).first)
        #expect(login[field: "password"] == "Letmein1" && login[field: "method"] == "s7-session-password")
        let commands = s7.capture.events(.commandInput)
        #expect(commands.contains { $0[field: "command"] == "plc_stop" && $0[field: "error"] == "0xd241" })
        #expect(commands.contains { $0[field: "command"] == "plc_stop" && $0[field: "cpu_state"] == "STOP" })
        #expect(commands.contains { $0[field: "command"] == "write_var" && $0[field: "args"] == "DB1.DBB44[2]" })
        #expect(
            commands.contains { $0[field: "command"] == "read_szl" && $0[field: "args"] == "id=0x001c index=0x0001" }
        )
        #expect(commands.contains { $0[field: "command"] == "cotp_connect" && $0[field: "accepted"] == "true" })
    }

    @Test(
        .enabled(
            if: ExternalTool.curl.isUsable && ExternalTool.nmap.isUsable && snmpget.isUsable,
            "needs curl, nmap and snmp (required under CI)"
        )
    )
    func theWebServerAndSNMPAgentTellTheSameStory() async throws {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let snmpget = try #require(Self.snmpget.path, "\(Self.snmpget.missingMessage)")
        let host = "127.77.40.3"
        let web = try await Self.start(host, port: 80, hostname: "plc-13", persona: ["users": "admin:S7!pass"])
        let capture = EventCapture()
        let context = ServiceContext(
            decky: "decky-test",
            hostname: "plc-13",
            service: "conpot",
            persona: [:],
            sink: capture
        )
        let snmp = try await UDPListener.bind(
            try ConpotSNMPService(context: context),
            host: host,
            port: 161,
            context: context
        )
        let snmpTask = Task { await snmp.run() }
        let expected = PLCIdentity(hostname: "plc-13")
        let page = try await ProcessRunner.run(curl, ["-s", "-i", "http://\(host)/"])
        #expect(
            page.standardOutput.hasPrefix("HTTP/1.0 302\r\nLocation: /Portal0000.htm\r\n"),
            "\(page.standardOutput)"
        )
        let start = try await ProcessRunner.run(curl, ["-s", "http://\(host)/Portal0000.htm"])
        #expect(start.standardOutput.contains(expected.systemName) && start.standardOutput.contains("<TD>RUN</TD>"))
        let login = try await ProcessRunner.run(
            curl,
            ["-s", "-A", "Mozilla/5.0", "-d", "Login=admin&Password=hunter2", "http://\(host)/FormLogin"]
        )
        #expect(login.standardOutput.contains("Login failed"))
        let scan = try await ProcessRunner.run(nmap, ["-sV", "-Pn", "-n", "-p", "80", host])
        #expect(scan.standardOutput.contains("Siemens Simatic S7-300 PLC httpd"), "\(scan.standardOutput)")
        let get = try await ProcessRunner.run(
            snmpget,
            ["-v2c", "-c", "public", "-On", host, "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.6.0"]
        )
        await web.stop()
        await snmp.close()
        await snmpTask.value
        #expect(
            get.standardOutput.contains("6ES7 315-2EH14-0AB0") && get.standardOutput.contains(expected.plant),
            "\(get.standardOutput)\(get.standardError)"
        )
        let failed = try #require(web.capture.events(.loginFailed).first)
        #expect(failed[field: "username"] == "admin" && failed[field: "password"] == "hunter2")
        #expect(failed[field: "method"] == "s7-web-form")
    }

    static func readSZL0132(_ commands: [HoneypotEvent]) -> Bool {
        commands.contains { $0[field: "command"] == "read_szl" && $0[field: "args"] == "id=0x0132 index=0x0004" }
    }

    /// hydra 9.4's s7-300 module reads SZL 0x0132 before its first guess and gives up when a CPU answers it
    /// (its init treats any reply as an error), as it does against real CPUs; its connection is still recorded.
    @Test(.enabled(if: hydra.isUsable, "needs hydra (required under CI)"))
    func hydrasS7ModuleIsRecorded() async throws {
        let hydra = try #require(Self.hydra.path, "\(Self.hydra.missingMessage)")
        let host = "127.77.40.4"
        let service = try await Self.start(host, port: 102, hostname: "plc-14")
        // hydra gives up on a reply slower than its wait; on a loaded machine a run may end before its SZL read,
        // so it runs again (at most three times) until the read is recorded.
        var run = try await ProcessRunner.run(hydra, ["-p", "plc123", "-w", "10", "-s", "102", host, "s7-300"])
        for _ in 0..<2 where !Self.readSZL0132(service.capture.events(.commandInput)) {
            run = try await ProcessRunner.run(hydra, ["-p", "plc123", "-w", "10", "-s", "102", host, "s7-300"])
        }
        await service.stop()
        let commands = service.capture.events(.commandInput)
        #expect(
            commands.contains { $0[field: "command"] == "cotp_connect" && $0[field: "accepted"] == "true" },
            "\(run.standardOutput)\(run.standardError)"
        )
        #expect(Self.readSZL0132(commands), "\(run.standardOutput)\(run.standardError)")
        // If a hydra without the init bug reaches its guess, the guess is captured in plaintext.
        for event in service.capture.events(.loginFailed) { #expect(event[field: "password"] == "plc123") }
    }
}

/// The identity a decky of `hostname` derives, as the tests expect to read it back.
struct PLCIdentity {
    let systemName: String
    let serial: String
    let plant: String

    init(hostname: String) {
        let identity = ConpotService.identity(hostname: hostname)
        self.systemName = identity.systemName
        self.serial = identity.serial
        self.plant = identity.plant
    }
}
