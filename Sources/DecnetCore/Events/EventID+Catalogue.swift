/// Every event id DECNET-Swift emits. docs/events.md documents each, and `EventCatalogueTests` keeps the two equal.
extension EventID {
    /// A client connected. Fields: none beyond the bound ones.
    public static let connectionOpen: EventID = "connection.open"
    /// The connection ended. Fields: `duration_ms`, `bytes_in`, `bytes_out`, `reason`.
    public static let connectionClose: EventID = "connection.close"
    /// A connection was refused by a limit (per-source or global cap). Fields: `limit`, `reason`.
    public static let connectionRefused: EventID = "connection.refused"
    /// A login that the persona accepted. Fields: `username`, `password` (+ `password_b64`), `method`.
    public static let loginSuccess: EventID = "login.success"
    /// A login that the persona refused. Fields as `login.success`.
    public static let loginFailed: EventID = "login.failed"
    /// A command or request line the client sent. Fields: `command`, `args` (+ `_b64` forms when not printable).
    public static let commandInput: EventID = "command.input"
    /// Data the client sent that is not a command (a message body, a query, a raw payload). Fields: `kind`,
    /// `size`, `sha256`, `preview`.
    public static let payloadReceived: EventID = "payload.received"
    /// A file the client uploaded, stored as an artifact. Fields: `filename`, `size`, `sha256`, `path`.
    public static let fileUpload: EventID = "file.upload"
    /// A terminal session, recorded so it can be replayed, stored as an artifact when the session ends. Fields:
    /// `format` (`asciicast-v2`), `size`, `sha256`, `path`, `duration_ms`, `inputs`.
    public static let sessionRecorded: EventID = "session.recorded"
    /// A file the client asked to download. Fields: `filename`, `url`.
    public static let fileDownload: EventID = "file.download"
    /// What the client says it is (banner, user agent, client name, TLS/SSH fingerprints). Fields: `client`, and
    /// per protocol `user_agent`, `ja3`, `ja4`, `hassh` ….
    public static let clientFingerprint: EventID = "client.fingerprint"
    /// The client broke the protocol (bad framing, oversized input, garbage). Fields: `error`, `preview`.
    public static let clientMalformed: EventID = "client.malformed"
    /// A source was recognised as scanning (raised for every decky the scan reaches, and again on each new
    /// type). Fields: `scan_id`, `scan_type`, `scan_types`, `tool`, `tool_basis`, `deckies`, `decky_count`,
    /// `ports`, `port_sample`, `targets`, `packets`, `peak_pps`, `first_seen`, `last_seen`, `duration_ms`.
    public static let scanDetected: EventID = "scan.detected"
    /// A scan goes on (every ten seconds while it does). Fields as `scan.detected`.
    public static let scanProgress: EventID = "scan.progress"
    /// A scan went quiet: its totals. Fields as `scan.detected`.
    public static let scanEnded: EventID = "scan.ended"
    /// A host answered a name query nobody should answer (a decky's LLMNR or NBT-NS bait): it is poisoning name resolution
    /// (Responder, Inveigh). Fields: `name`, `protocol`, `poisoner_ip`, `answer` (the address it claimed).
    public static let poisonerDetected: EventID = "poisoner.detected"
    /// A planted canary token was used: its URL requested or its name resolved (the `canary` service). Fields:
    /// `token`, `token_kind`, `label`, `planted_decky`, `planted_path`, `via` (`http` or `dns`), then per way
    /// `method`, `url`, `user_agent`, `referer`, `forwarded_for` or `qname`, `qtype`. The event's source is who
    /// asked: the reader's host over HTTP, the resolver over DNS.
    public static let canaryTriggered: EventID = "canary.triggered"
}

extension EventID {
    /// The whole catalogue, in documentation order.
    public static let catalogue: [EventID] = [
        .connectionOpen, .connectionClose, .connectionRefused, .loginSuccess, .loginFailed, .commandInput,
        .payloadReceived, .fileUpload, .sessionRecorded, .fileDownload, .clientFingerprint, .clientMalformed,
        .scanDetected, .scanProgress, .scanEnded, .poisonerDetected, .canaryTriggered,
    ]
}
