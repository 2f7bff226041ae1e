import Foundation

/// An agent's heartbeat on its RFC 5425 link to the master: an RFC 5424 message of its own (APP-NAME
/// `decnet-agent`, MSGID `heartbeat`, the interval in its structured data) that the master's listener takes for
/// what it is and never writes to the event log. Who sent it is not in it: the listener knows the host by its
/// pinned certificate.
///
/// A host is up while its heartbeats keep coming: one missed `misses` intervals in a row makes it down.
public enum SwarmHeartbeat {
    public static let appName = "decnet-agent"
    public static let messageID = "heartbeat"
    /// Intervals without a heartbeat before a host counts as down.
    public static let misses = 3

    /// The message for one heartbeat (no framing, no newline).
    public static func message(host: String, interval: Duration, now: Date = Date()) -> [UInt8] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        let name =
            host.isEmpty ? "-" : String(host.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }.prefix(255))
        return Array(
            "<134>1 \(formatter.string(from: now)) \(name) \(Self.appName) - \(Self.messageID) [decnet-heartbeat@32473 interval=\"\(seconds)\"]"
                .utf8
        )
    }

    /// The interval a heartbeat message states, in seconds; nil for any other message.
    public static func interval(in message: some Collection<UInt8>) -> Double? {
        // `<PRI>1 TIMESTAMP HOSTNAME decnet-agent - heartbeat [decnet-heartbeat@32473 interval="N"]`
        let text = String(decoding: message.prefix(512), as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: false)
        guard parts.count == 7, parts[3] == Self.appName, parts[5] == Self.messageID,
            let start = parts[6].range(of: "interval=\""),
            let end = parts[6][start.upperBound...].firstIndex(of: "\""),
            let seconds = Double(parts[6][start.upperBound..<end]), seconds > 0, seconds <= 3600
        else { return nil }
        return seconds
    }
}
