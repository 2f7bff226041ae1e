import Foundation

/// A MazeNET topology as kept on the master: its design (the topology file's text, re-read whenever it is
/// deployed), where the dashboard's canvas put each node, and its mutations (create, deploy, teardown), newest
/// last. One JSON file per topology, `<state>/topologies/<id>.json`, replaced by an atomic rename.
public struct TopologyRecord: Codable, Sendable, Equatable {
    public struct Mutation: Codable, Sendable, Equatable {
        public var id: String
        /// `create`, `deploy`, `teardown`.
        public var operation: String
        /// `pending`, `running`, `done`, `failed`.
        public var state: String
        public var message: String
        public var started: Date
        public var finished: Date?

        public init(id: String, operation: String, state: String, message: String, started: Date, finished: Date?) {
            self.id = id
            self.operation = operation
            self.state = state
            self.message = message
            self.started = started
            self.finished = finished
        }
    }

    public struct Position: Codable, Sendable, Equatable {
        public var x: Double
        public var y: Double

        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    public var id: String
    public var name: String
    public var created: Date
    /// The topology file's text.
    public var source: String
    /// `designed` (never deployed), `deployed`, `torn-down`.
    public var status: String
    /// Canvas positions by node (a segment `segment:NAME`, a decky by its name).
    public var positions: [String: Position]
    public var mutations: [Mutation]

    public init(id: String, name: String, created: Date, source: String) {
        self.id = id
        self.name = name
        self.created = created
        self.source = source
        self.status = "designed"
        self.positions = [:]
        self.mutations = []
    }

    /// A new topology under a fresh id, its creation recorded as its first mutation (`summary`: what it holds).
    public static func created(name: String, source: String, summary: String) -> TopologyRecord {
        var record = TopologyRecord(id: TopologyStore.newID(), name: name, created: Date(), source: source)
        record.mutations.append(
            Mutation(
                id: UUID().uuidString.lowercased(),
                operation: "create",
                state: "done",
                message: summary,
                started: record.created,
                finished: Date()
            )
        )
        return record
    }

    /// The namespace tag of its deployed network: `m` + the id's first 7 characters (namespace names stay short).
    public var networkName: String { "m" + self.id.prefix(7) }
}

public struct TopologyStore: Sendable {
    public let directory: String

    public init(stateDirectory: String) {
        self.directory = (stateDirectory as NSString).appendingPathComponent("topologies")
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    func path(_ id: String) -> String { (self.directory as NSString).appendingPathComponent("\(id).json") }

    /// A fresh id: 12 hex digits.
    public static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<12).map { _ in String(Int.random(in: 0..<16, using: &generator), radix: 16) }.joined()
    }

    public static func isID(_ text: String) -> Bool {
        text.count == 12 && text.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    public func all() -> [TopologyRecord] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: self.directory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { self.load(String($0.dropLast(5))) }
            .sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    public func load(_ id: String) -> TopologyRecord? {
        guard Self.isID(id), let data = FileManager.default.contents(atPath: self.path(id)) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(TopologyRecord.self, from: data)
    }

    /// The topology called `reference` by id or by name.
    public func find(_ reference: String) -> TopologyRecord? {
        self.load(reference) ?? self.all().first { $0.name == reference }
    }

    public func save(_ record: TopologyRecord) throws {
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(record).write(to: URL(fileURLWithPath: self.path(record.id)), options: .atomic)
    }

    /// Reads, changes and writes one record (two writers at once: the last one wins, each write whole).
    @discardableResult
    public func update(_ id: String, _ change: (inout TopologyRecord) throws -> Void) throws -> TopologyRecord {
        guard var record = self.load(id) else { throw Failure("no topology \(id)") }
        try change(&record)
        try self.save(record)
        return record
    }

    public func delete(_ id: String) throws {
        guard Self.isID(id) else { throw Failure("no topology \(id)") }
        try FileManager.default.removeItem(atPath: self.path(id))
    }
}
