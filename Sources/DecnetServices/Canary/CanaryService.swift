import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOHTTP1

/// The `canary` service: where planted canary tokens call home. On TCP 80 (443 with TLS) it is the `http`
/// honeypot (nginx by default, the same persona keys) that also answers `/c/<id>` for every token of the state
/// directory; on UDP 53 (`CanaryDNSService`) it is the authoritative name server of the operator's canary zone
/// (`canary_zone`), where `<id>.<zone>` resolves. A request for an active token is a `canary.triggered` event
/// naming the token, where it was planted, and who asked and how; a revoked or unknown one gets what any missing
/// page or name gets, and no trigger.
public struct CanaryService: HoneypotService {
    public static let kind: ServiceKind = "canary"

    let web: HTTPService

    public init(context: ServiceContext) throws {
        self.web = try HTTPService(context: context)
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try self.web.configure(channel, port: port)
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(
        _ connection: Connection<HTTPServerRequestPart, HTTPServerResponsePart>,
        session: SessionEvents
    ) async throws {
        try await self.web.handle(connection, session: session)
    }

    /// A transparent 1×1 GIF (43 bytes): what a web bug answers, so an image reference renders as nothing.
    static let pixel: [UInt8] = [
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF,
        0xFF, 0x21, 0xF9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
        0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B,
    ]

    /// The fields of a trigger: the token and where it was planted, then how it was used (`via` and the caller's
    /// own fields).
    static func trigger(_ token: CanaryToken, via: String) -> EventFields {
        var fields = EventFields()
        fields.add("token", token.id)
        fields.add("token_kind", token.kind.rawValue)
        fields.add("label", token.label)
        if let decky = token.decky { fields.add("planted_decky", decky) }
        if let path = token.path { fields.add("planted_path", path) }
        fields.add("via", via)
        return fields
    }

    /// The token id in a URL path `/c/<id>`, `/c/<id>/…` or `/c/<id>.<extension>`.
    static func tokenID(inPath path: String) -> Substring? {
        guard path.hasPrefix("/c/") else { return nil }
        let rest = path.dropFirst(3)
        let id = rest.prefix(20)
        guard CanaryToken.isID(id) else { return nil }
        let after = rest.dropFirst(20).first
        return after == nil || after == "/" || after == "." ? id : nil
    }
}

extension HTTPResponder {
    /// `/c/<id>` of an active token: the pixel (or 204 for a client that accepts no image) and a trigger.
    /// Anything else under `/c/` falls through to the server's 404.
    func canaryResponse(_ request: Request) -> (Response, [(EventID, EventFields)])? {
        guard let canary = self.canary, let id = CanaryService.tokenID(inPath: request.path),
            let token = canary.token(id), token.isActive
        else { return nil }
        var fields = CanaryService.trigger(token, via: "http")
        fields.add("method", attackerText: request.method)
        fields.add("url", attackerText: request.uri)
        if let agent = request.header("User-Agent") { fields.add("user_agent", attackerText: agent) }
        if let referer = request.header("Referer") { fields.add("referer", attackerText: referer) }
        if let forwarded = request.header("X-Forwarded-For") { fields.add("forwarded_for", attackerText: forwarded) }
        let accept = request.header("Accept")?.lowercased() ?? "*/*"
        let image = accept.contains("image/") || accept.contains("*/*")
        let response = Response(
            status: image ? 200 : 204,
            headers: image
                ? [("Content-Type", "image/gif"), ("Cache-Control", "no-store, max-age=0")]
                : [("Cache-Control", "no-store, max-age=0")],
            body: "",
            bytes: image ? CanaryService.pixel : []
        )
        return (response, [(.canaryTriggered, fields)])
    }

    /// A file planted under the decky's `/var/www/html/`, served at its path (GET and HEAD), with its time.
    func plantedResponse(_ request: Request) -> (Response, [(EventID, EventFields)])? {
        guard ["GET", "HEAD"].contains(request.method.uppercased()), self.planted.root != nil else { return nil }
        var path = FTPFileSystem.resolve(Self.percentDecoded(Array(request.path.utf8)[...]), from: "/")
        if request.path.hasSuffix("/") { path = (path == "/" ? "" : path) + "/index.html" }
        guard let file = self.planted.file(at: "/var/www/html" + path), let data = file.contents() else { return nil }
        var fields = EventFields()
        fields.add("filename", file.path)
        fields.add("url", attackerText: request.uri)
        let response = self.staticFile(
            data.count,
            type: Self.contentType(file.name),
            modified: file.modified,
            bytes: data
        )
        return (response, [(.fileDownload, fields)])
    }

    /// The media type nginx's mime.types gives a file name's extension.
    static func contentType(_ name: String) -> String {
        let types = [
            "html": "text/html", "htm": "text/html", "txt": "text/plain", "css": "text/css",
            "js": "application/javascript", "json": "application/json", "xml": "text/xml", "pdf": "application/pdf",
            "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "svg": "image/svg+xml",
            "png": "image/png", "gif": "image/gif", "jpg": "image/jpeg", "jpeg": "image/jpeg", "zip": "application/zip",
        ]
        let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        return name.contains(".") ? types[ext] ?? "application/octet-stream" : "application/octet-stream"
    }
}
