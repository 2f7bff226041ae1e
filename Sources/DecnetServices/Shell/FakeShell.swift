import DecnetCore
import DecnetServiceKit

/// Who and where the shell pretends to be: it must agree with everything else the decky says (distro, kernel,
/// hostname, address).
struct ShellProfile: Sendable, Equatable {
    var hostname: String
    var distro: DistroProfile
    var osFamily: OSFamily
    var ip: String
    var mac: String
    /// The kernel release the decky's configuration names (`kernel_version`), over the distro's own.
    var kernelOverride: String?
    /// The files the operator planted on the decky (canary documents), shown among the shell's own.
    var planted = PlantedFiles(root: nil)

    /// Embedded devices answer from BusyBox's ash, everything else from bash.
    var isBusyBox: Bool { self.osFamily == .embedded }
    var kernel: String { self.kernelOverride ?? (self.osFamily == .embedded ? "4.14.180" : self.distro.kernelVersion) }
    var machine: String { self.osFamily == .embedded ? "armv7l" : "x86_64" }

    /// The `#…` build string of `uname -v`, as each distro's kernel package writes it.
    var kernelBuild: String {
        if self.isBusyBox { return "#1 SMP Mon Mar 15 10:11:12 UTC 2021" }
        switch self.distro.slug {
        case "ubuntu22", "ubuntu20": return "#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023"
        case "rocky9", "centos7", "fedora": return "#1 SMP PREEMPT_DYNAMIC Wed Feb 7 11:19:44 UTC 2024"
        case "alpine": return "#1-Alpine SMP PREEMPT_DYNAMIC Fri, 16 Feb 2024 07:04:08 +0000"
        case "arch": return "#1 SMP PREEMPT_DYNAMIC Sat, 24 Feb 2024 17:33:13 +0000"
        default: return "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"
        }
    }

    var prettyName: String {
        switch self.distro.slug {
        case "debian": "Debian GNU/Linux 12 (bookworm)"
        case "ubuntu22": "Ubuntu 22.04.4 LTS"
        case "ubuntu20": "Ubuntu 20.04.6 LTS"
        case "rocky9": "Rocky Linux 9.3 (Blue Onyx)"
        case "centos7": "CentOS Linux 7 (Core)"
        case "alpine": "Alpine Linux v3.19"
        case "fedora": "Fedora Linux 39 (Server Edition)"
        case "kali": "Kali GNU/Linux Rolling"
        default: "Arch Linux"
        }
    }
}

extension ShellProfile {
    /// The profile of the decky a service runs on: its hostname, distro, OS family, MAC and kernel release (the
    /// service's `kernel_version`, else the decky's); the address is the connection's, set per session.
    init(context: ServiceContext) {
        self.init(
            hostname: context.hostname,
            distro: context.distro.flatMap(DistroCatalogue.profile(for:)) ?? DistroCatalogue.all[0],
            osFamily: context.osFamily,
            ip: "0.0.0.0",
            mac: context.macAddress ?? "00:0c:29:4f:8e:35",
            kernelOverride: context.persona["kernel_version"] ?? context.kernelVersion
        )
        self.planted = context.planted
    }
}

/// A small interactive shell in the spirit of Cowrie: the usual recon and persistence commands answered
/// consistently with the profile, downloads recorded but never fetched, unknown commands answered as bash (or
/// BusyBox's ash) does. Pure: each line in, output and events out.
struct FakeShell {
    /// The result of one input line.
    struct Result: Equatable {
        var output: String
        var exit = false
        var events: [(EventID, EventFields)] = []
        /// The exit status of the last command (127: not found).
        var status: Int32 = 0

        static func == (lhs: Result, rhs: Result) -> Bool {
            lhs.output == rhs.output && lhs.exit == rhs.exit && lhs.events.count == rhs.events.count
        }
    }

    let profile: ShellProfile
    let user: String
    /// Wall-clock text for output that shows the time (`wget`'s first line); set by the caller.
    var timestamp = "2024-09-09 08:14:02"
    private(set) var cwd: String
    private var environment: [String: String]
    private var history: [String] = []
    private var files: ShellFileSystem

    init(profile: ShellProfile, user: String) {
        self.profile = profile
        self.user = user
        let home = user == "root" ? "/root" : "/home/\(user)"
        self.cwd = home
        self.environment = [
            "HOME": home, "USER": user, "SHELL": profile.isBusyBox ? "/bin/sh" : "/bin/bash",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM": "xterm",
        ]
        self.files = ShellFileSystem(profile: profile, user: user, home: home)
    }

