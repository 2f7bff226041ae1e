import DecnetCore

/// Which shell commands show which phase (the ATT&CK technique in brackets): what intruders type after a login,
/// as the honeypot literature and our own recorded sessions show it.
enum CommandPhases {
    typealias Rule = (IntrusionPhase, @Sendable (_ command: String, _ line: String) -> Bool)

    /// Looking around (T1082 system, T1033 owner, T1087 accounts, T1016 network, T1057 processes, T1083 files).
    static let discovery: Set<String> = [
        "id", "whoami", "uname", "hostname", "w", "who", "last", "lastlog", "uptime", "ps", "top", "ls", "pwd",
        "ifconfig", "ip", "netstat", "ss", "route", "arp", "lscpu", "nproc", "free", "df", "mount", "env", "printenv",
        "groups", "getent", "lsb_release", "dmesg", "history", "crontab -l", "find", "locate", "which",
    ]

    /// Files whose reading is discovery (T1082, T1087) rather than collection.
    static let discoveryFiles = [
        "/etc/passwd", "/etc/issue", "/etc/os-release", "/proc/cpuinfo", "/proc/version", "/etc/hosts",
    ]

    /// Bringing tools in (T1105 ingress tool transfer) or opening a channel back (T1095, T1571).
    static let ingress: Set<String> = [
        "wget", "curl", "tftp", "ftpget", "busybox", "fetch", "lwp-download", "nc", "ncat", "socat",
    ]

    /// Staying (T1053 cron, T1098.004 authorized_keys, T1136 accounts, T1543 services, T1037 boot scripts).
    static func isPersistence(_ command: String, _ line: String) -> Bool {
        ["crontab", "useradd", "adduser", "usermod", "chpasswd", "passwd", "systemctl", "update-rc.d"].contains(command)
            && !line.contains("crontab -l")
            || line.contains("authorized_keys") || line.contains("/etc/rc.local") || line.contains(".bashrc")
            || line.contains("/etc/init.d/") || line.contains("/etc/cron")
    }

    /// Moving on from this host (T1021.004 ssh, T1570 tool transfer between hosts).
    static func isLateral(_ command: String, _ line: String) -> Bool {
        ["ssh", "scp", "sshpass", "telnet", "rsh", "rlogin", "smbclient", "psexec.py", "xfreerdp"].contains(command)
    }

    /// Gathering data to take (T1005 local data, T1560 archives, T1552.001 credentials in files).
    static func isCollectionCommand(_ command: String, _ line: String) -> Bool {
        ["tar", "zip", "7z", "rar", "mysqldump", "pg_dump", "mongodump"].contains(command)
            || (command == "cat" && (line.contains("/etc/shadow") || line.contains("id_rsa") || line.contains(".aws/")))
    }

    /// Taking it out (T1048 over another protocol, T1041 over the C2 channel).
    static func isExfiltration(_ command: String, _ line: String) -> Bool {
        (command == "curl"
            && (line.contains(" -T ") || line.contains("--upload-file") || line.contains(" -F ")
                || line.contains("--data-binary @")))
            || (command == "scp" && line.split(separator: " ").last?.contains(":") == true)
            || (["nc", "ncat"].contains(command) && line.contains("<"))
    }

    static let rules: [Rule] = [
        (
            .discovery,
            { command, line in
                Self.discovery.contains(command)
                    || (command == "cat" && Self.discoveryFiles.contains { line.contains($0) })
            }
        ),
        (
            .commandAndControl,
            { command, line in
                Self.ingress.contains(command) && !Self.isExfiltration(command, line)
                    || line.contains("/dev/tcp/")
            }
        ),
        (.persistence, Self.isPersistence),
        (.lateralMovement, Self.isLateral),
        (.collection, Self.isCollectionCommand),
        (.exfiltration, Self.isExfiltration),
    ]

    /// Reads of the bait data of the data services: a dump of a table, an index or a collection, a bait file.
    static func isCollection(_ event: HoneypotEvent) -> Bool {
        switch (event.service.rawValue, event.id) {
        case (_, .fileDownload): return true
        case ("mongodb", .commandInput): return ["find", "aggregate"].contains(event[field: "command"] ?? "")
        case ("elasticsearch", .commandInput): return (event[field: "args"] ?? "").contains("_search")
        case ("mysql", .commandInput), ("postgres", .commandInput), ("mssql", .commandInput):
            return (event[field: "query"] ?? event[field: "command"] ?? "").uppercased().contains("SELECT")
        case ("redis", .commandInput):
            return ["KEYS", "GET", "DUMP", "SCAN"].contains((event[field: "command"] ?? "").uppercased())
        default: return false
        }
    }
}

/// What an exploit attempt looks like in a request: command injection, log4j lookups, shellshock, traversal and
/// the well-known paths of router and web-application exploits that botnets spray.
enum ExploitPatterns {
    static let patterns: [(name: String, needle: String)] = [
        ("log4j JNDI lookup (CVE-2021-44228)", "${jndi:"),
        ("shellshock (CVE-2014-6271)", "() { :;};"),
        ("path traversal", "../../"),
        ("encoded path traversal", "%2e%2e%2f"),
        ("PHPUnit eval-stdin (CVE-2017-9841)", "eval-stdin.php"),
        ("ThinkPHP invokefunction (CVE-2018-20062)", "invokefunction"),
        ("command injection fetching a payload", "wget http"),
        ("command injection fetching a payload", "curl http"),
        ("command injection through a shell", ";sh "),
        ("command injection through a shell", "|sh"),
        ("Boa router form injection", "/boaform/"),
        ("GPON router RCE (CVE-2018-10561)", "/GponForm/"),
        ("Hikvision RCE (CVE-2021-36260)", "/SDK/webLanguage"),
        ("Docker API container escape", "\"Privileged\":true"),
        ("Kubernetes hostPath mount", "hostPath"),
    ]

    /// The first pattern found in a request's fields, for requests to network services (not shell commands,
    /// where `wget http…` is an intruder's own download, judged as command and control).
    static func match(_ event: HoneypotEvent) -> String? {
        guard event.service.rawValue != "sniffer", !AttackerProfiler.Signals.isShellCommand(event),
            !["ssh", "telnet"].contains(event.service.rawValue),
            [EventID.commandInput, .payloadReceived, .clientMalformed].contains(event.id)
        else { return nil }
        for field in event.fields where ["args", "path", "uri", "input", "preview", "body"].contains(field.name) {
            for pattern in Self.patterns where field.value.contains(pattern.needle) { return pattern.name }
        }
        return nil
    }
}
