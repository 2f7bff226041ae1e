import DecnetCore
import DecnetServiceKit
import Testing

@testable import DecnetServices

/// The fake shell's command splitting, shared by ssh and telnet sessions: operators run together, alone or
/// inside quotes never end the process.
@Suite struct FakeShellSplitTests {
    @Test func commandsAreSplitAtTheOperatorsOutsideQuotes() {
        #expect(FakeShell.split("uname -a; id && whoami || w | wc -l") == ["uname -a", "id", "whoami", "w", "wc -l"])
        #expect(FakeShell.split("echo 'a;b' \"c&&d\"") == ["echo 'a;b' \"c&&d\""])
        #expect(FakeShell.split("sleep 1 & id") == ["sleep 1 & id"])
    }

    /// Fuzzing found "&&&" (three ampersands, here inside a telnet session's line) ending the process: the third
    /// `&` took back a character from an empty command. Runs of operators of every kind, at either end, split to
    /// what is left and nothing else.
    @Test func runsOfOperatorsAreSplitWithoutATrap() {
        #expect(FakeShell.split("&&&") == ["&"])
        #expect(FakeShell.split("a&&&&b") == ["a", "b"])
        #expect(FakeShell.split("a &&& b") == ["a", "& b"])
        for line in ["&&", "&&&&&&&", ";;&&||&&;", "|&&|", "&", "'&&&", "\"&&&\"&&&", "&&&'", ""] {
            #expect(FakeShell.split(line).allSatisfy { !$0.isEmpty }, "\(line)")
        }
    }

    @Test func aSessionGivenTheLineRunsOn() {
        let profile = ShellProfile(
            hostname: "web-01",
            distro: DistroCatalogue.all[0],
            osFamily: .linux,
            ip: "10.0.0.5",
            mac: "00:0c:29:4f:8e:35",
            kernelOverride: nil
        )
        var shell = FakeShell(profile: profile, user: "root")
        _ = shell.execute("ae -a; cad; cadmiget  /et&&&id")
        #expect(shell.execute("whoami").output == "root\n")
    }
}
