import DecnetCore
import DecnetServiceKit
import Dispatch
import NIOCore
import NIOEmbedded

/// Fuzz entry points of SSH (the transport before and after its key exchange, the connection protocol's
/// channels, SFTP and the scp sink) and of the TLS ClientHello reader behind the JA3/JA4 fingerprints.
extension FuzzEntries {
    /// One decky's host keys for every input: an RSA key takes a second to make, and the transport only reads it.
    private static let hostKeys: SSHHostKeys = {
        // swift-format-ignore: NeverForceUnwrap
        let keys = try! SSHHostKeys(directory: nil)
        let made = DispatchSemaphore(value: 0)
        keys.rsa.request { _ in made.signal() }
        made.wait()
        return keys
    }()

    private static let sshConfiguration: SSHServerTransport.Configuration = {
        var configuration = SSHServerTransport.Configuration(
            openSSH: .debian12,
            users: AcceptedCredentials("root:toor,alice:pw")
        )
        configuration.keyboardInteractive = true
        configuration.failureDelay = 0...0
        return configuration
    }()

    /// ssh: the input from the client's first byte, split in two where its first byte says: the identification
    /// line, then the unprotected packets of the first key exchange (KEXINIT, ECDH and DH group exchange,
    /// NEWKEYS). What follows NEWKEYS is read as protected packets, which fuzzed bytes fail to open: a close.
    public static func ssh(_ bytes: [UInt8]) {
        var transport = SSHServerTransport(configuration: self.sshConfiguration, hostKeys: self.hostKeys)
        self.drive(&transport, bytes)
    }

    /// ssh-session: the transport as it stands after its first key exchange, with packets left unprotected so
    /// the fuzzer reaches what sits behind the cipher: the service request, every userauth method (password,
    /// keyboard-interactive, publickey), a rekey, then the session: channels, pty, shell, exec, sftp and scp in
    /// channel data, forwarding requests, window adjusts, the host key proof.
    public static func sshSession(_ bytes: [UInt8]) {
        var transport = SSHServerTransport(
            afterKeyExchangeOf: self.sshConfiguration,
            hostKeys: self.hostKeys,
            sessionID: Array(repeating: 0x5A, count: 32)
        )
        self.drive(&transport, bytes)
    }

    private static func drive(_ transport: inout SSHServerTransport, _ bytes: [UInt8]) {
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
        for chunk in [bytes[..<split], bytes[split...]] {
            var actions = transport.receive(ByteBuffer(bytes: chunk))
            // The RSA key is made: reading goes on at once, as after the service's wait.
            while actions.contains(.awaitHostKey) {
                transport.hostKeyReady()
                actions = transport.receive(ByteBuffer())
            }
            if actions.contains(.close) { break }
        }
        _ = transport.finish()
    }

    /// sftp: the input's first byte chooses the reader: even, the SFTP server (its length-framed messages, in two
    /// pieces); odd, the scp sink behind `scp -t /tmp/` (control lines and file bytes).
    public static func sftp(_ bytes: [UInt8]) {
        guard let mode = bytes.first else { return }
        let rest = Array(bytes.dropFirst())
        let split = rest.isEmpty ? 0 : Int(mode) % rest.count
        let pieces = [Array(rest[..<split]), Array(rest[split...])]
        let profile = ShellProfile(context: self.context("ssh"))
        if mode & 1 == 0 {
            var server = SFTPServer(user: "root", profile: profile)
            for piece in pieces {
                if server.receive(piece).failed { break }
            }
            _ = server.finish()
        } else {
            guard var sink = SCPSink(arguments: ["-t", "/tmp/"], isDirectory: { _ in true }) else { return }
            for piece in pieces {
                if sink.receive(piece).failed { break }
            }
            _ = sink.finish()
        }
    }

    /// tls-hello: what the ClientHello sniffer in front of every TLS service reads (any split, any length), and
    /// the JA3 and JA4 fingerprints of what it parsed.
    public static func tlsHello(_ bytes: [UInt8]) {
        let sniffer = ClientHelloSniffer()
        let channel = EmbeddedChannel(handler: sniffer)
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
        for chunk in [bytes[..<split], bytes[split...]] where !chunk.isEmpty {
            _ = try? channel.writeInbound(ByteBuffer(bytes: chunk))
            _ = try? channel.readInbound(as: ByteBuffer.self)
        }
        if let hello = sniffer.hello {
            _ = ClientFingerprint.ja3(hello)
            _ = ClientFingerprint.ja4(hello)
        }
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }
}
