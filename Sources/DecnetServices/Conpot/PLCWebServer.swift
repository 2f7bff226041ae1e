import DecnetCore
import DecnetServiceKit

/// The CPU's integrated web server (80): an S7-300/400's Portal pages (`/` redirects to `/Portal0000.htm`
/// with the bare "HTTP/1.0 302" nmap's Simatic S7-300 line matches) or an S7-1200's (`/Default.mwsl`), showing
/// the station's identity and live operating mode, with the login form whose posts are captured. HTTP/1.0, one
/// request per connection, as the embedded server answers.
struct PLCWebServer {
    let process: PLCProcess
    let users: AcceptedCredentials

    var persona: PLCPersona { self.process.persona }

    func respond(to request: PLCWebRequest) -> (response: [UInt8], events: [(EventID, EventFields)]) {
        var fields = EventFields()
        fields.add("command", attackerText: request.method)
        fields.add("args", attackerText: request.uri)
        if let agent = request.header("user-agent") { fields.add("user_agent", attackerText: agent) }
        if let host = request.header("host") { fields.add("host", attackerText: host) }
        var events: [(EventID, EventFields)] = [(.commandInput, fields)]
        let path = String(request.uri.prefix { $0 != "?" })
        let mwsl = self.persona.model.mwsl
        let head = request.method == "HEAD"
        switch (request.method, path) {
        case ("GET", "/"), ("HEAD", "/"):
            if mwsl {
                return (
                    Array(
                        "HTTP/1.0 302 Object Moved\r\nContent-Type:text/html\r\nContent-Length: 0\r\nConnection: close\r\nLocation: /Default.mwsl\r\n\r\n"
                            .utf8
                    ), events
                )
            }
            return (Self.error(302, "MOVED TEMPORARILY", path: "/", location: "/Portal0000.htm", head: head), events)
        case ("GET", "/Portal0000.htm"), ("HEAD", "/Portal0000.htm"), ("GET", "/Default.mwsl"),
            ("HEAD", "/Default.mwsl"), ("GET", "/Portal/Portal.mwsl"):
            return (Self.page(self.startPage(message: nil), head: head), events)
        case ("GET", "/Portal0001.htm"), ("GET", "/Portal/Identification.mwsl"):
            return (Self.page(self.identificationPage(), head: head), events)
        case ("POST", "/FormLogin"):
            let form = HTTPResponder.form(request.body)
            let user = form["Login"] ?? "", password = form["Password"] ?? ""
            var login = EventFields.login(
                username: Array(user.utf8),
                password: Array(password.utf8),
                method: "s7-web-form"
            )
            login.add("path", attackerText: path)
            let accepted = self.users.accepts(user: user, password: password)
            events.append((accepted ? .loginSuccess : .loginFailed, login))
            if accepted {
                return (
                    Self.error(
                        302,
                        "MOVED TEMPORARILY",
                        path: path,
                        location: mwsl ? "/Portal/Portal.mwsl" : "/Portal0000.htm",
                        head: false
                    ), events
                )
            }
            return (Self.page(self.startPage(message: "Login failed"), head: false), events)
        case ("GET", _), ("HEAD", _), ("POST", _):
            return (Self.error(404, "NOT FOUND", path: path, location: nil, head: head), events)
        default:
            return (Self.error(501, "NOT IMPLEMENTED", path: path, location: nil, head: false), events)
        }
    }

    /// The embedded server's error and redirect page: a bare status line, the path in the body.
    static func error(_ status: Int, _ reason: String, path: String, location: String?, head: Bool) -> [UInt8] {
        let body =
            "<HTML><HEAD><TITLE>Error</TITLE></HEAD>\r\n<BODY><CENTER><H2>\(HTMLText.escape(String(path.prefix(200))))<BR><BR>\(status) : \(reason)</H2></CENTER></BODY></HTML>"
        var text = "HTTP/1.0 \(status)\r\n"
        if let location { text += "Location: \(location)\r\n" }
        text += "Content-Type: text/html\r\n\r\n"
        return Array(text.utf8) + (head ? [] : Array(body.utf8))
    }

