/// Where a setting came from, so an error can point at it.
public enum SettingOrigin: Hashable, Sendable, CustomStringConvertible {
    /// A line of a config file.
    case file(path: String, line: Int)
    /// A command-line flag.
    case commandLine
    /// An environment variable, or a line of the `.env.local` file that set it.
    case environment

    public var description: String {
        switch self {
        case .file(let path, let line): "\(path):\(line)"
        case .commandLine: "command line"
        case .environment: "environment"
        }
    }
}

/// One problem with the operator's configuration, naming where and which key:
/// `mynet.ini:12: [decky-02] ip: 10.0.9.4 is outside net 10.0.0.0/24`.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public let origin: SettingOrigin
    /// The key, written as the operator wrote it: `[decky-02] ip`, `--subnet`, `DECNET_API_PORT`.
    public let key: String
    public let message: String

    public init(_ origin: SettingOrigin, key: String, _ message: String) {
        self.origin = origin
        self.key = key
        self.message = message
    }

    public var description: String { "\(self.origin): \(self.key): \(self.message)" }
}

/// Every problem found in one configuration, reported together so the operator fixes them in one pass.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    public var description: String {
        let count = self.diagnostics.count
        let header = count == 1 ? "1 configuration error:" : "\(count) configuration errors:"
        return ([header] + self.diagnostics.map { "  " + $0.description }).joined(separator: "\n")
    }
}

/// A value together with the place it was set, so later checks can still name that place.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var origin: SettingOrigin
    /// The key as written (`[decky-01] ip`, `--ip-start`).
    public var key: String

    public init(_ value: Value, at origin: SettingOrigin, key: String) {
        self.value = value
        self.origin = origin
        self.key = key
    }

    /// A diagnostic about this setting.
    public func problem(_ message: String) -> Diagnostic { Diagnostic(self.origin, key: self.key, message) }
}

extension Located: Equatable where Value: Equatable {}
