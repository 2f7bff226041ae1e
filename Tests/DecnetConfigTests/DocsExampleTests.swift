import DecnetConfig
import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The INI examples in the docs are what operators copy first: each must read without a syntax problem, and the
/// MazeNET page's topology must load whole (its first version had comments after section headers, which the
/// configparser-style reader refuses, so the example failed with nine errors).
@Suite struct DocsExampleTests {
    /// Every ```ini block of docs/*.md, with the page, the line the block starts on, and whether it is an example
    /// of errors (the next block is the `error:` output it gives).
    static func blocks() throws -> [(page: String, line: Int, text: String, wrong: Bool)] {
        let docs = PackageLayout.root.appendingPathComponent("docs")
        var blocks: [(String, Int, String, Bool)] = []
        for page in try FileManager.default.contentsOfDirectory(atPath: docs.path).sorted() where page.hasSuffix(".md")
        {
            let lines = IniDocument.lines(try String(contentsOf: docs.appendingPathComponent(page), encoding: .utf8))
            var start: Int?
            for (index, line) in lines.enumerated() {
                if start == nil, line.trimmingCharacters(in: .whitespaces) == "```ini" {
                    start = index + 1
                } else if let first = start, line.trimmingCharacters(in: .whitespaces) == "```" {
                    let next = lines[(index + 1)...].firstIndex { $0.hasPrefix("```") }
                    let wrong =
                        next.map { lines.indices.contains($0 + 1) && lines[$0 + 1].hasPrefix("error:") } ?? false
                    blocks.append((page, first + 1, lines[first..<index].joined(separator: "\n"), wrong))
                    start = nil
                }
            }
        }
        return blocks
    }

    @Test func everyINIExampleReadsWithoutASyntaxProblem() throws {
        let blocks = try Self.blocks()
        #expect(blocks.count >= 5, "found \(blocks.map { "\($0.page):\($0.line)" })")
        #expect(blocks.contains { $0.wrong })
        for block in blocks {
            let (_, diagnostics) = IniDocument.parse(block.text, path: "\(block.page):\(block.line)")
            if block.wrong {
                #expect(!diagnostics.isEmpty, "docs/\(block.page) block at line \(block.line) shows errors")
            } else {
                #expect(diagnostics.isEmpty, "docs/\(block.page) block at line \(block.line): \(diagnostics)")
            }
        }
    }

    @Test func theMazeNETExampleLoadsAsATopology() throws {
        let block = try #require(try Self.blocks().first { $0.page == "mazenet.md" })
        let design = TopologyFileLoader.design(from: block.text, path: "docs/mazenet.md")
        #expect(design.request.diagnostics.isEmpty, "\(design.request.diagnostics)")
        #expect(design.segments.map(\.name) == ["dmz", "office", "vault"] && design.entry == "dmz")
        #expect(design.routers.count == 2)
    }
}
