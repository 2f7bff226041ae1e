import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A webhook receiver for tests: Python's http.server on a loopback port it picks, which answers 500 to its
/// first `failures` POSTs and 200 after, and logs every request (lower-cased headers and body).
public final class HTTPReceiver: @unchecked Sendable {
    let process = Process()
    let directory: TemporaryDirectory
    public let port: Int

    static let script = """
        import http.server, json, sys
        port_file, log_file, failures = sys.argv[1], sys.argv[2], int(sys.argv[3])
        seen = {"n": 0}
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                seen["n"] += 1
                with open(log_file, "a") as log:
                    log.write(json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode()}) + "\\n")
                self.send_response(500 if seen["n"] <= failures else 200)
                self.send_header("content-length", "0")
                self.end_headers()
            def log_message(self, *args):
                pass
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        open(port_file + ".tmp", "w").write(str(server.server_port))
        import os; os.rename(port_file + ".tmp", port_file)
        server.serve_forever()
        """

    public init(failures: Int = 0) async throws {
        self.directory = try TemporaryDirectory()
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        self.process.arguments = [
            "python3", "-c", Self.script, self.directory.path + "/port", self.directory.path + "/log", String(failures),
        ]
        try self.process.run()
        var port = 0
        for _ in 0..<100 where port == 0 {
            port = Int((try? String(contentsOfFile: self.directory.path + "/port", encoding: .utf8)) ?? "") ?? 0
            if port == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
        self.port = port
    }

    public var url: String { "http://127.0.0.1:\(self.port)/hook" }

    public var requests: [[String: Any]] {
        ((try? String(contentsOfFile: self.directory.path + "/log", encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
    }

    public func stop() {
        // SIGKILL: a child started from a test thread inherits its blocked signals, SIGTERM among them.
        kill(self.process.processIdentifier, SIGKILL)
        self.process.waitUntilExit()
        self.directory.remove()
    }
}
