import DecnetCore
import DecnetServiceKit
import Foundation

/// Plants and revokes canary tokens in a state directory: the token's record (`CanaryTokenDirectory`), its file
/// in the decky's planted tree (`PlantedFiles`), with the mode such a file has and a modification time weeks in
/// the past, so it looks left behind rather than put there.
public struct CanaryPlanter: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Where tokens call home: the web server's base URL (`http://10.0.0.9`) and the DNS zone delegated to the
    /// `canary` service (`c.corp.example`).
    public struct Endpoint: Sendable, Equatable {
        public var baseURL: String?
        public var zone: String?

        public init(baseURL: String?, zone: String?) {
            self.baseURL = baseURL
            self.zone = zone
        }

        /// The first decky of the fleet serving `canary`: its address and its `canary_zone`.
        public init(fleet: Fleet?) {
            let decky = fleet?.deckies.first { $0.services.contains { $0.kind == "canary" } }
            let service = decky?.services.first { $0.kind == "canary" }
            let port = service?.ports.first { $0.transport == .tcp }?.number ?? 80
            self.baseURL = decky.map { "http://\($0.ip)" + (port == 80 ? "" : ":\(port)") }
            self.zone = service?.persona["canary_zone"]
        }
    }

    public let stateDirectory: String
    public let tokens: CanaryTokenDirectory

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
        self.tokens = CanaryTokenDirectory(stateDirectory: stateDirectory)
    }

    /// Plants a token of `kind` on `decky` (its host name, for the file's contents), at `path` or the kind's
    /// usual place; without a decky the token is only minted, and its file is what `file` returns. Document
    /// tokens are PDF when the path ends in `.pdf`, DOCX otherwise.
    public func plant(
        kind: CanaryToken.Kind,
        decky: String?,
        hostname: String,
        label: String,
        path: String?,
        endpoint: Endpoint,
        now: Date = Date()
    ) throws -> (token: CanaryToken, file: [UInt8]) {
        let path = path ?? CanaryArtifacts.defaultPath(for: kind, format: nil)
        guard PlantedFiles.isPlantable(path) else {
            throw Failure("--path \(path): expected an absolute path without . or .. parts, e.g. /root/notes.txt")
        }
        let id = CanaryToken.newID()
        var url: String?
        var dnsName: String?
        if kind == .dns {
            guard let zone = endpoint.zone?.trimmingCharacters(in: CharacterSet(charactersIn: ".")), !zone.isEmpty
            else {
                throw Failure(
                    "a dns token needs the canary zone: set canary_zone on the canary service of a decky, or pass --zone"
                )
            }
            dnsName = id + "." + zone.lowercased()
        } else {
            guard let base = endpoint.baseURL, let parsed = URL(string: base),
                ["http", "https"].contains(parsed.scheme)
            else {
                throw Failure(
                    "a \(kind.rawValue) token needs the canary web server: deploy a decky with the canary service, or pass --base-url"
                )
            }
            // What the reader asks for: a picture for a DOCX or an SVG, a page for a PDF's link.
            let suffix =
                switch kind {
                case .image: "/logo.png"
                case .document: path.lowercased().hasSuffix(".pdf") ? "/view" : "/logo.png"
                default: ""
                }
            url = base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/c/" + id + suffix
        }
        let token = CanaryToken(
            id: id,
            kind: kind,
            decky: decky,
            path: decky == nil ? nil : path,
            label: label,
            url: url,
            hostname: dnsName,
            created: now
        )
        // Weeks old, at a working hour (08:00-17:00 UTC): left behind, not just put there.
        let day = (now.timeIntervalSince1970 / 86_400).rounded(.down) - Double(Int.random(in: 20...60))
        let modified = Date(timeIntervalSince1970: day * 86_400 + 8 * 3600 + Double(Int.random(in: 0..<(9 * 3600))))
        let data = CanaryArtifacts.file(for: token, path: path, hostname: hostname, modified: modified)
        if let decky {
            let secret = [.url, .dns].contains(kind) || path.contains("/.ssh/")
            try PlantedFiles(root: PlantedFiles.root(stateDirectory: self.stateDirectory, decky: decky))
                .plant(data, at: path, mode: secret ? 0o600 : 0o644, modified: modified)
        }
        try self.tokens.save(token)
        return (token, data)
    }

    /// Revokes a token: it stays in the list (with its triggers) and is silent from now on; its file is removed
    /// from the decky.
    public func revoke(_ id: String, now: Date = Date()) throws -> CanaryToken {
        guard var token = self.tokens.token(id) else { throw Failure("no canary token \(id)") }
        if token.revoked == nil {
            token.revoked = now
            try self.tokens.save(token)
        }
        if let decky = token.decky, let path = token.path {
            PlantedFiles(root: PlantedFiles.root(stateDirectory: self.stateDirectory, decky: decky)).remove(path)
        }
        return token
    }
}
