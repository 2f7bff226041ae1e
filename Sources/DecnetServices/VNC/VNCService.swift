import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `vnc` honeypot (5900): an RFB server asking for VNC authentication.
///
/// Persona keys: `vnc_version` (`003.008` by default; `003.007`, `003.003`, or a vendor's such as `004.001`, which
/// speaks 3.8), and DECNET-Swift's `vnc_password` (the password that opens the fake desktop; unset: none does)
/// and `vnc_desktop` (the desktop name ServerInit carries; default the hostname).
public struct VNCService: HoneypotService {
    public static let kind: ServiceKind = "vnc"

    let configuration: VNCStateMachine.Configuration

    public init(context: ServiceContext) throws {
        let text = context.persona["vnc_version"] ?? "003.008"
        let parts = text.split(separator: ".")
        let major = parts.first.flatMap { Int($0) } ?? 3
        let minor = parts.count > 1 ? Int(parts[1]) ?? 8 : 8
        self.configuration = VNCStateMachine.Configuration(
            minor: major > 3 ? 8 : minor >= 8 ? 8 : minor == 7 ? 7 : 3,
            versionText: text,
            password: context.persona["vnc_password"],
            desktopName: context.persona["vnc_desktop"] ?? context.hostname,
            tigerVNC: context.osFamily == .linux && text == "003.008"
        )
    }

    /// A connection's task starts at the client's whole ProtocolVersion (12 bytes), not its first byte.
    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            FirstMessageGate(isComplete: { $0.count >= VNCStateMachine.versionLength })
        )
    }

    /// The server's ProtocolVersion, sent by the runtime on connect: a connection that never answers (a scanner's,
    /// a flood's) holds no task.
    public func greeting(session: SessionEvents) -> Greeting<ByteBuffer>? {
        Greeting(ByteBuffer(bytes: VNCStateMachine.greeting(self.configuration)))
    }

    public func handle(_ connection: Connection<ByteBuffer, ByteBuffer>, session: SessionEvents) async throws {
        var machine = VNCStateMachine(
            configuration: self.configuration,
            challenge: PooledRandom.bytes(16)
        )
        defer {
            for case .emit(let id, let fields) in machine.connectionClosed() { session.emit(id, fields) }
        }
        let greeting = connection.greeting == nil ? machine.greeting : []
        try await ProtocolLoop.serve(connection, session: session, greeting: greeting) { buffer in
            machine.received(Array(buffer.readableBytesView)).map { action -> ProtocolAction in
                switch action {
                case .send(let bytes): .send(bytes)
                case .emit(let id, let fields): .emit(id, fields)
                case .close: .close
                }
            }
        }
    }
}
