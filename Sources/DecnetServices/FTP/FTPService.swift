import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `ftp` honeypot (21): vsftpd 3.0.3 with anonymous login, passive and active data channels, and uploads
/// kept as artifacts.
///
/// Persona keys (DECNET-Swift; the seed lists none for ftp): `ftp_banner` (text after `220 `, default
/// `(vsFTPd 3.0.3)`), `users` (accounts that log in), `anonymous` (`yes`/`no`, default `yes`).
public struct FTPService: HoneypotService {
    public static let kind: ServiceKind = "ftp"
    /// How long a transfer waits for its data connection.
    static let dataTimeout: Duration = .seconds(30)

    struct Configuration: Sendable, Equatable {
        var banner: String
        var users: AcceptedCredentials
        var anonymous: Bool
        /// What SYST answers: IIS's FTP says Windows_NT, the Unix servers UNIX Type: L8.
        var system = "UNIX Type: L8"
        /// Files planted on the decky: an account sees them where they are, anonymous users what is under
        /// `/srv/ftp` (vsftpd's anonymous root).
        var planted = PlantedFiles(root: nil)
        /// The pause before a failed login's 530 (vsftpd through PAM waits about 3 s; tests set 0).
        var failureDelayMilliseconds = Int.random(in: 2500...3500)
    }

    private(set) var configuration: Configuration
    let artifacts: ArtifactStore
    let dataChannels: any DataChannels

    public init(context: ServiceContext) throws {
        self.configuration = Configuration(
            banner: context.persona["ftp_banner"] ?? "(vsFTPd 3.0.3)",
            users: AcceptedCredentials(context.persona["users"]),
            anonymous: (context.persona["anonymous"] ?? "yes").lowercased() != "no",
            system: context.osFamily == .windows ? "Windows_NT" : "UNIX Type: L8",
            planted: context.planted
        )
        if let milliseconds = context.persona["password_delay_ms"].flatMap({ Int($0) }) {
            self.configuration.failureDelayMilliseconds = max(0, milliseconds)
        }
        self.artifacts = ArtifactStore(directory: context.artifactDirectory)
        self.dataChannels = context.dataChannels
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineDecoder(maximumLength: 4096), maximumBufferSize: 1 << 16)
        )
    }

    /// The banner, sent by the runtime on connect: a connection that never logs in holds no task.
    public func greeting(session: SessionEvents) -> Greeting<ByteBuffer>? {
        let machine = FTPStateMachine(
            configuration: self.configuration,
            localAddress: session.destination.ip,
            peerAddress: session.source.ip
        )
        return Greeting(ByteBuffer(string: machine.greeting + "\r\n"))
    }

    public func handle(_ connection: Connection<LineFrame, ByteBuffer>, session: SessionEvents) async throws {
        var machine = FTPStateMachine(
            configuration: self.configuration,
            localAddress: session.destination.ip,
            peerAddress: session.source.ip
        )
        var passive: (any PassiveDataListener)?
        var active: (host: String, port: Int)?
        defer {
            if let passive { Task { await passive.close() } }
        }
        if connection.greeting == nil {
            try await connection.outbound.write(ByteBuffer(string: machine.greeting + "\r\n"))
        }
        for try await frame in connection.inbound {
            var pending: [FTPStateMachine.Action]
            switch frame {
            case .line(let line): pending = machine.received(line)
            case .tooLong: pending = machine.receivedOverlongLine()
            }
            while !pending.isEmpty {
                let action = pending.removeFirst()
                switch action {
                case .reply(let text):
                    try await connection.outbound.write(ByteBuffer(string: text + "\r\n"))
                case .emit(let id, let fields):
                    session.emit(id, fields)
                case .openPassive(let extended):
                    if let old = passive { await old.close() }
                    passive = try? await self.dataChannels.listen(host: session.destination.ip, peer: session.source.ip)
                    active = nil
                    pending.insert(contentsOf: machine.passiveOpened(port: passive?.port, extended: extended), at: 0)
                case .setActive(let host, let port):
                    if let old = passive { await old.close() }
                    passive = nil
                    active = (host, port)
                case .transfer(let transfer):
                    let (connected, received) = await self.run(transfer, passive: passive, active: active)
                    passive = nil
                    active = nil
                    if case .receive(let path) = transfer, connected {
                        var fields = EventFields()
                        fields.add("filename", attackerText: path)
                        self.artifacts.keep(received, as: .fileUpload, fields: fields, session: session)
                    }
                    pending.insert(
                        contentsOf: machine.transferFinished(connected: connected, received: received),
                        at: 0
                    )
                case .close:
                    return
                case .delay(let duration):
                    try await Task.sleep(for: duration)
                }
            }
        }
    }

    /// Runs one transfer on the prepared data endpoint; returns whether a data connection happened and what
    /// it carried in (uploads are bounded by `ArtifactStore.maximumSize`).
    private func run(
        _ transfer: FTPStateMachine.Transfer,
        passive: (any PassiveDataListener)?,
        active: (host: String, port: Int)?
    ) async -> (Bool, [UInt8]) {
        let box = ReceivedBytes()
        let body:
            @Sendable (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws
                -> Void = {
                    inbound,
                    outbound in
                    switch transfer {
                    case .send(let bytes, _):
                        if !bytes.isEmpty { try await outbound.write(ByteBuffer(bytes: bytes)) }
                    case .receive:
                        for try await chunk in inbound {
                            box.append(chunk)
                            if box.count > ArtifactStore.maximumSize { break }
                        }
                    }
                }
        do {
            if let passive {
                let connected = try await passive.accept(timeout: Self.dataTimeout, body: body)
                return (connected, box.bytes)
            }
            if let active {
                try await self.dataChannels.connect(host: active.host, port: active.port, body: body)
                return (true, box.bytes)
            }
        } catch {
            return (!box.bytes.isEmpty, box.bytes)
        }
        return (false, [])
    }
}

/// Bytes of an upload, collected from the data connection's task.
final class ReceivedBytes: @unchecked Sendable {
    // Written only by the one data-connection task, read after it ends.
    private(set) var bytes: [UInt8] = []
    var count: Int { self.bytes.count }
    func append(_ buffer: ByteBuffer) { self.bytes.append(contentsOf: buffer.readableBytesView) }
}
