import DecnetCore
import DecnetServiceKit
import Foundation

/// The files the fake shell can show, consistent with the decky's distro, kernel and hostname.
struct ShellFileSystem {
    private var directories: Set<String>
    private var files: [String: String]
    /// Files the operator planted (read when the session starts): their bytes, mode and time, by path.
    private var planted: [String: PlantedFiles.File] = [:]

    init(profile: ShellProfile, user: String, home: String) {
        self.directories = [
            "/", "/etc", "/proc", "/root", "/home", "/tmp", "/var", "/var/log", "/usr", "/usr/bin", "/bin", "/dev",
            home,
        ]
        let shell = profile.isBusyBox ? "/bin/sh" : "/bin/bash"
        var passwd =
            "root:x:0:0:root:/root:\(shell)\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\nsys:x:3:3:sys:/dev:/usr/sbin/nologin\nsync:x:4:65534:sync:/bin:/bin/sync\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nsshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n"
        if user != "root" { passwd += "\(user):x:1000:1000:\(user),,,:\(home):\(shell)\n" }
        let osRelease: String
        switch profile.distro.slug {
        case "ubuntu22", "ubuntu20":
            let version =
                profile.distro.slug == "ubuntu22"
                ? ("22.04.4 LTS (Jammy Jellyfish)", "22.04", "jammy") : ("20.04.6 LTS (Focal Fossa)", "20.04", "focal")
            osRelease =
                "PRETTY_NAME=\"\(profile.prettyName)\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"\(version.1)\"\nVERSION=\"\(version.0)\"\nVERSION_CODENAME=\(version.2)\nID=ubuntu\nID_LIKE=debian\nHOME_URL=\"https://www.ubuntu.com/\"\n"
        case "rocky9":
            osRelease =
                "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"\(profile.prettyName)\"\n"
        case "alpine":
            osRelease = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"\(profile.prettyName)\"\n"
        default:
            osRelease =
                "PRETTY_NAME=\"\(profile.prettyName)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n"
        }
        let cpu =
            profile.isBusyBox
            ? "processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nBogoMIPS\t: 38.40\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\n\n"
            : (0..<2).map {
                "processor\t: \($0)\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz\ncpu MHz\t\t: 2194.843\ncache size\t: 16896 KB\ncpu cores\t: 2\n\n"
            }.joined()
        self.files = [
            "/etc/passwd": passwd,
            "/etc/hostname": profile.hostname + "\n",
            "/etc/os-release": osRelease,
            "/etc/issue": profile.prettyName + " \\n \\l\n\n",
            "/etc/shadow": "",
            "/proc/version":
                "Linux version \(profile.kernel) (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC\n",
            "/proc/cpuinfo": cpu,
            "/proc/meminfo": "MemTotal:        4022148 kB\nMemFree:         2811204 kB\nMemAvailable:    3180580 kB\n",
            home + "/.bash_history": "ls -la\nsudo systemctl restart nginx\nmysql -u root -p\n",
            home + "/.profile": "# ~/.profile: executed by the command interpreter for login shells.\n",
        ]
        for file in profile.planted.all() {
            self.planted[file.path] = file
            var parent = (file.path as NSString).deletingLastPathComponent
            while parent != "/" && !parent.isEmpty && !self.directories.contains(parent) {
                self.directories.insert(parent)
                parent = (parent as NSString).deletingLastPathComponent
            }
        }
    }

    func isDirectory(_ path: String) -> Bool { self.directories.contains(path) }

    func read(_ path: String) -> String? {
        if path == "/etc/shadow" { return nil }
        if let file = self.planted[path] { return file.contents().map { String(decoding: $0, as: UTF8.self) } }
        return self.files[path]
    }

    /// A file's bytes (what SFTP and scp send): a planted file's as they are, the shell's own as UTF-8.
    func bytes(_ path: String) -> [UInt8]? {
        if let file = self.planted[path] { return file.contents() }
        return self.read(path).map { Array($0.utf8) }
    }

    /// One name in a directory.
    struct Entry: Equatable {
        var name: String
        var isDirectory: Bool
        var size: Int
    }

    /// The size of a file, or nil when there is none at `path`.
    func size(_ path: String) -> Int? { self.planted[path]?.size ?? self.files[path]?.utf8.count }

    /// What a directory holds, sorted by name; nil when `path` is not a directory.
    func entries(_ path: String) -> [Entry]? {
        guard self.directories.contains(path) else { return nil }
        let prefix = path == "/" ? "/" : path + "/"
        var names = Set<String>()
        for entry in self.directories.union(self.files.keys).union(self.planted.keys)
        where entry.hasPrefix(prefix) && entry != path {
            if let first = entry.dropFirst(prefix.count).split(separator: "/").first { names.insert(String(first)) }
        }
        return names.sorted().map { name in
            let full = prefix + name
            let isDirectory = self.directories.contains(full)
            return Entry(name: name, isDirectory: isDirectory, size: isDirectory ? 4096 : self.size(full) ?? 0)
        }
    }

    /// `ls` output, or nil when the path does not exist.
    func list(_ path: String, long: Bool, all: Bool) -> String? {
        if self.files[path] != nil || self.planted[path] != nil {
            return (path.split(separator: "/").last.map(String.init) ?? path) + "\n"
        }
        guard let entries = self.entries(path) else { return nil }
        let shown = entries.filter { all || !$0.name.hasPrefix(".") }
        if !long { return shown.isEmpty ? "" : shown.map(\.name).joined(separator: "  ") + "\n" }
        var lines = ["total \(shown.count * 4)"]
        for entry in shown {
            let sizeText = String(entry.size)
            let full = (path == "/" ? "/" : path + "/") + entry.name
            let mode =
                entry.isDirectory ? "drwxr-xr-x" : self.planted[full].map { Self.modeText($0.mode) } ?? "-rw-r--r--"
            let time = self.planted[full].map { Self.lsTime($0.modified) } ?? "Sep  9  2024"
            lines.append(
                "\(mode) 1 root root \(String(repeating: " ", count: max(0, 5 - sizeText.count)))\(sizeText) \(time) \(entry.name)"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `-rw-------` for 0o600.
    static func modeText(_ mode: UInt16) -> String {
        "-"
            + (0..<9).map { bit in mode & (1 << (8 - bit)) != 0 ? Array("rwxrwxrwx")[bit] : "-" }.map(String.init)
            .joined()
    }

    /// `ls -l`'s time (`%b %e %H:%M` within six months, `%b %e  %Y` before): `Mar  4 09:12`, `Mar  4  2024`.
    static func lsTime(_ date: Date) -> String {
        let recent = abs(Date().timeIntervalSince(date)) < 182 * 86_400
        let day = PosixDate.string(date, format: "d")
        return PosixDate.string(date, format: "MMM") + (day.count == 1 ? "  " : " ") + day
            + PosixDate.string(date, format: recent ? " HH:mm" : "  yyyy")
    }
}
