import GRDB
import GRDBSQLite

/// A cached GRDB statement run through SQLite's C API for the ingester's hot loop: text is bound straight from
/// a Swift string's UTF-8 (copied once by SQLite), with none of the boxed `StatementArguments` per value that
/// were a third of the writer's time. Use it inside one `write` block, on the connection that prepared it.
struct BoundStatement {
    let statement: Statement
    let database: Database

    init(_ database: Database, sql: String) throws {
        self.database = database
        self.statement = try database.cachedStatement(sql: sql)
    }

    private var handle: SQLiteStatement { self.statement.sqliteStatement }

    /// SQLite copies the bytes before `sqlite3_bind_text` returns.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ text: String) {
        // Read in place: a native string (every one the parser makes) lends its UTF-8 without the copy and the
        // reference count that `withUTF8` on a `var` costs per value; anything else is made contiguous first.
        if let bound = text.utf8.withContiguousStorageIfAvailable({ self.bind(index, $0) }) { return bound }
        var text = text
        text.withUTF8 { self.bind(index, $0) }
    }

    private func bind(_ index: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        // An empty buffer may have no base address; SQLite reads a null pointer as NULL, not "".
        let base = bytes.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(("" as StaticString).utf8Start)
        _ = sqlite3_bind_text(
            self.handle,
            index,
            base.assumingMemoryBound(to: CChar.self),
            Int32(bytes.count),
            Self.transient
        )
    }

    func bindNull(_ index: Int32) {
        _ = sqlite3_bind_null(self.handle, index)
    }

    func bind(_ index: Int32, _ value: Int) {
        _ = sqlite3_bind_int64(self.handle, index, Int64(value))
    }

    /// Runs the statement with the values bound; returns the rows it changed.
    @discardableResult
    func run() throws -> Int {
        let code = sqlite3_step(self.handle)
        guard code == SQLITE_DONE else {
            let message = self.database.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }
            sqlite3_reset(self.handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: self.statement.sql)
        }
        sqlite3_reset(self.handle)
        // SQLite's count straight from the statement's connection: GRDB's `changesCount` first checks, on every
        // call, that it runs on the connection's queue (two dispatch lookups per row).
        return Int(sqlite3_changes(sqlite3_db_handle(self.handle)))
    }
}
