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

    /// The address of `host[:port]`.
    public static func addressPart(_ host: String) -> String {
        guard let colon = host.lastIndex(of: ":"), !host.contains("]"), host.filter({ $0 == ":" }).count == 1
        else { return host }
        return String(host[..<colon])
    }
}
