import NIOCore
import NIOHTTP1

/// How the apiserver reads NIO's request parts (`K8sService.serve`, and the fuzz entry that mirrors it): Go's
/// refusal of an HTTP/1.1 request without Host, and the body bound (past `K8sService.maximumBody` the body is
/// dropped and the request flagged, for the API's 413).
struct K8sRequestReader {
    enum Step {
        /// Nothing to do yet.
        case reading
        /// An HTTP/1.1 request without Host: Go answers 400 and closes.
        case missingHost(HTTPRequestHead)
        /// A whole request.
        case request(HTTPRequestHead, body: [UInt8], tooLarge: Bool)
    }

    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    mutating func read(_ part: HTTPServerRequestPart) -> Step {
        switch part {
        case .head(let requestHead):
            self.head = requestHead
            self.body = []
            self.tooLarge = false
            if requestHead.version.major == 1, requestHead.version.minor >= 1,
                !requestHead.headers.contains(name: "Host")
            {
                return .missingHost(requestHead)
            }
        case .body(let chunk):
            if self.body.count + chunk.readableBytes > K8sService.maximumBody {
                self.tooLarge = true
                self.body = []
            } else if !self.tooLarge {
                self.body.append(contentsOf: chunk.readableBytesView)
            }
        case .end:
            guard let request = self.head else { return .reading }
            self.head = nil
            defer { self.body = [] }
            return .request(request, body: self.body, tooLarge: self.tooLarge)
        }
        return .reading
    }

    /// Whether the request asks to upgrade (the parser stops after it: unless upgraded, the connection ends).
    static func upgrading(_ request: HTTPRequestHead) -> Bool {
        request.headers.contains(name: "Upgrade")
            && request.headers[canonicalForm: "Connection"].contains { $0.lowercased() == "upgrade" }
    }
}

extension K8sAPI.Request {
    init(
        _ head: HTTPRequestHead,
        body: [UInt8],
        tooLarge: Bool,
        clientCertificate: K8sClientCertificate?,
        insecurePort: Bool
    ) {
        self.init(
            method: head.method.rawValue,
            uri: head.uri,
            headers: head.headers.map { (name: $0.name, value: $0.value) },
            body: body,
            bodyTooLarge: tooLarge,
            clientCertificate: clientCertificate,
            insecurePort: insecurePort
        )
    }
}
