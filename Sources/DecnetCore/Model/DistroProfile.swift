/// A Linux distribution a decky presents: base image for the Docker driver, and the facts that have to agree
/// with it everywhere else (SSH banner, kernel release, hostname habits).
public struct DistroProfile: Hashable, Sendable, Identifiable {
    /// How machines of this distro tend to be named.
    public enum HostnameStyle: String, Hashable, Sendable {
        /// `web-03`, `db-prod-01`: hand-named servers.
        case corporate
        /// `ip-192-168-1-110`: cloud images that name themselves after their address.
        case cloudAddress = "cloud-address"
        /// `kali-3f9a`, `alpine-07c1`: installs that kept the name their installer suggested, plus a suffix.
        case distroName = "distro-name"
    }

    public let slug: String
    public let image: String
    public let displayName: String
    public let hostnameStyle: HostnameStyle
    /// The OpenSSH identification this distro's packaged server sends (after `SSH-2.0-`).
    public let sshVersion: String
    /// A kernel release the distro shipped (`uname -r`).
    public let kernelVersion: String

    public var id: String { self.slug }

    public init(
        _ slug: String,
        image: String,
        displayName: String,
        hostnameStyle: HostnameStyle,
        sshVersion: String,
        kernelVersion: String
    ) {
        self.slug = slug
        self.image = image
        self.displayName = displayName
        self.hostnameStyle = hostnameStyle
        self.sshVersion = sshVersion
        self.kernelVersion = kernelVersion
    }
}

/// The 9 distro profiles of the seed's table, in its order (which is also the round-robin order).
public enum DistroCatalogue {
    public static let all: [DistroProfile] = [
        DistroProfile(
            "debian",
            image: "debian:bookworm-slim",
            displayName: "Debian 12 (Bookworm)",
            hostnameStyle: .corporate,
            sshVersion: "OpenSSH_9.2p1 Debian-2+deb12u10",
            kernelVersion: "6.1.0-18-amd64"
        ),
        DistroProfile(
            "ubuntu22",
            image: "ubuntu:22.04",
            displayName: "Ubuntu 22.04 LTS (Jammy)",
            hostnameStyle: .cloudAddress,
            sshVersion: "OpenSSH_8.9p1 Ubuntu-3ubuntu0.6",
            kernelVersion: "5.15.0-91-generic"
        ),
        DistroProfile(
            "ubuntu20",
            image: "ubuntu:20.04",
            displayName: "Ubuntu 20.04 LTS (Focal)",
            hostnameStyle: .corporate,
            sshVersion: "OpenSSH_8.2p1 Ubuntu-4ubuntu0.11",
            kernelVersion: "5.4.0-169-generic"
        ),
        DistroProfile(
            "rocky9",
            image: "rockylinux:9-minimal",
            displayName: "Rocky Linux 9",
            hostnameStyle: .corporate,
            sshVersion: "OpenSSH_8.7",
            kernelVersion: "5.14.0-362.18.1.el9_3.x86_64"
        ),
        DistroProfile(
            "centos7",
            image: "centos:7",
            displayName: "CentOS 7",
            hostnameStyle: .corporate,
            sshVersion: "OpenSSH_7.4",
            kernelVersion: "3.10.0-1160.108.1.el7.x86_64"
        ),
        DistroProfile(
            "alpine",
            image: "alpine:3.19",
            displayName: "Alpine Linux 3.19",
            hostnameStyle: .distroName,
            sshVersion: "OpenSSH_9.6",
            kernelVersion: "6.6.16-0-lts"
        ),
        DistroProfile(
            "fedora",
            image: "fedora:39",
            displayName: "Fedora 39",
            hostnameStyle: .distroName,
            sshVersion: "OpenSSH_9.3",
            kernelVersion: "6.7.5-200.fc39.x86_64"
        ),
        DistroProfile(
            "kali",
            image: "kalilinux/kali-rolling",
            displayName: "Kali Linux (Rolling)",
            hostnameStyle: .distroName,
            sshVersion: "OpenSSH_9.6p1 Debian-4",
            kernelVersion: "6.6.9-amd64"
        ),
        DistroProfile(
            "arch",
            image: "archlinux:latest",
            displayName: "Arch Linux",
            hostnameStyle: .distroName,
            sshVersion: "OpenSSH_9.6",
            kernelVersion: "6.7.6-arch1-1"
        ),
    ]

    private static let bySlug = Dictionary(uniqueKeysWithValues: all.map { ($0.slug, $0) })

    public static func profile(for slug: String) -> DistroProfile? { bySlug[slug] }
}
