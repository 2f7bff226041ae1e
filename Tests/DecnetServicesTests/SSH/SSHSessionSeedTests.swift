import DecnetCore
import DecnetServiceKit
import DecnetTesting
import Foundation
import NIOCore
import Testing

@testable import DecnetServices

/// The `ssh-session` fuzz target's seeds (Fuzz/seeds/ssh_seeds.py) reach what they were written for: a seed that
/// stops at its login gives the fuzzer nothing of the session behind it to mutate.
@Suite struct SSHSessionSeedTests {
    static func actions(of seed: String) throws -> [SSHServerTransport.Action] {
        let path = PackageLayout.root.appendingPathComponent("Fuzz/corpus/ssh-session/\(seed)").path
        let bytes = try #require(FileManager.default.contents(atPath: path))
        var configuration = SSHServerTransport.Configuration(
            openSSH: .debian12,
            users: AcceptedCredentials("root:toor,alice:pw")
        )
        configuration.failureDelay = 0...0
        configuration.keyboardInteractive = true
        var transport = SSHServerTransport(
            afterKeyExchangeOf: configuration,
            hostKeys: try SSHHostKeys(directory: nil),
            sessionID: Array(repeating: 0x5A, count: 32)
        )
        var actions = transport.receive(ByteBuffer(bytes: bytes))
        actions += transport.finish()
        return actions
    }

    @Test(arguments: ["shell", "exec", "pipe", "sftp", "scp"])
    func sessionSeedsLogInAndRunTheirSession(_ seed: String) throws {
        let actions = try Self.actions(of: seed)
        let events = actions.compactMap { action -> EventID? in
            if case .emit(let id, _) = action { return id }
            return nil
        }
        #expect(events.contains(.loginSuccess), "\(seed): \(actions)")
        #expect(events.contains(.commandInput) || events.contains(.fileUpload), "\(seed): \(events)")
    }
}
