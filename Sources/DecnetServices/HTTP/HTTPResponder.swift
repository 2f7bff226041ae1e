import DecnetCore
import DecnetServiceKit
import Foundation

/// Turns one complete request into one response and its events, without I/O: the persona's pages, error pages
/// and `fake_app` logins (whose form posts, `Authorization: Basic` headers and XML-RPC calls are credentials).
struct HTTPResponder {
    /// A request as the connection assembled it.
    struct Request: Equatable {
        var method: String
        var uri: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        /// The body outgrew the limit (it was not kept).
        var bodyTooLarge = false

        func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        var path: String { String(self.uri.prefix { $0 != "?" }) }

        static func == (lhs: Request, rhs: Request) -> Bool {
            lhs.method == rhs.method && lhs.uri == rhs.uri && lhs.body == rhs.body
                && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
        }
    }

    /// What goes back.
    struct Response: Equatable {
        var status: Int
        var headers: [(String, String)]
        var body: String
        /// A body that is not text (a planted document, the canary's image); sent instead of `body`.
        var bytes: [UInt8]? = nil

        var payload: [UInt8] { self.bytes ?? Array(self.body.utf8) }

        static func == (lhs: Response, rhs: Response) -> Bool {
            lhs.status == rhs.status && lhs.payload == rhs.payload
                && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
        }
    }

    let configuration: HTTPService.Configuration
    let port: Int
    /// Files planted under the decky's `/var/www/html/`, served at their path.
    var planted = PlantedFiles(root: nil)
    /// The canary tokens whose URLs (`/c/<id>`) this server answers; nil for a plain web server.
    var canary: CanaryTokenLookup? = nil

    func respond(to request: Request) -> (Response, [(EventID, EventFields)]) {
        var events: [(EventID, EventFields)] = []
        var fields = EventFields()
        fields.add("command", attackerText: request.method)
        fields.add("args", attackerText: request.uri)
        if let agent = request.header("User-Agent") { fields.add("user_agent", attackerText: agent) }
        if let host = request.header("Host") { fields.add("host", attackerText: host) }
        events.append((.commandInput, fields))

        if let credentials = Self.basicCredentials(request.header("Authorization")) {
            events.append(self.login(credentials.user, credentials.password, method: "http-basic"))
        }
        if request.bodyTooLarge {
            return (self.error(413), events)
        }
        let (response, more) =
            self.canaryResponse(request) ?? self.plantedResponse(request) ?? self.route(request)
        events += more
        if !request.body.isEmpty && !more.contains(where: { $0.0 == .loginFailed || $0.0 == .loginSuccess }) {
            var payload = EventFields()
            payload.add("kind", "http-body")
            payload.add("size", String(request.body.count))
            payload.add("sha256", ArtifactStore.sha256(request.body))
            payload.add("preview", attackerBytes: request.body.prefix(200))
            events.append((.payloadReceived, payload))
        }
        return (response, events)
    }

