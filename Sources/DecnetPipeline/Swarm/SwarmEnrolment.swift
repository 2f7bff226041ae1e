import Foundation

/// Adding an agent host to the swarm on the master (`decnet swarm add`, `POST /api/v1/swarm/hosts`): its
/// identity issued from the project's CA for client and server use (unless the operator brings a certificate),
/// the master's release key put beside it (`updater.pub`), and its certificate pinned in the register.
public enum SwarmEnrolment {
    public static func authority(stateDirectory: String) -> CertificateAuthority {
        CertificateAuthority(directory: (stateDirectory as NSString).appendingPathComponent("pki"))
    }

    /// Where the master's release key lives (`decnet updater`).
    public static func releaseKeyDirectory(stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("updater")
    }

    /// Enrols `name` at `address`, pinned to `certificatePath` or to an identity issued now (kept in
    /// `<state>/pki/<name>`, whose folder comes back to be copied to the agent).
    public static func enrol(
        stateDirectory: String,
        name: String,
        address: String,
        certificatePath: String? = nil
    ) throws -> (host: SwarmHost, identity: String?) {
        guard SwarmRegistry.isName(name) else {
            throw SwarmRegistry.Failure(
                "a host name is letters, digits, '-', '_' and '.', at most 63 (got \(name.debugDescription))"
            )
        }
        if let problem = Self.addressProblem(address) {
            throw SwarmRegistry.Failure("address \(address.debugDescription): \(problem)")
        }
        var certificate = certificatePath
        var folder: String?
        if certificate == nil {
            let authority = Self.authority(stateDirectory: stateDirectory)
            _ = try authority.initialize()
            let identity =
                try authority.issued(name)
                ?? authority.issue(
                    name: name,
                    roles: [.client, .server],
                    subjectAlternativeNames: [Self.addressPart(address)]
                )
            certificate = identity.certificatePath
            let directory = (identity.certificatePath as NSString).deletingLastPathComponent
            // The master's release key, which the agent checks every pushed binary against.
            try ReleaseSigning.exportPublicKey(
                keyDirectory: Self.releaseKeyDirectory(stateDirectory: stateDirectory),
                to: (directory as NSString).appendingPathComponent(ReleaseSigning.publicKeyFile)
            )
            folder = directory
        }
        let host = try SwarmRegistry(stateDirectory: stateDirectory).add(
            name: name,
            address: address,
            certificatePath: certificate!
        )
        return (host, folder)
    }

    /// Why `address` is not `host[:port]` as the master reaches an agent (an IPv4 address, a bracketed IPv6
    /// address or a DNS name, and a port from 1 to 65535), or nil. It becomes the certificate's SAN.
    public static func addressProblem(_ address: String) -> String? {
        var host = Substring(address)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return "an IPv6 address ends with ]" }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            guard host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }), host.contains(":") else {
                return "not an IPv6 address in brackets"
            }
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return "expected :port after the brackets" }
                port = rest.dropFirst()
            }
        } else if let colon = host.lastIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        if let port, !(port.allSatisfy(\.isASCII) && (Int(port).map { (1...65_535).contains($0) } ?? false)) {
            return "the port must be 1 to 65535"
        }
        if address.hasPrefix("[") { return nil }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard !host.isEmpty, host.utf8.count <= 253,
            labels.allSatisfy({ label in
                (1...63).contains(label.utf8.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            })
        else { return "expected an IPv4 address, [an IPv6 address] or a DNS name, then :port if any" }
        return nil
    }

    /// The address of `host[:port]`.
    public static func addressPart(_ host: String) -> String {
        guard let colon = host.lastIndex(of: ":"), !host.contains("]"), host.filter({ $0 == ":" }).count == 1
        else { return host }
        return String(host[..<colon])
    }
}