    /// A 400 for a request the server cannot read.
    static let badRequest = error(400, "BAD REQUEST", path: "", location: nil, head: false)

    static func page(_ html: String, head: Bool) -> [UInt8] {
        let header =
            "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nCache-Control: no-cache\r\nPragma: no-cache\r\nContent-Length: \(html.utf8.count)\r\n\r\n"
        return Array(header.utf8) + (head ? [] : Array(html.utf8))
    }

    private var title: String { HTMLText.escape(self.persona.systemName) }

    private func frame(_ heading: String, _ content: String) -> String {
        let persona = self.persona
        return """
            <!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
            <HTML><HEAD><META http-equiv="Content-Type" content="text/html; charset=utf-8">
            <TITLE>\(self.title)</TITLE><LINK rel="stylesheet" type="text/css" href="/Images/Siemens.css"></HEAD>
            <BODY><TABLE class="Header" width="100%"><TR><TD class="Logo">SIEMENS</TD>
            <TD class="Station">\(self.title) / \(HTMLText.escape(persona.moduleName))</TD>
            <TD class="Product">SIMATIC \(persona.model.family)</TD></TR></TABLE>
            <TABLE width="100%"><TR><TD class="Navigation" valign="top" width="180">
            <A href="\(persona.model.mwsl ? "/Portal/Portal.mwsl" : "/Portal0000.htm")">Start page</A><BR>
            <A href="\(persona.model.mwsl ? "/Portal/Identification.mwsl" : "/Portal0001.htm")">Identification</A><BR>
            <FORM method="POST" action="/FormLogin">User name<BR><INPUT type="text" name="Login" size="12"><BR>
            Password<BR><INPUT type="password" name="Password" size="12"><BR>
            <INPUT type="hidden" name="Redirection" value=""><INPUT type="submit" value="Login"></FORM>
            </TD><TD valign="top"><H1>\(heading)</H1>
            \(content)
            </TD></TR></TABLE></BODY></HTML>

            """
    }

    func startPage(message: String?) -> String {
        let persona = self.persona
        let running = self.process.running
        let notice = message.map { "<P class=\"Error\">\(HTMLText.escape($0))</P>" } ?? ""
        return self.frame(
            "Start page",
            """
            \(notice)<TABLE class="Data">
            <TR><TD>Station name:</TD><TD>\(self.title)</TD></TR>
            <TR><TD>Module name:</TD><TD>\(HTMLText.escape(persona.moduleName))</TD></TR>
            <TR><TD>Module type:</TD><TD>\(HTMLText.escape(persona.model.typeName))</TD></TR>
            <TR><TD>Plant designation:</TD><TD>\(HTMLText.escape(persona.plant))</TD></TR>
            <TR><TD>Operating mode:</TD><TD>\(running ? "RUN" : "STOP")</TD></TR>
            <TR><TD>Status:</TD><TD>\(running ? "OK" : "CPU in STOP")</TD></TR>
            </TABLE>
            """
        )
    }

    func identificationPage() -> String {
        let persona = self.persona
        return self.frame(
            "Identification",
            """
            <TABLE class="Data">
            <TR><TD>Order number:</TD><TD>\(persona.model.orderNumber)</TD></TR>
            <TR><TD>Serial number:</TD><TD>\(HTMLText.escape(persona.serial))</TD></TR>
            <TR><TD>Hardware:</TD><TD>\(persona.model.hardware)</TD></TR>
            <TR><TD>Firmware:</TD><TD>\(persona.firmwareText)</TD></TR>
            <TR><TD>Memory card:</TD><TD>\(HTMLText.escape(persona.memoryCard))</TD></TR>
            <TR><TD>Copyright:</TD><TD>Original Siemens Equipment</TD></TR>
            </TABLE>
            """
        )
    }
}
