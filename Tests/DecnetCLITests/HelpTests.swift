import ArgumentParser
import DecnetTesting
import Testing

@testable import DecnetCLI

/// Every command answers `--help` with its own help, and a word that names no command is an error, not help.
@Suite struct HelpTests {
    /// Run as a user runs it: `decnet PATH --help` exits 0 and prints that command's own usage line.
    @Test func everySubcommandAnswersHelpWithItsOwnUsage() async throws {
        let paths = CommandTree.paths()
        #expect(paths.count > 40, "the tree has \(paths.count) commands")
        for path in paths {
            let result = try await DecnetBinaryTests.decnet(path + ["--help"])
            #expect(result.status == 0, "\(path): \(result.standardError)")
            #expect(
                result.standardOutput.contains("USAGE: decnet \(path.joined(separator: " "))"),
                "\(path): \(result.standardOutput)"
            )
        }
    }

    @Test func aWordThatNamesNoCommandIsFound() {
        #expect(CommandTree.unknownSubcommand(in: ["nosuchcommand", "--help"])! == ("nosuchcommand", "decnet"))
        #expect(CommandTree.unknownSubcommand(in: ["lab", "--help", "nope"])! == ("nope", "decnet lab"))
        #expect(CommandTree.unknownSubcommand(in: ["lab", "exec", "--", "nmap", "-sV"]) == nil)
        #expect(CommandTree.unknownSubcommand(in: ["service", "run", "redis", "--bind", "127.0.0.1:0"]) == nil)
        #expect(CommandTree.unknownSubcommand(in: ["help", "lab"]) == nil)
        #expect(CommandTree.unknownSubcommand(in: ["--help"]) == nil)
        #expect(CommandTree.unknownSubcommand(in: []) == nil)
        #expect(CommandTree.unknownSubcommand(in: ["--generate-completion-script", "bash"]) == nil)
        #expect(CommandTree.unknownSubcommand(in: ["---completion", "lab", "--", "x"]) == nil)
    }

    @Test func labExecTakesItsOptionsBeforeTheTerminatorAndTheCommandAfter() throws {
        let parsed = try DecnetCommand.parseAsRoot(["lab", "exec", "--name", "bench", "--", "nmap", "--help", "-sV"])
        let exec = try #require(parsed as? LabExecCommand)
        #expect(exec.name == "bench")
        #expect(exec.command == ["nmap", "--help", "-sV"])
        #expect(throws: (any Error).self) { try DecnetCommand.parseAsRoot(["lab", "exec", "nmap"]) }
    }

    /// The binary as a user runs it: the help of `lab exec` (not a program called `--help`), and an error with
    /// a non-zero status for an unknown command even beside `--help`.
    @Test func theBinaryPrintsHelpAndRefusesUnknownCommands() async throws {
        let help = try await DecnetBinaryTests.decnet(["lab", "exec", "--help"])
        #expect(help.status == 0)
        #expect(help.standardOutput.contains("USAGE: decnet lab exec [--name <name>]"), "\(help.standardOutput)")
        let unknown = try await DecnetBinaryTests.decnet(["nosuchcommand", "--help"])
        #expect(unknown.status == 64)
        #expect(unknown.standardError.contains("'nosuchcommand' is not a subcommand of 'decnet'"))
        #expect(!unknown.standardOutput.contains("USAGE"))
    }
}
