import Foundation

/// Debian's nselib/mssql.lua with nmap's upstream fix for its ms-sql-* script runner (r38943): the two lines that
/// make every ms-sql-* port script fail in 7.93, mended in a copy under a data directory the test passes to
/// `--datadir` (nmap reads the rest of its files from their usual place).
public enum NmapMSSQLFix {
    public static let library = URL(fileURLWithPath: "/usr/share/nmap/nselib/mssql.lua")

    public static func dataDirectory(in directory: URL) throws -> URL {
        var source = try String(contentsOf: library, encoding: .utf8)
        let mends = [
            (
                "      local status, instances = Helper.GetDiscoveredInstances(host, port)\n      if status then",
                "      local instances = Helper.GetDiscoveredInstances(host, port)\n      if instances then"
            ),
            ("      if #output > 0 then", "      if next(output) then"),
        ]
        for (broken, mended) in mends {
            guard source.contains(broken) else {
                throw MendFailure(message: "\(library.path) no longer has \"\(broken)\": this nmap is fixed")
            }
            source = source.replacingOccurrences(of: broken, with: mended)
        }
        let nselib = directory.appendingPathComponent("nselib")
        try FileManager.default.createDirectory(at: nselib, withIntermediateDirectories: true)
        try source.write(to: nselib.appendingPathComponent("mssql.lua"), atomically: true, encoding: .utf8)
        return directory
    }

    struct MendFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
