import DecnetCore
import DecnetRuntime
import DecnetTesting
import Foundation
import NIOCore
import NIOPosix
import Testing

/// The redis emulator against the real `redis-cli` and `nmap`.
@Suite struct RedisLiveTests {
    @Test(.enabled(if: ExternalTool.redisCLI.isUsable, "needs redis-cli (required under CI)"))
    func redisCLILogsInAndEveryFieldIsCaptured() async throws {
        let tool = try #require(ExternalTool.redisCLI.path, "\(ExternalTool.redisCLI.missingMessage)")
        let service = try await LiveService.start(
            "redis",
            persona: ["redis_version": "7.0.15", "redis_password": "Winter2024!"]
        )
        let boundPort = service.port
        let port = String(boundPort)
        let good = try await ProcessRunner.run(
            tool,
            [
                "-h", "127.0.0.1", "-p", port, "--user", "default", "--pass", "Winter2024!", "--no-auth-warning", "SET",
                "k", "v",
            ]
        )
        #expect(good.standardOutput == "OK\n", "\(good.standardError)")
        let bad = try await ProcessRunner.run(
            tool,
            ["-h", "127.0.0.1", "-p", port, "-a", "guess", "--no-auth-warning", "GET", "k"]
        )
        #expect(bad.standardOutput.contains("NOAUTH"), "\(bad.standardOutput)")
        let logins = await service.capture.wait(timeout: .seconds(10)) { events in
            events.filter { $0.id == .loginSuccess || $0.id == .loginFailed }.count >= 2
        }
        #expect(logins)
        await service.stop()

        let success = try #require(service.capture.events(.loginSuccess).first)
        #expect(success[field: "username"] == "default")
        #expect(success[field: "password"] == "Winter2024!")
        #expect(success.source.ip == "127.0.0.1")
        #expect(success.destination.port == boundPort)
        #expect(success.service == "redis")
        #expect(success.decky == "decky-test")
        let failure = try #require(service.capture.events(.loginFailed).first)
        #expect(failure[field: "password"] == "guess")
        let commands = service.capture.events(.commandInput).compactMap { $0[field: "command"] }
        #expect(commands.contains("set") && commands.contains("get"))
        // Every connection was opened and closed, with its byte counts.
        let closes = service.capture.events(.connectionClose)
        #expect(closes.count == service.capture.events(.connectionOpen).count)
        #expect(closes.allSatisfy { Int($0[field: "bytes_in"] ?? "0")! > 0 })
        // Each event of one connection carries the same session id.
        for close in closes {
            #expect(service.capture.all.filter { $0.session == close.session }.contains { $0.id == .connectionOpen })
        }
    }

    @Test func perSourceLimitRefusesAndIsRecorded() async throws {
        let service = try await LiveService.start("redis", limits: ConnectionLimits(maximumPerSource: 2))
        var sockets: [any Channel] = []
        for _ in 0..<3 {
            sockets.append(
                try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(
                    host: "127.0.0.1",
                    port: service.port
                ).get()
            )
        }
        let refused = await service.capture.wait(for: .connectionRefused)
        #expect(refused.first?[field: "limit"] == "maximum_per_source")
        for socket in sockets { try? await socket.close() }
        await service.stop()
        #expect(service.capture.events(.connectionOpen).count == 2)
    }

    /// A full listener makes room for a newcomer by closing the oldest connection of the heaviest source, so a
    /// slow-loris flood from one address does not lock a later visitor out.
    @Test func aFullListenerEvictsTheFloodersOldestConnectionForANewcomer() async throws {
        let service = try await LiveService.start(
            "redis",
            limits: ConnectionLimits(maximumPerSource: 10, maximumConnections: 3)
        )
        var flood: [any Channel] = []
        for _ in 0..<3 {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(to: try SocketAddress(ipAddress: "127.0.0.2", port: 0))
                .connect(host: "127.0.0.1", port: service.port).get()
            // A request begun and never finished.
            try await channel.writeAndFlush(ByteBuffer(string: "*2\r\n$4\r\nAU"))
            flood.append(channel)
        }
        // A wait, not a timing: it returns as soon as the three are open (30 s for a loaded CI machine).
        #expect(await service.capture.wait(timeout: .seconds(30)) { $0.filter { $0.id == .connectionOpen }.count == 3 })
        let reply = try await RawTCP.exchange(
            port: service.port,
            send: Array("*2\r\n$4\r\nAUTH\r\n$7\r\nlate-pw\r\n*1\r\n$4\r\nQUIT\r\n".utf8)
        )
        #expect(reply.closedByServer)
        #expect(String(decoding: reply.bytes, as: UTF8.self).hasPrefix("-"), "\(reply)")
        // The flood's first connection was the one closed.
        try await flood[0].closeFuture.get()
        #expect(flood[1].isActive && flood[2].isActive)
        #expect(
            await service.capture.wait(timeout: .seconds(10)) { $0.contains { $0[field: "password"] == "late-pw" } }
        )
        for channel in flood { try? await channel.close() }
        await service.stop()
        let evicted = service.capture.events(.connectionClose).filter { $0[field: "reason"] == "evicted" }
        #expect(evicted.count == 1)
        #expect(evicted.first?.source.ip == "127.0.0.2")
        #expect(service.capture.events(.connectionRefused).isEmpty)
    }

    @Test func idleConnectionsAreClosed() async throws {
        let service = try await LiveService.start("redis", limits: ConnectionLimits(idleTimeout: .milliseconds(200)))
        let socket = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(
            host: "127.0.0.1",
            port: service.port
        ).get()
        let closed = await service.capture.wait(for: .connectionClose, timeout: .seconds(5))
        #expect(closed.count == 1)
        try await socket.closeFuture.get()
        await service.stop()
    }
}

extension RedisLiveTests {
    /// Connections that send and close at once (scanners) are still attributed to their source.
    @Test func hitAndRunConnectionsKeepTheirSource() async throws {
        let service = try await LiveService.start("redis")
        let port = service.port
        for _ in 0..<50 {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(
                host: "127.0.0.1",
                port: port
            ).get()
            try await channel.writeAndFlush(ByteBuffer(string: "PING\r\n"))
            try await channel.close()
        }
        await service.capture.wait { $0.filter { $0.id == .connectionClose }.count >= 50 }
        await service.stop()
        let opens = service.capture.events(.connectionOpen)
        #expect(opens.count == 50)
        #expect(opens.allSatisfy { $0.source.ip == "127.0.0.1" && $0.source.port > 0 && $0.destination.port == port })
    }
}