    private func route(_ request: Request) -> (Response, [(EventID, EventFields)]) {
        let path = request.path
        let method = request.method.uppercased()
        guard ["GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"].contains(method) else {
            return (self.error(method.allSatisfy({ $0.isLetter }) ? 405 : 400), [])
        }
        switch self.configuration.fakeApp {
        case .wordpress:
            switch (method, path) {
            case ("GET", "/"), ("HEAD", "/"):
                return (self.page(HTTPPages.wordpressHome(site: self.configuration.siteName)), [])
            case ("GET", "/wp-login.php"):
                return (self.page(HTTPPages.wordpressLogin(site: self.configuration.siteName, error: nil)), [])
            case ("POST", "/wp-login.php"):
                let form = Self.form(request.body)
                let user = form["log"] ?? ""
                let event = self.login(user, form["pwd"] ?? "", method: "wordpress-form")
                if event.0 == .loginSuccess {
                    return (Response(status: 302, headers: [("Location", "/wp-admin/")], body: ""), [event])
                }
                let message =
                    "<strong>Error:</strong> The password you entered for the username <strong>\(Self.escapeHTML(user))</strong> is incorrect. <a href=\"/wp-login.php?action=lostpassword\">Lost your password?</a>"
                return (self.page(HTTPPages.wordpressLogin(site: self.configuration.siteName, error: message)), [event])
            case ("POST", "/xmlrpc.php"):
                let body = String(decoding: request.body, as: UTF8.self)
                var events: [(EventID, EventFields)] = []
                let strings = Self.xmlStrings(body)
                if body.contains("<methodName>wp.getUsersBlogs</methodName>")
                    || body.contains("<methodName>wp.getProfile</methodName>"), strings.count >= 2
                {
                    events.append(self.login(strings[0], strings[1], method: "wordpress-xmlrpc"))
                }
                let fault =
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse>\n  <fault>\n    <value>\n      <struct>\n        <member>\n          <name>faultCode</name>\n          <value><int>403</int></value>\n        </member>\n        <member>\n          <name>faultString</name>\n          <value><string>Incorrect username or password.</string></value>\n        </member>\n      </struct>\n    </value>\n  </fault>\n</methodResponse>\n"
                return (
                    Response(status: 200, headers: [("Content-Type", "text/xml; charset=UTF-8")], body: fault), events
                )
            case (_, let path) where path.hasPrefix("/wp-admin"):
                return (
                    Response(
                        status: 302,
                        headers: [("Location", "/wp-login.php?redirect_to=%2Fwp-admin%2F&reauth=1")],
                        body: ""
                    ), []
                )
            default:
                return (self.error(404), [])
            }
        case .admin:
            switch (method, path) {
            case ("GET", "/"), ("HEAD", "/"):
                return (Response(status: 302, headers: [("Location", "/login")], body: ""), [])
            case ("GET", "/login"):
                return (self.page(HTTPPages.adminLogin(error: nil)), [])
            case ("POST", "/login"):
                let form = Self.form(request.body)
                let event = self.login(form["username"] ?? "", form["password"] ?? "", method: "admin-form")
                if event.0 == .loginSuccess {
                    return (Response(status: 302, headers: [("Location", "/dashboard")], body: ""), [event])
                }
                return (self.page(HTTPPages.adminLogin(error: "Invalid username or password.")), [event])
            default:
                return (self.error(404), [])
            }
        case .none:
            switch (method, path) {
            case ("GET", "/"), ("HEAD", "/"), ("GET", "/index.html"):
                let status = self.configuration.responseCode
                if status == 200 {
                    // A static index.html: the server's type for .html files, without a charset.
                    var page = self.page(HTTPPages.defaultPage(server: self.configuration.server))
                    page.headers = [("Content-Type", "text/html")]
                    return (page, [])
                }
                return (self.error(status), [])
            default:
                return (self.error(404), [])
            }
        }
    }

    private func login(_ user: String, _ password: String, method: String) -> (EventID, EventFields) {
        var fields = EventFields()
        fields.add("username", attackerText: user)
        fields.add("password", attackerText: password, secret: true)
        fields.add("method", method)
        let accepted = self.configuration.users.accepts(user: user, password: password)
        return (accepted ? .loginSuccess : .loginFailed, fields)
    }

    private func page(_ html: String) -> Response {
        Response(status: 200, headers: [("Content-Type", "text/html; charset=UTF-8")], body: html)
    }

    func error(_ status: Int) -> Response {
        Response(
            status: status,
            headers: [("Content-Type", "text/html")],
            body: HTTPPages.error(
                status,
                server: self.configuration.server,
                host: self.configuration.hostname,
                port: self.port
            )
        )
    }

    /// `Basic dXNlcjpwYXNz` → user, pass.
    static func basicCredentials(_ header: String?) -> (user: String, password: String)? {
        guard let header, header.lowercased().hasPrefix("basic "),
            let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingWhitespace())
        else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let colon = text.firstIndex(of: ":") else { return (text, "") }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// `application/x-www-form-urlencoded` fields (`+` is a space, `%XX` escapes).
    static func form(_ body: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: UInt8(ascii: "&")).prefix(64) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let key = self.percentDecoded(parts[0])
            if fields[key] == nil { fields[key] = parts.count > 1 ? self.percentDecoded(parts[1]) : "" }
        }
        return fields
    }

    static func percentDecoded(_ bytes: ArraySlice<UInt8>) -> String {
        var output: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                output.append(0x20)
            } else if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
                let value = UInt8(String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)
            {
                output.append(value)
                index += 2
            } else {
                output.append(byte)
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The `<string>` values of an XML-RPC call, in order (enough for `wp.getUsersBlogs(user, password)`).
    static func xmlStrings(_ xml: String) -> [String] {
        var values: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<string>"),
            let close = rest.range(of: "</string>", range: open.upperBound..<rest.endIndex), values.count < 8
        {
            values.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return values
    }

    static func escapeHTML(_ text: String) -> String { HTMLText.escape(text) }
}
