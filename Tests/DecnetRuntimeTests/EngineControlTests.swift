import DecnetRuntime
import DecnetTesting
import Foundation
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The engine's control plane without any engine: the Unix socket protocol and the pid lock.
@Suite struct EngineControlTests {
    @Test func requestsAndAnswersCrossTheSocketAndGarbageGetsAnError() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = EngineFiles.socket(directory.path)
        let server = try await EngineControlServer.bind(path: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600, "only root may talk to the engine")
        let serving = Task {
            await server.run { request in
                EngineResponse(
                    ok: request.op == .stop,
                    error: nil,
                    report: ["\(request.op.rawValue) \(request.decky ?? "-")"]
                )
            }
        }
        let answer = try await EngineClient.send(
            EngineRequest(.stop, decky: "decky-02"),
            stateDirectory: directory.path
        )
        #expect(answer == EngineResponse(ok: true, report: ["stop decky-02"]))

        // Not JSON: a clear refusal, and the server goes on serving.
        let raw = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let reply = try await raw.executeThenClose { input, output in
            try await output.write(ByteBuffer(string: "\u{0}\u{ff}not json\n"))
            var buffer = ByteBuffer()
            for try await var chunk in input { buffer.writeBuffer(&chunk) }
            return String(buffer: buffer)
        }
        #expect(reply.contains("not an engine request"))
        let again = try await EngineClient.send(EngineRequest(.status), stateDirectory: directory.path)
        #expect(again.report == ["status -"])
        await server.close()
        let ended = await serving.value
        #expect(ended == nil, "closing ends the server without an error")
    }

    @Test func aMissingEngineIsAClearError() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        await #expect {
            _ = try await EngineClient.send(EngineRequest(.status), stateDirectory: directory.path)
        } throws: { error in
            "\(error)".contains("the engine does not answer on \(directory.path)/decnet-engine.sock")
        }
    }

    @Test func thePidLockSaysWhoRunsAndIsReleasedWithItsHolder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(EngineLock.runningPID(stateDirectory: directory.path) == nil)
        var lock: PIDLock? = try EngineLock.take(stateDirectory: directory.path)
        #expect(EngineLock.runningPID(stateDirectory: directory.path) == getpid())
        #expect {
            _ = try EngineLock.take(stateDirectory: directory.path)
        } throws: { error in
            "\(error)".contains("an engine for \(directory.path) is already running (pid \(getpid()))")
        }
        _ = lock
        lock = nil
        // The file stays (as after a SIGKILL); the lock does not. A child another test is spawning right now may
        // hold a copy of the descriptor until its exec closes it (O_CLOEXEC), so this waits a moment for that.
        #expect(FileManager.default.fileExists(atPath: EngineFiles.pid(directory.path)))
        var released = false
        for _ in 0..<100 where !released {
            released = EngineLock.runningPID(stateDirectory: directory.path) == nil
            if !released { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(released)
    }
}
