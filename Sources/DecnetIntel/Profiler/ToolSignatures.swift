import Foundation

/// What names a tool in an attacker's events: one entry per signature, each with where it comes from, so a tool
/// guess can cite the entry it matched. Entries come from the tools' own source code (the strings they send) or
/// were measured here from Debian's packages; none is copied from a list under a licence that would forbid it.
public struct ToolSignature: Sendable, Equatable {
    /// Which event field the pattern is matched against.
    public enum Field: String, Sendable {
        /// HTTP User-Agent (`user_agent` of any HTTP-based service, SIP's User-Agent).
        case userAgent = "user_agent"
        /// The SSH client's identification string (`client_version`).
        case sshClient = "client_version"
        /// A database or broker client's self-description (`driver`, `client`, `client_id`, `application`).
        case clientName = "client_name"
        /// The packet layer's scan classification (`scan.detected`'s `tool`).
        case scanTool = "scan_tool"
        /// The attacker's TCP/IP stack as the packet layer names it (`client.fingerprint`'s `tool`).
        case tcpStack = "tcp_stack"
        /// The SSH client's HASSH (its KEXINIT's algorithm lists): what the client is, whatever banner it sends.
        case hassh
        /// The TLS ClientHello's JA4 (FoxIO's JA4, computed by the TLS services).
        case ja4
    }

    public enum Match: Sendable, Equatable {
        case prefix(String)
        case contains(String)
        case exact(String)

        func matches(_ value: String) -> Bool {
            switch self {
            case .prefix(let text): value.hasPrefix(text)
            case .contains(let text): value.range(of: text, options: .caseInsensitive) != nil
            case .exact(let text): value == text
            }
        }

        var description: String {
            switch self {
            case .prefix(let text): "begins with \"\(text)\""
            case .contains(let text): "contains \"\(text)\""
            case .exact(let text): "is \"\(text)\""
            }
        }
    }

    public let tool: String
    public let field: Field
    public let match: Match
    /// Where the entry comes from.
    public let source: String

    public init(_ tool: String, _ field: Field, _ match: Match, source: String) {
        self.tool = tool
        self.field = field
        self.match = match
        self.source = source
    }
}

