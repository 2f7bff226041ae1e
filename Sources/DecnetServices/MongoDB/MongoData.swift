import Crypto
import Synchronization

/// The databases of one decky's mongod, shared by its connections: the persona's data set at start, then what
/// clients write, drop and insert (bounded), so the ransom pattern (dump, drop, insert a note) plays out as it
/// would on a real server and a later `listDatabases` shows the attacker's note.
final class MongoStore: Sendable {
    static let maximumDatabases = 64
    static let maximumCollections = 64
    static let maximumDocuments = 1_000
    /// What all stored documents may weigh together; writes beyond it are acknowledged and not kept.
    static let maximumBytes = 2 << 20

    struct Collection: Sendable {
        var name: String
        var documents: [BSONDocument]
    }

    struct Database: Sendable {
        var name: String
        var collections: [Collection]
    }

    private struct State {
        var databases: [Database]
        var bytes: Int
    }

    private let state: Mutex<State>

    init(_ databases: [Database]) {
        let bytes = databases.reduce(0) { total, database in
            database.collections.reduce(total) { $0 + $1.documents.reduce(0) { $0 + $1.bson.count } }
        }
        self.state = Mutex(State(databases: databases, bytes: bytes))
    }

    var databases: [Database] { self.state.withLock { $0.databases } }

    func database(_ name: String) -> Database? { self.state.withLock { $0.databases.first { $0.name == name } } }

    func documents(_ database: String, _ collection: String) -> [BSONDocument]? {
        self.database(database)?.collections.first { $0.name == collection }?.documents
    }

    /// Creates the collection (and its database) if there is room; false when it already existed.
    @discardableResult
    func create(_ database: String, _ collection: String) -> Bool {
        self.state.withLock { state in
            Self.create(&state, database, collection)
        }
    }

    private static func create(_ state: inout State, _ database: String, _ collection: String) -> Bool {
        if let index = state.databases.firstIndex(where: { $0.name == database }) {
            guard !state.databases[index].collections.contains(where: { $0.name == collection }) else { return false }
            if state.databases[index].collections.count < Self.maximumCollections {
                state.databases[index].collections.append(Collection(name: collection, documents: []))
            }
            return true
        }
        if state.databases.count < Self.maximumDatabases {
            state.databases.append(Database(name: database, collections: [Collection(name: collection, documents: [])]))
        }
        return true
    }

    /// Inserts documents (creating the collection, as an insert does), keeping what fits the bounds.
    func insert(_ database: String, _ collection: String, _ documents: [BSONDocument]) {
        self.state.withLock { state in
            _ = Self.create(&state, database, collection)
            guard let d = state.databases.firstIndex(where: { $0.name == database }),
                let c = state.databases[d].collections.firstIndex(where: { $0.name == collection })
            else { return }
            for document in documents {
                let size = document.bson.count
                guard state.bytes + size <= Self.maximumBytes,
                    state.databases[d].collections[c].documents.count < Self.maximumDocuments
                else { return }
                state.bytes += size
                state.databases[d].collections[c].documents.append(document)
            }
        }
    }

    /// Replaces a collection's documents (an update or delete computed by the caller).
    func replace(_ database: String, _ collection: String, with documents: [BSONDocument]) {
        self.state.withLock { state in
            guard let d = state.databases.firstIndex(where: { $0.name == database }),
                let c = state.databases[d].collections.firstIndex(where: { $0.name == collection })
            else { return }
            let before = state.databases[d].collections[c].documents.reduce(0) { $0 + $1.bson.count }
            var kept: [BSONDocument] = []
            var bytes = state.bytes - before
            for document in documents.prefix(Self.maximumDocuments) {
                let size = document.bson.count
                guard bytes + size <= Self.maximumBytes else { break }
                bytes += size
                kept.append(document)
            }
            state.bytes = bytes
            state.databases[d].collections[c].documents = kept
        }
    }

    /// Drops a collection; false if there was none.
    func drop(_ database: String, _ collection: String) -> Bool {
        self.state.withLock { state in
            guard let d = state.databases.firstIndex(where: { $0.name == database }),
                let c = state.databases[d].collections.firstIndex(where: { $0.name == collection })
            else { return false }
            state.bytes -= state.databases[d].collections[c].documents.reduce(0) { $0 + $1.bson.count }
            state.databases[d].collections.remove(at: c)
            if state.databases[d].collections.isEmpty { state.databases.remove(at: d) }
            return true
        }
    }

    /// Drops a database; false if there was none.
    func dropDatabase(_ database: String) -> Bool {
        self.state.withLock { state in
            guard let d = state.databases.firstIndex(where: { $0.name == database }) else { return false }
            for collection in state.databases[d].collections {
                state.bytes -= collection.documents.reduce(0) { $0 + $1.bson.count }
            }
            state.databases.remove(at: d)
            return true
        }
    }
}

