import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The Debian package as an operator meets it: built from the tree by scripts/build-deb.sh (with this build's
/// binary), installed with dpkg on this machine, checked, and purged. Refuses to run where a decnet package is
/// already installed, so it never removes somebody's own.
@Suite(.serialized) struct DebianPackageTests {
    static var usable: Bool {
        (getuid() == 0 && FileManager.default.fileExists(atPath: "/usr/bin/dpkg-deb")) || ExternalTool.isCI
    }

    static func sh(_ command: String) async throws -> ProcessResult {
        try await ProcessRunner.run("/bin/sh", ["-c", command])
    }

    @Test(.enabled(if: usable, "needs root and dpkg-dev (CI installs it and runs as root)"))
    func installsWithValidUnitsManPagesAndASecretAndPurgesToTheOperatorsDataAlone() async throws {
        try #require(getuid() == 0, "dpkg -i needs root")
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let installed = try await Self.sh("dpkg-query -W -f='${Status}' decnet 2>/dev/null")
        try #require(
            !installed.standardOutput.contains("installed"),
            "a decnet package is already installed here; this test installs and purges its own"
        )
        let out = try TemporaryDirectory()
        defer { out.remove() }
        let build = try await ProcessRunner.run(
            PackageLayout.root.appendingPathComponent("scripts/build-deb.sh").path,
            ["--binary", binary.path],
            in: PackageLayout.root,
            environment: ["OUT": out.path]
        )
        try #require(build.status == 0, "build-deb.sh: \(build.standardOutput.suffix(2000)) \(build.standardError)")
        let deb = try #require(
            try FileManager.default.contentsOfDirectory(atPath: out.path).first { $0.hasSuffix(".deb") }
        )
        let debPath = out.url.appendingPathComponent(deb).path
        let contents = try await Self.sh("dpkg-deb -c '\(debPath)' | awk '{print $6}' | sed 's|^\\.||'")
        let files = contents.standardOutput.split(separator: "\n").map(String.init).filter { !$0.hasSuffix("/") }
        #expect(files.contains("/usr/bin/decnet"))
        #expect(files.contains("/usr/share/doc/decnet/LICENSE"))
        #expect(files.contains("/usr/share/bash-completion/completions/decnet"))

        let install = try await Self.sh("dpkg -i '\(debPath)' 2>&1")
        do {
            try #require(install.status == 0, "dpkg -i: \(install.standardOutput)")
            // The command, its man pages (one per subcommand) and its units, which systemd accepts.
            let help = try await Self.sh("/usr/bin/decnet --help")
            #expect(help.status == 0 && help.standardOutput.contains("USAGE: decnet <subcommand>"))
            let man = try await Self.sh("man -w decnet decnet-deploy decnet-lab-exec decnet-api-start")
            #expect(man.status == 0, "\(man.standardError)")
            let units = [
                "decnet-engine.service", "decnet-bus.service", "decnet-workers.service", "decnet-api.service",
                "decnet-web.service", "decnet.target",
            ].map { "/lib/systemd/system/\($0)" }
            let verify = try await Self.sh("systemd-analyze verify \(units.joined(separator: " ")) 2>&1")
            #expect(verify.status == 0 && verify.standardOutput.isEmpty, "\(verify.standardOutput)")
            for unit in ["decnet-api", "decnet-bus", "decnet-workers", "decnet-web"] {
                let security = try await Self.sh(
                    "systemd-analyze security --offline=yes /lib/systemd/system/\(unit).service"
                )
                #expect(security.standardOutput.contains("OK"), "\(unit): \(security.standardOutput.suffix(300))")
            }
            // The daemons' user, the directories, and a fresh API key that the API accepts.
            #expect(try await Self.sh("id -u decnet").status == 0)
            let secret = try String(contentsOfFile: "/etc/decnet/secret.env", encoding: .utf8)
            let key = try #require(secret.split(separator: "\n").first { $0.hasPrefix("DECNET_JWT_SECRET=") })
            #expect(key.dropFirst("DECNET_JWT_SECRET=".count).count == 64)
            let mode = try FileManager.default.attributesOfItem(atPath: "/etc/decnet/secret.env")[.posixPermissions]
            #expect(mode as? Int == 0o640)
            #expect(FileManager.default.fileExists(atPath: "/var/lib/decnet"))
            #expect(FileManager.default.fileExists(atPath: "/etc/decnet/decnet.ini"))

            // The operator's data, then a purge: every file of the package goes, the data stays.
            try Data("events".utf8).write(to: URL(fileURLWithPath: "/var/lib/decnet/decnet.db"))
        } catch {
            _ = try? await Self.sh("dpkg --purge decnet")
            throw error
        }
        let purge = try await Self.sh("dpkg --purge decnet 2>&1")
        #expect(purge.status == 0, "\(purge.standardOutput)")
        #expect(purge.standardOutput.contains("kept /var/lib/decnet"))
        for file in files where !file.hasPrefix("/usr/share/man/man1/") || file.contains("decnet") {
            #expect(!FileManager.default.fileExists(atPath: file), "\(file) is left after purge")
        }
        #expect(!FileManager.default.fileExists(atPath: "/etc/decnet"))
        #expect(!FileManager.default.fileExists(atPath: "/var/log/decnet"))
        #expect(FileManager.default.fileExists(atPath: "/var/lib/decnet/decnet.db"))
        #expect(try await Self.sh("id -u decnet").status == 0, "the user owning the kept data is kept")
        // Without data, a purge leaves nothing of the package at all: no directories, no user.
        try FileManager.default.removeItem(atPath: "/var/lib/decnet")
        #expect(try await Self.sh("dpkg -i '\(debPath)' && dpkg --purge decnet").status == 0)
        #expect(!FileManager.default.fileExists(atPath: "/var/lib/decnet"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/decnet"))
        #expect(try await Self.sh("id -u decnet").status != 0)
    }
}
