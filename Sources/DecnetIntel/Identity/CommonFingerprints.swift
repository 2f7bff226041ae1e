/// Client fingerprints that say nothing about who is behind them: what a stock client of a mainstream system
/// sends, so thousands of unrelated people share it. Identity clustering gives them no weight (the seed merges on
/// any one exact HASSH or JA3 match, so every stock OpenSSH user would become one actor).
///
/// Each entry names where it was measured. Add one by connecting the client to a decky and reading the
/// `client.fingerprint` event (`decnet service run ssh --bind 127.0.0.1:2222`, then the client).
public enum CommonFingerprints {
    public struct Entry: Sendable {
        /// `kind:value`, as `ActorEvidence.fingerprints` holds it.
        public let fingerprint: String
        public let client: String
        public let source: String
    }

    public static let entries: [Entry] = [
        Entry(
            fingerprint: "hassh:472b5de333ad665af5cbf10ff892c4df",
            client: "OpenSSH_9.2p1 Debian-2+deb12u6 (the stock client of Debian 12)",
            source: "measured here: ssh to a decky, client.fingerprint event (2026-12-06)"
        )
    ]

    static let set: Set<String> = Set(Self.entries.map(\.fingerprint))

    public static func isCommon(_ fingerprint: String) -> Bool { Self.set.contains(fingerprint) }

    public static func entry(_ fingerprint: String) -> Entry? { Self.entries.first { $0.fingerprint == fingerprint } }
}
