import Foundation

/// A real program a test drives (docker-compose, nmap, ssh …), found on PATH.
///
/// Tests use `.enabled(if: ExternalTool.x.isUsable)`: on a developer's machine without the tool the test is
/// skipped, but under `CI=true` it always runs, so a missing tool fails (`#require(tool.path)`), never skips.
public struct ExternalTool: Sendable {
    public let name: String
    /// The Debian package that provides it, for the failure message.
    public let package: String

    public init(_ name: String, package: String) {
        self.name = name
        self.package = package
    }

    public static let dockerCompose = ExternalTool("docker-compose", package: "docker-compose")
    public static let redisCLI = ExternalTool("redis-cli", package: "redis-tools")
    public static let nmap = ExternalTool("nmap", package: "nmap")
    public static let curl = ExternalTool("curl", package: "curl")
    public static let mariadb = ExternalTool("mariadb", package: "mariadb-client")
    public static let psql = ExternalTool("psql", package: "postgresql-client")
    public static let telnet = ExternalTool("telnet", package: "telnet")
    public static let python3 = ExternalTool("python3", package: "python3")
    public static let masscan = ExternalTool("masscan", package: "masscan")
    public static let zmap = ExternalTool("zmap", package: "zmap")
    public static let hping3 = ExternalTool("hping3", package: "hping3")
    public static let arpScan = ExternalTool("arp-scan", package: "arp-scan")
    public static let p0f = ExternalTool("p0f", package: "p0f")
    /// Whether python3 can import pexpect (PyPI `pexpect`, Debian `python3-pexpect`), for expect-style scripts.
    public static var pexpectInstalled: Bool { Self.pythonCanImport("pexpect") }

    /// Whether python3 can import `module` (a PyPI client a test drives; `.ci/run` installs them).
    public static func pythonCanImport(_ module: String) -> Bool {
        guard let python = ExternalTool.python3.path else { return false }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: python)
        probe.arguments = ["-c", "import \(module)"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }

    /// True when running under CI (`CI=true`), where every tool must be present.
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The tool's path, or nil.
    public var path: String? {
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in searchPath.split(separator: ":") {
            let candidate = "\(directory)/\(self.name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Whether a test needing the tool should run: it is installed, or this is CI (where its absence must fail).
    public var isUsable: Bool { self.path != nil || Self.isCI }

    /// Why the test cannot run, for `#require` messages.
    public var missingMessage: String {
        "\(self.name) is not installed (apt-get install \(self.package); .ci/run does)"
    }
}

/// A data file a test reads (the IEEE OUI registry, the seed document …), with the same CI rule as tools.
public struct ExternalFile: Sendable {
    public let path: String
    public let source: String

    public init(_ path: String, source: String) {
        self.path = path
        self.source = source
    }

    public static let ieeeOUI = ExternalFile("/usr/share/ieee-data/oui.txt", source: "apt-get install ieee-data")

    public var exists: Bool { FileManager.default.fileExists(atPath: self.path) }
    public var isUsable: Bool { self.exists || ExternalTool.isCI }
    public var missingMessage: String { "\(self.path) is missing (\(self.source))" }
}
