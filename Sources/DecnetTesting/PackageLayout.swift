import Foundation

/// Paths inside the package checkout and its build folder, for tests that need a fixture or the built binary.
public enum PackageLayout {
    /// The package root, found by walking up from this source file to the folder holding Package.swift.
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url = url.deletingLastPathComponent()
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The `decnet` executable built beside the running test bundle.
    public static var decnetBinary: URL? {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("decnet")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = self.root.appendingPathComponent(".build/debug/decnet")
        return FileManager.default.isExecutableFile(atPath: fallback.path) ? fallback : nil
    }

    /// The seed document (the DECNET README), which lives beside the checkout in `../shared/seeds/`.
    public static var seedReadme: URL? {
        let seeds = self.root.deletingLastPathComponent().appendingPathComponent("shared/seeds")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: seeds.path) else { return nil }
        for name in names.sorted() where name.hasSuffix(".txt") {
            let url = seeds.appendingPathComponent(name)
            if let text = try? String(contentsOf: url, encoding: .utf8), text.hasPrefix("# DECNET") { return url }
        }
        return nil
    }
}
