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
        /// The server closes the connection after this response whatever the client asked (Apache's 501).
        var close = false

        var payload: [UInt8] { self.bytes ?? Array(self.body.utf8) }

        static func == (lhs: Response, rhs: Response) -> Bool {
            lhs.status == rhs.status && lhs.payload == rhs.payload
                && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
        }
    }

    let configuration: HTTPService.Configuration
    let port: Int
    /// The name Apache gives itself in error pages when the client sent no Host (its ServerName, guessed from the
    /// host's address): the decky's address.
    var serverAddress = "127.0.0.1"
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
            return (self.error(413, request), events)
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
        let method = request.method
        let family = self.configuration.family
        if let answer = self.methodAnswer(request, family: family) { return (answer, []) }
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
                return (self.error(404, request), [])
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
                return (self.error(404, request), [])
            }
        case .none:
            let index = path == "/" || path == "/index.html"
            // nginx's static module takes GET and HEAD (POST to a file is 405), and refuses other methods before
            // it looks for the file; Apache's default handler serves a file to GET, HEAD and POST, and answers
            // other methods 405 for a file that exists (404 otherwise).
            let serves = method == "GET" || method == "HEAD" || (method == "POST" && family == .apache)
            if serves {
                guard index else { return (self.error(404, request), []) }
                let status = self.configuration.responseCode
                guard status == 200 else { return (self.error(status, request), []) }
                // A static index.html: the server's type for .html files, without a charset, and the file's time.
                let page = HTTPPages.defaultPage(server: self.configuration.server)
                let file = self.staticFile(page.utf8.count, type: "text/html", modified: self.configuration.installed)
                return (Response(status: 200, headers: file.headers, body: page), [])
            }
            if method == "POST" { return (self.error(index ? 405 : 404, request), []) }
            return (self.error(index || family != .apache ? 405 : 404, request), [])
        }
    }

    /// Apache's answers to OPTIONS and to methods it does not know (whatever the path), and nginx's 405 for a
    /// method that is not HTTP's; nil when the request goes on to its route.
    private func methodAnswer(_ request: Request, family: HTTPPages.Family) -> Response? {
        let method = request.method
        let known = ["GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"]
        switch family {
        case .apache:
            if method == "OPTIONS" {
                if request.uri == "*" { return Response(status: 200, headers: [], body: "") }
                return Response(
                    status: 200,
                    headers: [("Allow", "GET,POST,OPTIONS,HEAD"), ("Content-Type", "text/html")],
                    body: ""
                )
            }
            let apacheKnown =
                known + ["CONNECT", "TRACE", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"]
            guard apacheKnown.contains(method) else {
                var answer = self.error(501, request)
                answer.headers.insert(("Allow", "GET,POST,OPTIONS,HEAD"), at: 0)
                answer.close = true
                return answer
            }
            return nil
        case .nginx, .go, .other, .iis:
            return known.contains(method) ? nil : self.error(405, request)
        }
    }

    /// A static file as the family's server sends it: its type, time, entity tag (nginx: mtime-size, Apache:
    /// size-mtime in microseconds), byte ranges, and Apache's Vary for types mod_deflate compresses.
    func staticFile(_ size: Int, type: String, modified: Date, body: String = "", bytes: [UInt8]? = nil) -> Response {
        let seconds = Int(modified.timeIntervalSince1970)
        var headers = [("Content-Type", type), ("Last-Modified", HTTPService.httpDate(modified))]
        switch self.configuration.family {
        case .apache:
            headers.append(("ETag", "\"\(String(size, radix: 16))-\(String(seconds * 1_000_000, radix: 16))\""))
            headers.append(("Accept-Ranges", "bytes"))
            if type.hasPrefix("text/")
                || ["application/javascript", "application/json", "application/xml"].contains(type)
            {
                headers.append(("Vary", "Accept-Encoding"))
            }
        case .nginx, .go, .other:
            headers.append(("ETag", "\"\(String(seconds, radix: 16))-\(String(size, radix: 16))\""))
            headers.append(("Accept-Ranges", "bytes"))
        case .iis:
            headers.append(("Accept-Ranges", "bytes"))
            headers.append(("ETag", "\"\(String(seconds, radix: 16))0000000:0\""))
        }
        return Response(status: 200, headers: headers, body: body, bytes: bytes)
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

    /// The family's error page for `status`; Apache names the Host the client asked for, or its own address.
    func error(_ status: Int, _ request: Request? = nil) -> Response {
        let host = request?.header("Host").map { String($0.prefix { $0 != ":" }) }
        return self.error(status, host: host, method: request?.method ?? "GET")
    }

    func error(_ status: Int, host: String?, method: String) -> Response {
        Response(
            status: status,
            headers: [("Content-Type", HTTPPages.errorContentType(self.configuration.family))],
            body: HTTPPages.error(
                status,
                server: self.configuration.server,
                host: host.flatMap { $0.isEmpty ? nil : $0 } ?? self.serverAddress,
                port: self.port,
                method: method
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
