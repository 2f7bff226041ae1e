import ArgumentParser
import Foundation

/// `decnet init`: a new deployment directory with an example fleet file, a `.env.local` holding a fresh JWT
/// secret, and a `logs/` folder.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Initialise a new DECNET deployment directory."
    )

    @Argument(help: "Directory to initialise.") var directory: String = "."
    @Flag(help: "Overwrite files that already exist.") var force = false

    func run() throws {
        let manager = FileManager.default
        let ini = (self.directory as NSString).appendingPathComponent("decnet.ini")
        let env = (self.directory as NSString).appendingPathComponent(".env.local")
        for path in [ini, env] where manager.fileExists(atPath: path) && !self.force {
            throw CommandFailure("\(path) already exists; pass --force to overwrite it")
        }
        do {
            try manager.createDirectory(
                atPath: (self.directory as NSString).appendingPathComponent("logs"),
                withIntermediateDirectories: true
            )
            try Self.exampleFleet.write(toFile: ini, atomically: true, encoding: .utf8)
            try Self.environmentFile(secret: Self.randomSecret()).write(toFile: env, atomically: true, encoding: .utf8)
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: env)
        } catch {
            throw CommandFailure("cannot initialise \(self.directory): \(error.localizedDescription)")
        }
        print("initialised \(self.directory): decnet.ini, .env.local (mode 600, fresh DECNET_JWT_SECRET), logs/")
        print("next: decnet deploy --config \(ini) --dry-run")
    }

    /// 32 random bytes as hex, from the system's secure generator.
    static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }

    static let exampleFleet = """
        # DECNET fleet file: see docs/config.md. Check it with: decnet deploy --config decnet.ini --dry-run
        [general]
        net = 192.168.1.0/24
        gw = 192.168.1.1
        # interface = eth0
        # log_target = 127.0.0.1:5140

        [decky-01]
        ip = 192.168.1.110
        services = ssh, http
        nmap_os = linux

        [decky-01.ssh]
        ssh_version = OpenSSH_8.9p1 Ubuntu-3ubuntu0.6
        kernel_version = 5.15.0-91-generic
        users = root:toor,admin:admin123

        [decky-01.http]
        server_header = nginx/1.18.0
        fake_app = wordpress

        [corp-workstations]
        archetype = windows-workstation
        amount = 3

        """

    static func environmentFile(secret: String) -> String {
        """
        # DECNET-Swift environment (read after the process environment). See docs/config.md.
        DECNET_MODE=master
        DECNET_API_HOST=127.0.0.1
        DECNET_API_PORT=8000
        DECNET_WEB_HOST=127.0.0.1
        DECNET_WEB_PORT=8080
        DECNET_JWT_SECRET=\(secret)
        DECNET_ADMIN_USER=admin
        DECNET_ADMIN_PASSWORD=admin
        DECNET_DB_BACKEND=sqlite
        DECNET_INGEST_LOG_FILE=./logs/decnet.log
        DECNET_TRACING=false

        """
    }
}
