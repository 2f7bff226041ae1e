import DecnetConfig
import DecnetCore
import Testing

@Suite struct IniDocumentTests {
    @Test func readsWhatConfigparserReads() throws {
        let text =
            "\u{FEFF}# comment\r\n; another\r\n[general]\r\nNet = 10.0.0.0/24\r\ngw: 10.0.0.1\r\n\r\n[decky-01]\r\nservices = ssh,\r\n    http\r\n"
        let (document, diagnostics) = IniDocument.parse(text, path: "a.ini")
        #expect(diagnostics.isEmpty)
        #expect(document.sections.map(\.name) == ["general", "decky-01"])
        let general = try #require(document.section("general"))
        #expect(general.entry("net")?.value == "10.0.0.0/24")
        #expect(general.entry("net")?.line == 4)
        #expect(general.entry("gw")?.value == "10.0.0.1")
        #expect(document.section("decky-01")?.entry("services")?.value == "ssh,\nhttp")
    }

    @Test func valuesKeepPercentSignsAndInnerDelimiters() {
        let (document, diagnostics) = IniDocument.parse("[s]\nusers = root:p%40ss=1,admin:a:b\n", path: "a.ini")
        #expect(diagnostics.isEmpty)
        #expect(document.section("s")?.entry("users")?.value == "root:p%40ss=1,admin:a:b")
    }

    @Test func syntaxErrorsNameLineAndKey() {
        let text = """
            orphan = 1
            [general]
            net = 10.0.0.0/24
            net = 10.0.1.0/24
            this line has no delimiter
            [general]
            [broken
            []
             = value
            """
        let (_, diagnostics) = IniDocument.parse(text, path: "bad.ini")
        let messages = diagnostics.map(\.description)
        #expect(messages.count == 6)
        #expect(messages[0].hasPrefix("bad.ini:1: orphan: setting before any section"))
        #expect(messages[1].hasPrefix("bad.ini:4: [general] net: key appears twice in this section (first at line 3)"))
        #expect(messages[2].hasPrefix("bad.ini:5: [general]: 'this line has no delimiter' is not a setting"))
        #expect(messages[3].hasPrefix("bad.ini:6: [general]: section appears twice (first at line 2)"))
        #expect(messages[4].hasPrefix("bad.ini:7: [broken: malformed section header"))
        #expect(messages[5].hasPrefix("bad.ini:8: []: malformed section header"))
        // Line 9 belongs to the repeated [general], whose settings are not read.
        let (_, keyless) = IniDocument.parse("[s]\n = value\n", path: "k.ini")
        #expect(keyless.map(\.description) == ["k.ini:2: [s]: setting without a key; expected key = value"])
        // A comment after a header is named as such (there are no inline comments), whichever its mark.
        for mark in [";", "#"] {
            let (_, commented) = IniDocument.parse("[web]   \(mark) the front end\nip = 10.0.0.2\n", path: "c.ini")
            #expect(
                commented.first?.description
                    == "c.ini:1: [web]   \(mark) the front end: a comment after a section header; expected it on a"
                    + " line of its own (no inline comments)"
            )
        }
    }

    /// Hostile bytes never crash the reader: every prefix of a nasty file parses to something.
    @Test func everyPrefixOfHostileTextParses() {
        let hostile =
            "[\u{0}]\n=\n[[a]]\n\t\tcontinued\n[x]\nk=\u{FFFD}\u{202E}v\n\r\r\n[" + String(repeating: "]", count: 300)
            + "\nk:" + String(repeating: "=", count: 5000)
        var characters = Array(hostile)
        for end in stride(from: 0, through: characters.count, by: 7) {
            _ = IniDocument.parse(String(characters[..<end]), path: "h.ini")
        }
        characters.shuffle()
        _ = IniDocument.parse(String(characters), path: "h.ini")
    }
}
