import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// What the CLI asks a running engine, one JSON line per connection on the engine's Unix socket
/// (`<state>/decnet-engine.sock`, mode 0600: only root talks to it).
public struct EngineRequest: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
        case status, start, stop, restart, remove, reload, shutdown
        /// `decnet sniffer start|stop`: the engine's packet layer on or off (kept across restarts).
        case snifferStart = "sniffer-start"
        case snifferStop = "sniffer-stop"
    }

    public var op: Operation
    public var decky: String?
    /// `shutdown`: also delete every namespace and the host-side interface (teardown).
    public var removeNetwork: Bool?
    /// `status`: skip looking inside every namespace (progress polling).
    public var brief: Bool?

    public init(_ op: Operation, decky: String? = nil, removeNetwork: Bool? = nil, brief: Bool? = nil) {
        self.op = op
        self.decky = decky
        self.removeNetwork = removeNetwork
        self.brief = brief
    }
}

/// The engine's answer: a report of what it did, its status, or why it could not.
public struct EngineResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    public var error: String?
    public var report: [String]?
    public var status: EngineStatus?

    public init(ok: Bool, error: String? = nil, report: [String]? = nil, status: EngineStatus? = nil) {
        self.ok = ok
        self.error = error
        self.report = report
        self.status = status
    }
}

/// The files by which the CLI finds its engine.
public enum EngineFiles {
    public static func socket(_ stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("decnet-engine.sock")
    }

    public static func pid(_ stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("decnet-engine.pid")
    }

    /// Where a decky keeps its keys (TLS certificate, SSH host keys) across engine restarts; teardown deletes it.
    public static func keys(_ stateDirectory: String, decky: String) -> String {
        ((stateDirectory as NSString).appendingPathComponent("deckies") as NSString).appendingPathComponent(decky)
    }

    public static func log(_ stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("decnet-engine.log")
    }
}

/// A daemon's pid file, locked (`flock`) for as long as the daemon lives: a crashed or killed daemon leaves the
/// file but not the lock, so "is it running" never trusts a stale pid. The engine, the workers, the forwarder,
/// the listener and the bus each hold one.
public final class PIDLock: Sendable {
    public struct Held: Error, CustomStringConvertible {
        public let description: String
    }

    let descriptor: Int32

    /// Takes the lock and writes our pid; throws, naming `what` and the running pid, when it is held.
    public init(path: String, what: String) throws {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw Held(description: "\(path): cannot be opened (\(String(cString: strerror(errno))))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            let pid = Self.runningPID(path: path).map { " (pid \($0))" } ?? ""
            throw Held(description: "\(what) is already running\(pid)")
        }
        _ = ftruncate(descriptor, 0)
        let text = Array("\(getpid())\n".utf8)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.descriptor = descriptor
    }

    deinit { close(self.descriptor) }

    /// The pid holding the lock at `path`, or nil when none does.
    public static func runningPID(path: String) -> Int32? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return nil
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// The engine's pid lock.
public enum EngineLock {
    public static func take(stateDirectory: String) throws -> PIDLock {
        do {
            return try PIDLock(path: EngineFiles.pid(stateDirectory), what: "an engine for \(stateDirectory)")
        } catch {
            throw Engine.Failure("\(error)")
        }
    }

    /// The pid of the engine serving `stateDirectory`, or nil when none is (the lock is free).
    public static func runningPID(stateDirectory: String) -> Int32? {
        PIDLock.runningPID(path: EngineFiles.pid(stateDirectory))
    }
}

/// Serves `EngineRequest`s on the engine's Unix socket.
public struct EngineControlServer: Sendable {
    let channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>

    /// The largest request line accepted.
    static let maximumRequest = 64 * 1024

    public static func bind(
        path: String,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> EngineControlServer {
        // A socket file left by an engine that was killed: the lock says nobody serves it.
        try? FileManager.default.removeItem(atPath: path)
        let channel = try await ServerBootstrap(group: group).bind(unixDomainSocketPath: path) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        chmod(path, 0o600)
        return EngineControlServer(channel: channel)
    }

    /// Answers requests with `handle` until `close()`; returns the error that ended it otherwise.
    @discardableResult
    public func run(_ handle: @escaping @Sendable (EngineRequest) async -> EngineResponse) async -> (any Error)? {
        do {
            try await self.run(handling: handle)
            return nil
        } catch {
            return error
        }
    }

    private func run(handling handle: @escaping @Sendable (EngineRequest) async -> EngineResponse) async throws {
        try await self.channel.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in inbound {
                    group.addTask {
                        try? await connection.executeThenClose { input, output in
                            var buffer = ByteBuffer()
                            for try await var chunk in input {
                                buffer.writeBuffer(&chunk)
                                if buffer.readableBytesView.contains(0x0A) { break }
                                if buffer.readableBytes > Self.maximumRequest { break }
                            }
                            let line = buffer.readableBytesView.prefix { $0 != 0x0A }
                            let response: EngineResponse
                            if let request = try? JSONDecoder().decode(EngineRequest.self, from: Data(line)) {
                                response = await handle(request)
                            } else {
                                response = EngineResponse(ok: false, error: "not an engine request")
                            }
                            var data = try EngineWire.encoder.encode(response)
                            data.append(0x0A)
                            // Written through the channel and awaited until it is on the socket: closing with
                            // writes still queued (a status of a thousand deckies is megabytes) would drop them.
                            _ = output
                            try await connection.channel.writeAndFlush(ByteBuffer(bytes: data)).get()
                        }
                    }
                }
            }
        }
    }

    public func close() async {
        try? await self.channel.channel.close()
    }
}

/// Sends one request to the engine of a state directory.
public enum EngineClient {
    public struct Unreachable: Error, CustomStringConvertible {
        public let description: String
    }

    public static func send(
        _ request: EngineRequest,
        stateDirectory: String,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> EngineResponse {
        let path = EngineFiles.socket(stateDirectory)
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group).connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        } catch {
            throw Unreachable(description: "the engine does not answer on \(path) (\(error))")
        }
        return try await channel.executeThenClose { input, output in
            var data = try EngineWire.encoder.encode(request)
            data.append(0x0A)
            try await output.write(ByteBuffer(bytes: data))
            var buffer = ByteBuffer()
            for try await var chunk in input { buffer.writeBuffer(&chunk) }
            do {
                return try EngineWire.decoder.decode(EngineResponse.self, from: Data(buffer.readableBytesView))
            } catch {
                throw Unreachable(description: "the engine's answer on \(path) is unreadable (\(error))")
            }
        }
    }
}

enum EngineWire {
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
