import Foundation

/// What a given OpenSSH release sends as a server with its packaged default configuration, so a decky claiming
/// that release sends exactly that. Lists captured on the wire or read from the release's `myproposal.h`; see
/// docs/research/ssh-transport.md for each source.
struct OpenSSHProfile: Equatable {
    var identification: String
    var kex: [String]
    var hostKeys: [String]
    var encryption: [String]
    var mac: [String]
    var compression: [String]

    static let encryption92 = [
        "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
    ]
    static let mac92 = [
        "umac-64-etm@openssh.com", "umac-128-etm@openssh.com", "hmac-sha2-256-etm@openssh.com",
        "hmac-sha2-512-etm@openssh.com", "hmac-sha1-etm@openssh.com", "umac-64@openssh.com", "umac-128@openssh.com",
        "hmac-sha2-256", "hmac-sha2-512", "hmac-sha1",
    ]
    /// Host keys in sshd's default HostKey order (rsa, ecdsa, ed25519); 8.9 and 9.2 no longer offer ssh-rsa.
    static let hostKeys = ["rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256", "ssh-ed25519"]

    /// Debian 12, openssh-server 1:9.2p1-2+deb12u4 and later (captured from deb12u10): sntrup761 under both
    /// names, and the Terrapin strict-kex marker.
    static let debian12 = OpenSSHProfile(
        identification: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10",
        kex: [
            "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com", "curve25519-sha256",
            "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
            "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
            "diffie-hellman-group14-sha256", "kex-strict-s-v00@openssh.com",
        ],
        hostKeys: Self.hostKeys,
        encryption: Self.encryption92,
        mac: Self.mac92,
        compression: ["none", "zlib@openssh.com"]
    )

    /// Ubuntu 22.04, openssh-server 8.9p1-3ubuntu0.x with the strict-kex backport: sntrup761 after the ECDH
    /// entries (8.9's own order).
    static let ubuntu2204 = OpenSSHProfile(
        identification: "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6",
        kex: [
            "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
            "ecdh-sha2-nistp521", "sntrup761x25519-sha512@openssh.com", "diffie-hellman-group-exchange-sha256",
            "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256",
            "kex-strict-s-v00@openssh.com",
        ],
        hostKeys: Self.hostKeys,
        encryption: Self.encryption92,
        mac: Self.mac92,
        compression: ["none", "zlib@openssh.com"]
    )

    /// This profile's KEXINIT with a fresh cookie.
    func kexInit(cookie: [UInt8] = SSHWire.randomBytes(16)) -> SSHKexInit {
        SSHKexInit(
            cookie: cookie,
            kex: self.kex,
            hostKeys: self.hostKeys,
            encryption: self.encryption,
            mac: self.mac,
            compression: self.compression
        )
    }
}

extension OpenSSHProfile {
    /// The lists of the release `version` names (`OpenSSH_9.2p1 Debian-2+deb12u3`): 8.9 sends Ubuntu 22.04's,
    /// anything else Debian 12's as each package update changed them: the unsuffixed sntrup761 name came with
    /// deb12u4, the strict-kex marker (Terrapin) with deb12u2 (docs/research/ssh-transport.md).
    init(claiming version: String) {
        self = version.contains("OpenSSH_8.9") ? .ubuntu2204 : .debian12
        if let range = version.range(of: "+deb12u"), let update = Int(version[range.upperBound...]) {
            if update < 4 { self.kex.removeAll { $0 == "sntrup761x25519-sha512" } }
            if update < 2 { self.kex.removeAll { $0 == "kex-strict-s-v00@openssh.com" } }
        }
        self.identification = version.hasPrefix("SSH-") ? version : "SSH-2.0-" + version
    }
}
