/// Persona values a decky gets when its config leaves a key out, chosen to agree with its distro, OS family and
/// archetype (an Ubuntu 22.04 web server says `nginx/1.18.0 (Ubuntu)`, a Windows one `Microsoft-IIS/10.0`).
/// Services added later extend this table; a key without a default is simply absent.
public enum PersonaDefaults {
    public static func values(
        for kind: ServiceKind,
        distro: DistroProfile,
        osFamily: OSFamily,
        archetype: Archetype?,
        hostname: String
    ) -> [String: String] {
        let isServer = ["windows-server", "domain-controller"].contains(archetype?.slug)
        switch kind {
        case "ssh":
            switch osFamily {
            case .linux: return ["ssh_version": distro.sshVersion, "kernel_version": distro.kernelVersion]
            case .windows: return ["ssh_version": "OpenSSH_for_Windows_8.1"]
            case .bsd: return ["ssh_version": "OpenSSH_9.6 FreeBSD-20240104", "kernel_version": "14.0-RELEASE-p5"]
            case .embedded: return ["ssh_version": "dropbear_2022.83", "kernel_version": "4.14.180"]
            case .cisco: return ["ssh_version": "Cisco-1.25"]
            }
        case "http":
            return ["server_header": self.webServer(distro: distro, osFamily: osFamily), "response_code": "200"]
        case "smb":
            if osFamily == .windows {
                return [
                    "workgroup": isServer ? "CORP" : "WORKGROUP",
                    "server_name": String(hostname.uppercased().prefix(15)),
                    "os_version": isServer ? "Windows Server 2019 Standard 17763" : "Windows 10 Pro 19045",
                    "smb_signing": archetype?.slug == "domain-controller" ? "required" : "enabled",
                ]
            }
            return [
                "workgroup": "WORKGROUP", "server_name": String(hostname.uppercased().prefix(15)),
                "os_version": "Samba",
            ]
        case "ftp":
            // IIS's FTP on Windows, HP JetDirect's on printers and other devices; vsFTPd (the emulator's own
            // default) on Unix.
            switch osFamily {
            case .windows: return ["ftp_banner": "Microsoft FTP Service"]
            case .embedded: return ["ftp_banner": "JD FTP Server Ready"]
            case .linux, .bsd, .cisco: return [:]
            }
        case "mysql":
            return ["mysql_version": self.mysqlVersion(distro: distro)]
        case "postgres":
            return ["pg_version": self.postgresVersion(distro: distro)]
        case "redis":
            return ["redis_version": self.redisVersion(distro: distro)]
        case "mssql":
            return ["mssql_version": isServer ? "15.0.2000.5" : "16.0.1000.6"]
        case "rdp":
            return isServer
                ? ["os_version": "Windows Server 2019", "build": "17763"]
                : ["os_version": "Windows 10", "build": "19045"]
        default:
            return [:]
        }
    }

    /// The MySQL (or MariaDB, which Debian ships as its mysql) the distro packages.
    static func mysqlVersion(distro: DistroProfile) -> String {
        switch distro.slug {
        case "debian", "kali": "10.11.6-MariaDB-0+deb12u1"
        case "ubuntu22": "8.0.36-0ubuntu0.22.04.1"
        case "ubuntu20": "8.0.36-0ubuntu0.20.04.1"
        case "centos7": "5.7.44"
        case "alpine", "arch": "11.2.3-MariaDB"
        default: "8.0.36"
        }
    }

    /// The PostgreSQL the distro packages.
    static func postgresVersion(distro: DistroProfile) -> String {
        switch distro.slug {
        case "ubuntu22": "14.11"
        case "ubuntu20": "12.18"
        case "rocky9": "13.14"
        case "centos7": "9.2.24"
        case "alpine", "kali", "arch": "16.2"
        default: "15.6"
        }
    }

    /// The Redis the distro packages.
    static func redisVersion(distro: DistroProfile) -> String {
        switch distro.slug {
        case "ubuntu22": "6.0.16"
        case "ubuntu20": "5.0.7"
        case "rocky9": "6.2.7"
        case "centos7": "3.2.12"
        case "alpine", "kali", "arch": "7.2.4"
        case "fedora": "7.2.3"
        default: "7.0.15"
        }
    }

    /// The web server a machine of this distro most likely runs, as its Server header reads.
    static func webServer(distro: DistroProfile, osFamily: OSFamily) -> String {
        switch osFamily {
        case .windows: return "Microsoft-IIS/10.0"
        case .embedded, .cisco: return "lighttpd/1.4.59"
        case .bsd: return "nginx/1.24.0"
        case .linux: break
        }
        switch distro.slug {
        case "debian": return "nginx/1.22.1"
        case "ubuntu22", "ubuntu20": return "nginx/1.18.0 (Ubuntu)"
        case "rocky9": return "Apache/2.4.57 (Rocky Linux)"
        case "centos7": return "Apache/2.4.6 (CentOS)"
        case "fedora": return "Apache/2.4.58 (Fedora Linux)"
        case "kali": return "Apache/2.4.58 (Debian)"
        default: return "nginx/1.24.0"
        }
    }
}
