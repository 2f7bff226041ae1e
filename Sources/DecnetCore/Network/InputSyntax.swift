/// Syntax checks for names and addresses operators type.
public enum InputSyntax {
    /// A Linux interface name: 1–15 bytes, no `/`, `:` or whitespace (the kernel's `dev_valid_name`).
    public static func isInterfaceName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 15 && text != "." && text != ".."
            && !text.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace })
    }

    /// A decky or custom-service name: ASCII letters, digits, `-` and `_`, starting with a letter or digit.
    public static func isName(_ text: String) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first.isNumber else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// An RFC 1123 hostname: dot-separated labels of letters, digits and inner hyphens, ≤ 63 each, ≤ 253 total.
    public static func isHostname(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }

    /// `ip:port` with an IPv4 address and a port 1–65535.
    public static func isHostPort(_ text: String) -> Bool {
        self.hostPort(text) != nil
    }

    /// What is wrong with a `log_target` / `--log-target` value, or nil. Plain syslog leaves the host only
    /// through loopback (the seed's rule); another host is reached over RFC 5425 with `decnet forwarder`.
    public static func logTargetProblem(_ text: String) -> String? {
        guard let (host, port) = self.hostPort(text) else {
            return "'\(text)' is not ip:port; expected e.g. 127.0.0.1:5140"
        }
        guard host.isLoopback else {
            return
                "'\(text)' is not on loopback: plain syslog only goes to 127.0.0.0/8; for another host run `decnet forwarder start --target \(host):6514` (RFC 5425, mutual TLS)"
        }
        _ = port
        return nil
    }

    /// Splits `ip:port`.
    public static func hostPort(_ text: String) -> (host: IPv4Address, port: UInt16)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let host = IPv4Address(String(parts[0])), parts[1].allSatisfy(\.isASCIIDigit),
            let port = UInt16(parts[1]), port > 0
        else { return nil }
        return (host, port)
    }
}
