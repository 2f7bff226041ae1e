import DecnetConfig
import DecnetCore
import DecnetServices

/// The fuzz targets by name: attacker bytes into one decoder or state machine each, without sockets, for libFuzzer
/// (`scripts/fuzz.sh`, the `decnet-fuzz` product built with `--sanitize fuzzer`) and for the replay of corpora and
/// crash cases under `swift test` (`FuzzReplayTests`). A target must never crash, trap or hang on any input: the
/// protocol's answer (or a close) is the only acceptable outcome.
public enum FuzzTargets {
    /// Every target by name, as `scripts/fuzz.sh` and `Fuzz/corpus/<name>/` name them.
    public static let all: [(name: String, run: @Sendable ([UInt8]) -> Void)] = [
        ("http-nginx", { FuzzEntries.http($0, server: "nginx/1.22.1") }),
        ("http-apache", { FuzzEntries.http($0, server: "Apache/2.4.71 (Debian)") }),
        ("mysql", FuzzEntries.mysql),
        ("imap", FuzzEntries.imap),
        ("redis", FuzzEntries.redis),
        ("telnet", FuzzEntries.telnet),
        ("smtp", FuzzEntries.smtp),
        ("docker-api", FuzzEntries.dockerAPI),
        ("rfc5424", Self.rfc5424),
        ("ini", Self.ini),
    ]

    public static func target(_ name: String) -> (@Sendable ([UInt8]) -> Void)? {
        self.all.first { $0.name == name }?.run
    }

    static func rfc5424(_ bytes: [UInt8]) {
        _ = try? RFC5424Parser.event(from: bytes[...])
    }

    static func ini(_ bytes: [UInt8]) {
        _ = FleetFileLoader.request(from: String(decoding: bytes, as: UTF8.self), path: "fuzz.ini")
    }
}