    var prompt: String {
        if self.profile.isBusyBox { return "\(self.user == "root" ? "#" : "$") " }
        let home = self.environment["HOME"] ?? "/"
        let shown =
            self.cwd == home ? "~" : self.cwd.hasPrefix(home + "/") ? "~" + self.cwd.dropFirst(home.count) : self.cwd
        return "\(self.user)@\(self.profile.hostname):\(shown)\(self.user == "root" ? "#" : "$") "
    }

    /// The login banner (motd).
    var banner: String {
        if self.profile.isBusyBox {
            return
                "\n\nBusyBox v1.30.1 (2021-03-11 09:52:11 UTC) built-in shell (ash)\nEnter 'help' for a list of built-in commands.\n\n"
        }
        return
            "Linux \(self.profile.hostname) \(self.profile.kernel) \(self.profile.kernelBuild) \(self.profile.machine)\n\n"
            + "The programs included with the \(self.profile.prettyName) system are free software;\n"
            + "the exact distribution terms for each program are described in the\nindividual files in /usr/share/doc/*/copyright.\n\n"
            + "Last login: Mon Sep  9 08:14:02 2024 from 10.0.0.12\n"
    }

    /// Runs one input line: `;`, `&&`, `||` and `|` separate commands; every command is recorded.
    mutating func execute(_ line: String) -> Result {
        let trimmed = line.trimmingWhitespace()
        guard !trimmed.isEmpty else { return Result(output: "") }
        self.history.append(trimmed)
        var result = Result(output: "")
        for command in Self.split(trimmed) {
            let words = Self.words(command).map(self.expand)
            guard let name = words.first else { continue }
            var fields = EventFields()
            fields.add("command", attackerText: name)
            if words.count > 1 { fields.add("args", attackerText: words.dropFirst().joined(separator: " ")) }
            result.events.append((.commandInput, fields))
            let step = self.run(name, Array(words.dropFirst()))
            result.output += step.output
            result.events += step.events
            result.status = step.status
            if step.exit {
                result.exit = true
                return result
            }
        }
        return result
    }

    private mutating func run(_ name: String, _ arguments: [String]) -> Result {
        let command = name.split(separator: "/").last.map(String.init) ?? name
        switch command {
        case "exit", "logout": return Result(output: "", exit: true)
        case "uname": return Result(output: self.uname(arguments) + "\n")
        case "id":
            return Result(
                output: self.user == "root"
                    ? "uid=0(root) gid=0(root) groups=0(root)\n"
                    : "uid=1000(\(self.user)) gid=1000(\(self.user)) groups=1000(\(self.user)),27(sudo)\n"
            )
        case "whoami": return Result(output: self.user + "\n")
        case "hostname": return Result(output: self.profile.hostname + "\n")
        case "pwd": return Result(output: self.cwd + "\n")
        case "cd":
            let target = FTPFileSystem.resolve(arguments.first ?? (self.environment["HOME"] ?? "/"), from: self.cwd)
            guard self.files.isDirectory(target) else {
                return Result(output: self.error("cd: \(arguments.first ?? ""): No such file or directory"))
            }
            self.cwd = target
            return Result(output: "")
        case "ls", "dir":
            let paths = arguments.filter { !$0.hasPrefix("-") }
            let long = arguments.contains { $0.hasPrefix("-") && $0.contains("l") }
            let all = arguments.contains { $0.hasPrefix("-") && $0.contains("a") }
            let target = FTPFileSystem.resolve(paths.first ?? ".", from: self.cwd)
            guard let listing = self.files.list(target, long: long, all: all) else {
                return Result(output: "ls: cannot access '\(paths.first ?? "")': No such file or directory\n")
            }
            return Result(output: listing)
        case "cat":
            var output = ""
            for path in arguments where !path.hasPrefix("-") {
                let resolved = FTPFileSystem.resolve(path, from: self.cwd)
                if let text = self.files.read(resolved) {
                    output += text
                } else if self.files.isDirectory(resolved) {
                    output += "cat: \(path): Is a directory\n"
                } else {
                    output += "cat: \(path): No such file or directory\n"
                }
            }
            return Result(output: output)
        case "echo":
            let newline = arguments.first != "-n"
            let text = arguments.drop { $0 == "-n" || $0 == "-e" }.joined(separator: " ")
            return Result(output: text + (newline ? "\n" : ""))
        case "export":
            for assignment in arguments {
                let parts = assignment.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { self.environment[String(parts[0])] = String(parts[1]) }
            }
            return Result(output: "")
        case "env", "printenv":
            return Result(output: self.environment.keys.sorted().map { "\($0)=\(self.environment[$0]!)\n" }.joined())
        case "history":
            return Result(output: self.history.enumerated().map { "  \($0.offset + 1)  \($0.element)\n" }.joined())
        case "ifconfig", "ip": return Result(output: self.interfaces(command, arguments))
        case "free":
            return Result(
                output:
                    "               total        used        free      shared  buff/cache   available\nMem:         4022148      612344     2811204        1264      598600     3180580\nSwap:         998396           0      998396\n"
            )
        case "df":
            return Result(
                output:
                    "Filesystem     1K-blocks    Used Available Use% Mounted on\n/dev/sda1       20466256 6128344  13273304  32% /\ntmpfs            2011072       0   2011072   0% /dev/shm\n"
            )
        case "ps":
            return Result(
                output:
                    "    PID TTY          TIME CMD\n   1337 pts/0    00:00:00 \(self.profile.isBusyBox ? "sh" : "bash")\n   1402 pts/0    00:00:00 ps\n"
            )
        case "w", "uptime":
            let line = " 13:05:24 up 41 days,  3:12,  1 user,  load average: 0.08, 0.03, 0.01\n"
            return Result(
                output: command == "uptime"
                    ? line
                    : line
                        + "USER     TTY      FROM             LOGIN@   IDLE   JCPU   PCPU WHAT\n\(self.user.padding(8)) pts/0    10.0.0.12        13:05    0.00s  0.02s  0.00s w\n"
            )
        case "crontab": return Result(output: arguments.contains("-l") ? "no crontab for \(self.user)\n" : "")
        case "wget", "curl", "tftp", "ftpget":
            return self.download(command, arguments)
        case "chmod", "chown", "touch", "mkdir", "rm", "mv", "cp", "kill", "killall", "nohup", "sleep", "sync", "clear",
            "true", "unset", "set", "ulimit":
            return Result(output: command == "clear" ? "\u{1B}[H\u{1B}[2J" : "")
        case "sh", "bash": return Result(output: "")
        case "nproc": return Result(output: "2\n")
        case "which": return Result(output: arguments.map { "/usr/bin/\($0)\n" }.joined())
        case "busybox":
            if arguments.isEmpty || !self.profile.isBusyBox {
                return self.profile.isBusyBox
                    ? Result(
                        output:
                            "BusyBox v1.30.1 (2021-03-11 09:52:11 UTC) multi-call binary.\nBusyBox is copyrighted by many authors between 1998-2015.\n"
                    )
                    : Result(output: self.notFound(command), status: 127)
            }
            return self.run(arguments[0], Array(arguments.dropFirst()))
        case "sudo":
            return Result(output: "\(self.user) is not in the sudoers file.  This incident will be reported.\n")
        default:
            return Result(output: self.notFound(command), status: 127)
        }
    }

    private func uname(_ arguments: [String]) -> String {
        let flags = Set(arguments.filter { $0.hasPrefix("-") }.flatMap { $0.dropFirst() })
        let build = self.profile.kernelBuild
        if flags.contains("a") {
            return "Linux \(self.profile.hostname) \(self.profile.kernel) \(build) \(self.profile.machine) GNU/Linux"
        }
        var parts: [String] = []
        if flags.isEmpty || flags.contains("s") { parts.append("Linux") }
        if flags.contains("n") { parts.append(self.profile.hostname) }
        if flags.contains("r") { parts.append(self.profile.kernel) }
        if flags.contains("v") { parts.append(build) }
        if flags.contains("m") { parts.append(self.profile.machine) }
        if flags.contains("o") { parts.append("GNU/Linux") }
        return parts.joined(separator: " ")
    }

    private func interfaces(_ command: String, _ arguments: [String]) -> String {
        if command == "ip" && !(arguments.first.map { "addr".hasPrefix($0) || $0 == "a" } ?? false) {
            return arguments.first == "r" || arguments.first == "route"
                ? "default via 10.0.0.1 dev eth0\n" : "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n"
        }
        if command == "ifconfig" {
            return
                "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n        inet \(self.profile.ip)  netmask 255.255.255.0\n        ether \(self.profile.mac)  txqueuelen 1000  (Ethernet)\n\nlo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536\n        inet 127.0.0.1  netmask 255.0.0.0\n"
        }
        return
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n    inet 127.0.0.1/8 scope host lo\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000\n    link/ether \(self.profile.mac) brd ff:ff:ff:ff:ff:ff\n    inet \(self.profile.ip)/24 brd 10.0.0.255 scope global eth0\n"
    }

    /// Records the URL; nothing is fetched (name resolution "fails", as on a host without DNS).
    private func download(_ command: String, _ arguments: [String]) -> Result {
        // The URL, not the value of an output option (`-O file`, `-o file`, `-P dir`).
        var candidates: [String] = []
        var skip = false
        for argument in arguments {
            if skip {
                skip = false
                continue
            }
            if ["-O", "-o", "-P", "--output", "--output-document", "-l", "-r", "-g"].contains(argument) {
                skip = true
                continue
            }
            if !argument.hasPrefix("-") { candidates.append(argument) }
        }
        let url = candidates.first { $0.contains("://") } ?? candidates.first ?? ""
        var fields = EventFields()
        fields.add("url", attackerText: url)
        fields.add("tool", command)
        let host = url.split(separator: "/").dropFirst(url.contains("://") ? 1 : 0).first.map(String.init) ?? url
        let output: String
        let address = host.split(separator: ":").first.map(String.init) ?? host
        let isAddress = address.split(separator: ".").count == 4 && address.allSatisfy { $0.isNumber || $0 == "." }
        switch command {
        case "curl" where isAddress:
            output = "curl: (7) Failed to connect to \(address) port 80 after 3 ms: Couldn't connect to server\n"
        case "wget" where isAddress && !self.profile.isBusyBox:
            output =
                "--\(self.timestamp)--  \(url)\nConnecting to \(host):80... failed: Connection refused.\n"
        case "curl": output = "curl: (6) Could not resolve host: \(host)\n"
        case "wget":
            output =
                self.profile.isBusyBox
                ? "wget: bad address '\(host)'\n"
                : "--\(self.timestamp)--  \(url)\nResolving \(host) (\(host))... failed: Temporary failure in name resolution.\nwget: unable to resolve host address ‘\(host)’\n"
        default: output = "\(command): bad address '\(host)'\n"
        }
        return Result(output: output, events: [(.fileDownload, fields)])
    }

    private func notFound(_ command: String) -> String {
        self.profile.isBusyBox ? "-sh: \(command): not found\n" : "-bash: \(command): command not found\n"
    }

    private func error(_ message: String) -> String { (self.profile.isBusyBox ? "sh: " : "-bash: ") + message + "\n" }

    private func expand(_ word: String) -> String {
        guard word.hasPrefix("$") else { return word }
        return self.environment[String(word.dropFirst())] ?? ""
    }

    /// Splits a line into commands at `;`, `&&`, `||` and `|` outside quotes.
    static func split(_ line: String) -> [String] {
        var commands: [String] = []
        var current = ""
        var quote: Character?
        var previous: Character?
        for character in line {
            if let open = quote {
                if character == open { quote = nil }
                current.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                current.append(character)
            } else if character == ";" || character == "|" || (character == "&" && previous == "&") {
                // `&&`: the first `&` is in `current`. A third `&` follows a split, with nothing to take back
                // (fuzzing found "&&&" ending the process: removeLast on an empty string).
                if character == "&", current.last == "&" { current.removeLast() }
                if !current.trimmingWhitespace().isEmpty { commands.append(current) }
                current = ""
                previous = nil
                continue
            } else {
                current.append(character)
            }
            previous = character
        }
        if !current.trimmingWhitespace().isEmpty { commands.append(current) }
        return commands.prefix(64).map { $0.trimmingWhitespace() }
    }

    /// Words of one command, quotes removed, redirections dropped.
    static func words(_ command: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character?
        var inWord = false
        for character in command {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character == " " || character == "\t" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        var result: [String] = []
        var skipNext = false
        for word in words {
            if skipNext {
                skipNext = false
                continue
            }
            if word == ">" || word == ">>" || word == "<" || word == "2>" {
                skipNext = true
                continue
            }
            if word.hasPrefix(">") || word.hasPrefix("2>") || word.hasPrefix("<") || word == "&" { continue }
            result.append(word)
        }
        return result
    }
}

extension String {
    fileprivate func padding(_ length: Int) -> String {
        self.count >= length ? self : self + String(repeating: " ", count: length - self.count)
    }
}