extension ToolSignature {
    /// The table, in the order it is tried (more specific entries first).
    public static let table: [ToolSignature] = [
        // HTTP clients and scanners, by the User-Agent each sends unless told otherwise.
        ToolSignature(
            "nmap",
            .userAgent,
            .contains("Nmap Scripting Engine"),
            source: "nmap 7.93 nselib/http.lua USER_AGENT"
        ),
        ToolSignature("masscan", .userAgent, .prefix("masscan/"), source: "Debian masscan 1.3 (strings of the binary)"),
        ToolSignature("zgrab", .userAgent, .contains("zgrab/"), source: "zgrab2's default User-Agent (its source)"),
        ToolSignature("sqlmap", .userAgent, .prefix("sqlmap/"), source: "sqlmap's DEFAULT_USER_AGENT (its source)"),
        ToolSignature("nikto", .userAgent, .contains("(Nikto/"), source: "nikto's default USERAGENT (its source)"),
        ToolSignature(
            "gobuster",
            .userAgent,
            .prefix("gobuster/"),
            source: "gobuster's default User-Agent (its source)"
        ),
        ToolSignature(
            "hydra",
            .userAgent,
            .exact("Mozilla/4.0 (Hydra)"),
            source: "Debian hydra 9.4 (strings of the binary)"
        ),
        ToolSignature("curl", .userAgent, .prefix("curl/"), source: "curl's default User-Agent, curl/VERSION"),
        ToolSignature("wget", .userAgent, .prefix("Wget/"), source: "Debian wget (strings of the binary: Wget/%s)"),
        ToolSignature(
            "python-requests",
            .userAgent,
            .prefix("python-requests/"),
            source: "requests.utils.default_user_agent()"
        ),
        ToolSignature(
            "Go net/http",
            .userAgent,
            .prefix("Go-http-client/"),
            source: "Go net/http's default User-Agent"
        ),
        ToolSignature("docker CLI", .userAgent, .prefix("Docker-Client/"), source: "measured here: docker CLI 28.2.2"),
        ToolSignature("kubectl", .userAgent, .prefix("kubectl/"), source: "measured here: kubectl 1.32 (client-go)"),
        ToolSignature(
            "elasticsearch-py",
            .userAgent,
            .prefix("elasticsearch-py/"),
            source: "measured here: elasticsearch-py 8.19"
        ),
        // SIP scanners and clients.
        ToolSignature(
            "SIPVicious",
            .userAgent,
            .exact("friendly-scanner"),
            source: "sipvicious 0.3.4 libs/svhelper.py"
        ),
        ToolSignature("sipsak", .userAgent, .prefix("sipsak"), source: "Debian sipsak 0.9.8.1 (strings of the binary)"),
        // SSH clients by their identification string (RFC 4253 §4.2 softwareversion).
        ToolSignature(
            "libssh (hydra, nmap's ssh scripts)",
            .sshClient,
            .prefix("SSH-2.0-libssh_"),
            source: "measured here: Debian hydra 9.4 on libssh 0.10.6"
        ),
        ToolSignature(
            "libssh2",
            .sshClient,
            .prefix("SSH-2.0-libssh2_"),
            source: "libssh2's default banner (its source)"
        ),
        ToolSignature(
            "paramiko",
            .sshClient,
            .prefix("SSH-2.0-paramiko_"),
            source: "Debian python3-paramiko transport.py _CLIENT_ID"
        ),
        ToolSignature(
            "Go x/crypto/ssh",
            .sshClient,
            .prefix("SSH-2.0-Go"),
            source: "golang.org/x/crypto/ssh's client version"
        ),
        ToolSignature("PuTTY", .sshClient, .prefix("SSH-2.0-PuTTY"), source: "PuTTY's version string (its source)"),
        ToolSignature(
            "OpenSSH client",
            .sshClient,
            .prefix("SSH-2.0-OpenSSH_"),
            source: "measured here: Debian OpenSSH 9.2p1"
        ),
        // SSH clients by their HASSH, which a changed banner does not change.
        ToolSignature(
            "libssh (hydra, nmap's ssh scripts)",
            .hassh,
            .exact("be31134219a24899a8a0c29c7797ba94"),
            source: "measured here: Debian hydra 9.4 on libssh 0.10.6 against a decky (client.fingerprint)"
        ),
        ToolSignature(
            "paramiko",
            .hassh,
            .exact("a704be057881f0b1d623cd263e477a8b"),
            source: "measured here: Debian python3-paramiko 2.12.0 against a decky (client.fingerprint)"
        ),
        ToolSignature(
            "OpenSSH client",
            .hassh,
            .exact("472b5de333ad665af5cbf10ff892c4df"),
            source: "measured here: Debian OpenSSH 9.2p1 client against a decky (client.fingerprint)"
        ),
        // TLS clients by their JA4, connecting to an address (no SNI; with a name the extension count differs).
        ToolSignature(
            "curl",
            .ja4,
            .exact("t13i3111h2_e8f1e7e78f70_b26ce05bbdd6"),
            source: "measured here: Debian curl 7.88.1 (OpenSSL 3.0) to https://127.0.0.1"
        ),
        ToolSignature(
            "python-requests",
            .ja4,
            .exact("t13i4311h1_c7886603b240_b26ce05bbdd6"),
            source: "measured here: Debian python3-requests 2.28.1 (urllib3, OpenSSL 3.0) to https://127.0.0.1"
        ),
        ToolSignature(
            "Python urllib",
            .ja4,
            .exact("t13i311000_e8f1e7e78f70_d41ae481755e"),
            source: "measured here: Debian Python 3.11 urllib.request to https://127.0.0.1"
        ),
        // Database and cluster drivers by the name they give themselves.
        ToolSignature(
            "pymongo",
            .clientName,
            .prefix("PyMongo"),
            source: "pymongo 4.20 pool_options.py driver metadata"
        ),
        ToolSignature(
            "libmongoc (hydra's mongodb module)",
            .clientName,
            .prefix("mongoc"),
            source: "Debian libmongoc 1.23 (strings of the library)"
        ),
    ]

    /// The first entry that matches a value of this field, if any.
    static func first(_ field: Field, _ value: String) -> ToolSignature? {
        Self.table.first { $0.field == field && $0.match.matches(value) }
    }
}