/// The persona's data set: the system databases every mongod has and a small company's application data
/// (customers, orders, application users with password hashes: the data a ransom crew dumps first), with ids and
/// dates derived from the decky so no two deckies hold the same records.
enum MongoDataSet {
    static func databases(seed: [UInt8], hostname: String, featureVersion: String, now: Int64) -> [MongoStore.Database]
    {
        var counter: UInt32 = 0
        var random = SeededBytes(seed)
        let epoch = now / 1000 - 400 * 86_400
        func objectID(_ secondsAfter: Int64) -> BSONValue {
            counter += 1
            let seconds = UInt32(truncatingIfNeeded: epoch + secondsAfter)
            var bytes: [UInt8] = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: seconds >> $0) }
            bytes += random.next(5)
            bytes += [16, 8, 0].map { UInt8(truncatingIfNeeded: counter >> $0) }
            return .objectID(bytes)
        }
        func date(_ secondsAfter: Int64) -> BSONValue { .datetime((epoch + secondsAfter) * 1000) }

        let people: [(String, String, String, String, String)] = [
            ("Laura", "Hoffmann", "Brightline Logistics", "brightline-logistics.de", "+49 30 5557 1842"),
            ("Marcus", "Reid", "Reid & Partners LLP", "reidpartners.co.uk", "+44 20 7946 0321"),
            ("Sofia", "Marchetti", "Marchetti Foods", "marchettifoods.it", "+39 02 5556 7788"),
            ("Daniel", "Okafor", "Okafor Engineering", "okafor-eng.com", "+1 312 555 0148"),
            ("Hanna", "Lindqvist", "Nordvik Shipping AB", "nordvikshipping.se", "+46 8 555 234 11"),
            ("Tom", "Becker", "Becker Haustechnik", "becker-haustechnik.de", "+49 89 5551 2290"),
            ("Priya", "Nair", "Lotus Health Clinics", "lotushealth.com", "+1 415 555 0193"),
            ("Jean", "Dupont", "Atelier Dupont", "atelier-dupont.fr", "+33 1 5555 8824"),
        ]
        let customers = people.enumerated().map { index, person -> BSONDocument in
            let (first, last, company, domain, phone) = person
            return [
                "_id": objectID(Int64(index) * 86_400 * 9),
                "firstName": .string(first), "lastName": .string(last), "company": .string(company),
                "email": .string("\(first.lowercased()).\(last.lowercased())@\(domain)"),
                "phone": .string(phone), "tier": .string(["gold", "silver", "standard"][index % 3]),
                "createdAt": date(Int64(index) * 86_400 * 9),
            ]
        }
        let orders = (0..<12).map { index -> BSONDocument in
            let customer = customers[index % customers.count]["_id"] ?? .null
            return [
                "_id": objectID(Int64(index) * 86_400 * 7 + 3_600),
                "orderNo": .string("SO-\(24_100 + index * 37)"), "customerId": customer,
                "total": .double(Double(120 + (index * 7_919) % 4_800) + 0.5 * Double(index % 2)),
                "currency": .string("EUR"), "status": .string(["shipped", "paid", "open", "shipped"][index % 4]),
                "createdAt": date(Int64(index) * 86_400 * 7 + 3_600),
            ]
        }
        let staff = [("admin", "admin"), ("j.miller", "support"), ("s.cho", "finance"), ("deploy", "service")]
        let users = staff.enumerated().map { index, entry -> BSONDocument in
            let salt = Self.bcryptAlphabet(random.next(16))
            let hash = Self.bcryptAlphabet(random.next(23))
            return [
                "_id": objectID(Int64(index) * 3_600),
                "username": .string(entry.0), "role": .string(entry.1),
                "passwordHash": .string("$2b$10$" + salt.prefix(22) + hash.prefix(31)),
                "lastLogin": date(390 * 86_400 + Int64(index) * 7_200), "active": .bool(true),
            ]
        }
        return [
            MongoStore.Database(
                name: "admin",
                collections: [
                    MongoStore.Collection(
                        name: "system.version",
                        documents: [
                            ["_id": .string("featureCompatibilityVersion"), "version": .string(featureVersion)]
                        ]
                    )
                ]
            ),
            MongoStore.Database(
                name: "config",
                collections: [MongoStore.Collection(name: "system.sessions", documents: [])]
            ),
            MongoStore.Database(
                name: "local",
                collections: [
                    MongoStore.Collection(
                        name: "startup_log",
                        documents: [
                            [
                                "_id": .string("\(hostname)-\(now / 1000 - 86_400 * 12)"),
                                "hostname": .string(hostname), "startTime": .datetime(now - 86_400_000 * 12),
                                "pid": .int64(Int64(700 + Int(seed[0]) * 3)),
                            ]
                        ]
                    )
                ]
            ),
            MongoStore.Database(
                name: "crm",
                collections: [
                    MongoStore.Collection(name: "customers", documents: customers),
                    MongoStore.Collection(name: "orders", documents: orders),
                    MongoStore.Collection(name: "users", documents: users),
                ]
            ),
        ]
    }

    static func bcryptAlphabet(_ bytes: [UInt8]) -> String {
        let alphabet = Array("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String(bytes.flatMap { [alphabet[Int($0 & 63)], alphabet[Int(($0 >> 2) & 63)]] })
    }
}

/// Deterministic bytes from a seed (SHA-256 in counter mode): the same decky always shows the same data.
struct SeededBytes {
    private let seed: [UInt8]
    private var block: UInt32 = 0
    private var pool: [UInt8] = []

    init(_ seed: [UInt8]) { self.seed = seed }

    mutating func next(_ count: Int) -> [UInt8] {
        while self.pool.count < count {
            var hasher = SHA256()
            hasher.update(data: self.seed)
            hasher.update(data: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: self.block >> $0) })
            self.pool += Array(hasher.finalize())
            self.block += 1
        }
        defer { self.pool.removeFirst(count) }
        return Array(self.pool.prefix(count))
    }
}
