import DecnetCore
import Foundation

/// How the packet layer's findings become events: `scan.detected`, `scan.progress` and `scan.ended` for scans,
/// `client.fingerprint` for the attacker's TCP/IP stack. They are bound to the decky the report is about, with
/// the service `sniffer` (the seed's name for this layer) and the scan id as the session.
public enum ScanEvents {
    public static let service: ServiceKind = "sniffer"

    /// The event for one scan report.
    public static func event(_ report: ScanReport, hostname: String) -> HoneypotEvent {
        let id: EventID =
            switch report.phase {
            case .detected: .scanDetected
            case .progress: .scanProgress
            case .ended: .scanEnded
            }
        var fields: [EventField] = [
            EventField("scan_id", report.scanID),
            EventField("scan_type", report.type.rawValue),
            EventField("scan_types", report.types.map(\.rawValue).joined(separator: ",")),
        ]
        if let tool = report.tool { fields.append(EventField("tool", tool)) }
        if let basis = report.toolBasis { fields.append(EventField("tool_basis", basis)) }
        fields += [
            EventField("deckies", report.deckies.joined(separator: ",")),
            EventField("decky_count", String(report.deckyCount)),
            EventField("ports", String(report.deckyPortCount)),
            EventField("port_sample", report.portSample.map(String.init).joined(separator: ",")),
            EventField("targets", String(report.targetCount)),
            EventField("packets", String(report.packets)),
            EventField("peak_pps", String(report.peakRate)),
            EventField("first_seen", Self.timestamp(report.firstSeen)),
            EventField("last_seen", Self.timestamp(report.lastSeen)),
            EventField("duration_ms", String(Int(((report.lastSeen - report.firstSeen) * 1000).rounded()))),
        ]
        return HoneypotEvent(
            time: Date(timeIntervalSince1970: report.lastSeen),
            id: id,
            decky: report.decky,
            hostname: hostname,
            service: Self.service,
            session: report.scanID,
            source: Endpoint(ip: IPv4Address(report.source).description, port: Int(report.sourcePort)),
            destination: Endpoint(ip: IPv4Address(report.deckyAddress).description, port: Int(report.port)),
            fields: fields
        )
    }

    /// The `client.fingerprint` event for the stack behind a SYN.
    public static func event(_ report: FingerprintReport, hostname: String, at time: Double) -> HoneypotEvent {
        let fingerprint = report.fingerprint
        var fields: [EventField] = [
            EventField("client", fingerprint.tool ?? fingerprint.osFamily ?? "unknown"),
            EventField("ja4t", fingerprint.ja4t),
            EventField("tcp_signature", fingerprint.signature),
        ]
        if let family = fingerprint.osFamily { fields.append(EventField("os_guess", family)) }
        if let tool = fingerprint.tool { fields.append(EventField("tool", tool)) }
        fields += [
            EventField("os_basis", fingerprint.basis),
            EventField("initial_ttl", String(fingerprint.initialTTL)),
            EventField("hops", String(fingerprint.distance)),
        ]
        return HoneypotEvent(
            time: Date(timeIntervalSince1970: time),
            id: .clientFingerprint,
            decky: report.decky,
            hostname: hostname,
            service: Self.service,
            session: Self.session(report.source, report.sourcePort),
            source: Endpoint(ip: IPv4Address(report.source).description, port: Int(report.sourcePort)),
            destination: Endpoint(ip: IPv4Address(report.deckyAddress).description, port: Int(report.port)),
            fields: fields
        )
    }

    /// RFC 3339 UTC, as the event's own timestamp is written.
    static func timestamp(_ seconds: Double) -> String {
        RFC5424Formatter.timestamp(Date(timeIntervalSince1970: seconds))
    }

    /// A session id for a packet-layer event outside any scan: the source and port, hashed to 12 hex digits.
    static func session(_ source: UInt32, _ port: UInt16) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in withUnsafeBytes(of: (source.bigEndian, port.bigEndian), Array.init) {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
        }
        let hex = String(hash & 0xFFFF_FFFF_FFFF, radix: 16)
        return String(repeating: "0", count: 12 - hex.count) + hex
    }
}
