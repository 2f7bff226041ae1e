import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The seed's tables are the contract: these tests read them from the seed document itself and compare every
/// row with the code, so a typo on either side shows up.
@Suite struct SeedTableTests {
    /// The rows of the first markdown table after `heading` in the seed README, cells trimmed and unquoted.
    static func table(after heading: String, skippingTables: Int = 0) throws -> [[String]] {
        let url = try #require(PackageLayout.seedReadme, "the seed README is not beside the checkout (../shared/seeds)")
        let lines = try String(contentsOf: url, encoding: .utf8).split(
            separator: "\n",
            omittingEmptySubsequences: false
        )
        let start = try #require(lines.firstIndex { $0.hasPrefix(heading) }, "no \(heading) in the seed")
        var rows: [[String]] = []
        var tablesSeen = 0
        var inTable = false
        for line in lines[(start + 1)...] {
            if line.hasPrefix("|") {
                inTable = true
                let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                    .map { $0.trimmingWhitespace().replacingOccurrences(of: "`", with: "") }
                if cells.allSatisfy({ $0.allSatisfy { $0 == "-" } }) { continue }
                if tablesSeen == skippingTables { rows.append(cells) }
            } else if inTable {
                inTable = false
                tablesSeen += 1
                if tablesSeen > skippingTables { break }
            }
        }
        return Array(rows.dropFirst())  // the header row
    }

    static var seedPresent: Bool { PackageLayout.seedReadme != nil || ExternalTool.isCI }

    @Test(.enabled(if: seedPresent, "the seed document is beside the checkout (required under CI)"))
    func servicesMatchTheSeed() throws {
        let rows = try Self.table(after: "## Services")
        #expect(rows.count == 25)
        #expect(rows.map { $0[0] } == ServiceCatalogue.all.map(\.kind.rawValue))
        for row in rows {
            let definition = try #require(ServiceCatalogue.definition(for: ServiceKind(row[0])))
            let seedPorts = row[1].split(separator: ",").map { Int($0.trimmingWhitespace())! }
            let ourPorts = definition.ports.map { Int($0.number) }.reduce(into: [Int]()) {
                if !$0.contains($1) { $0.append($1) }
            }
            #expect(ourPorts == seedPorts, "ports of \(row[0])")
            #expect(definition.role == row[2], "role of \(row[0])")
        }
    }

    @Test(.enabled(if: seedPresent, "the seed document is beside the checkout (required under CI)"))
    func personaKeysMatchTheSeed() throws {
        let rows = try Self.table(after: "Accepted keys per service")
        #expect(rows.count == 18)
        for row in rows {
            let definition = try #require(ServiceCatalogue.definition(for: ServiceKind(row[0])))
            let seedKeys = row[1].split(separator: ",").map { $0.trimmingWhitespace() }
            let ours = definition.personaKeys.filter { $0.origin == .seed }.map(\.name)
            #expect(ours == seedKeys, "persona keys of \(row[0])")
        }
        let withKeys = Set(rows.map { $0[0] })
        for definition in ServiceCatalogue.all where !withKeys.contains(definition.kind.rawValue) {
            #expect(
                definition.personaKeys.allSatisfy { $0.origin == .decnetSwift },
                "\(definition.kind) has keys the seed lacks"
            )
        }
    }

    @Test(.enabled(if: seedPresent, "the seed document is beside the checkout (required under CI)"))
    func archetypesMatchTheSeed() throws {
        let rows = try Self.table(after: "## Archetypes")
        #expect(rows.count == 15)
        #expect(rows.map { $0[0] } == ArchetypeCatalogue.all.map(\.slug))
        for row in rows {
            let archetype = try #require(ArchetypeCatalogue.archetype(for: row[0]))
            #expect(archetype.services.map(\.rawValue) == row[1].split(separator: ",").map { $0.trimmingWhitespace() })
            #expect(archetype.osFamily.rawValue == row[2])
            #expect(archetype.description == row[3])
            #expect(!archetype.preferredDistros.isEmpty)
            #expect(archetype.preferredDistros.allSatisfy { DistroCatalogue.profile(for: $0) != nil })
        }
    }

    @Test(.enabled(if: seedPresent, "the seed document is beside the checkout (required under CI)"))
    func distrosMatchTheSeed() throws {
        let rows = try Self.table(after: "## Distro Profiles")
        #expect(rows.count == 9)
        #expect(rows.map { $0[0] } == DistroCatalogue.all.map(\.slug))
        for row in rows {
            let profile = try #require(DistroCatalogue.profile(for: row[0]))
            #expect(profile.image == row[1])
            #expect(profile.displayName == row[2])
        }
    }

    @Test(.enabled(if: seedPresent, "the seed document is beside the checkout (required under CI)"))
    func osFamiliesMatchTheSeed() throws {
        let rows = try Self.table(after: "## OS Fingerprint Spoofing")
        #expect(rows.map { $0[0] } == OSFamily.allCases.map(\.rawValue))
        for row in rows {
            let family = try #require(OSFamily(rawValue: row[0]))
            #expect(family.stack.ttl == Int(row[1]))
            #expect(family.stack.synRetries == Int(row[2]))
            #expect(family.stack.notes == row[3])
            let sysctls = Dictionary(uniqueKeysWithValues: family.sysctls.map { ($0.key, $0.value) })
            #expect(sysctls["net.ipv4.ip_default_ttl"] == row[1])
            #expect(sysctls["net.ipv4.tcp_syn_retries"] == row[2])
        }
        // "+ 8 MB recv buffer" on windows.
        #expect(OSFamily.windows.sysctls.contains { $0.key == "net.ipv4.tcp_rmem" && $0.value.hasSuffix(" 8388608") })
    }

    @Test func countsAreTheSeeds() {
        #expect(ServiceCatalogue.all.count == 25)
        #expect(Set(ServiceCatalogue.kinds).count == 25)
        #expect(ArchetypeCatalogue.all.count == 15)
        #expect(DistroCatalogue.all.count == 9)
        #expect(OSFamily.allCases.count == 5)
    }
}
