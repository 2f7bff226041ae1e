import GRDB
import GRDBSQLite

/// A cached GRDB statement run through SQLite's C API for the ingester's hot loop: text is bound straight from
/// a Swift string's UTF-8, with none of the boxed `StatementArguments` per value that were a third of the
/// writer's time. Use it inside one `write` block, on the connection that prepared it.
///
/// Text is copied once, into an arena the statement owns, and bound with `SQLITE_STATIC`, as
/// bench/lib/sqlite_floor.c binds it: with `SQLITE_TRANSIENT` SQLite made its own copy of every value (an
/// allocation, a copy and a free each, a dozen per row). The arena holds the row's values until `run()` has
/// stepped the statement; `run()` then clears the bindings, so no pointer into the arena outlives it.
struct BoundStatement {
    let statement: Statement
    let database: Database
    private let arena = BindArena()

    init(_ database: Database, sql: String) throws {
        self.database = database
        self.statement = try database.cachedStatement(sql: sql)
    }

    private var handle: SQLiteStatement { self.statement.sqliteStatement }

    /// SQLite reads the bytes where they are until the statement is stepped and its bindings cleared.
    private static let staticText = unsafeBitCast(OpaquePointer(bitPattern: 0), to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ text: String) {
        // Read in place: a native string (every one the parser makes) lends its UTF-8 without the copy and the
        // reference count that `withUTF8` on a `var` costs per value; anything else is made contiguous first.
        if let bound = text.utf8.withContiguousStorageIfAvailable({ self.bind(index, $0) }) { return bound }
        var text = text
        text.withUTF8 { self.bind(index, $0) }
    }

    private func bind(_ index: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        // An empty value is bound from a static empty string: SQLite reads a null pointer as NULL, not "".
        let base =
            bytes.isEmpty
            ? UnsafeRawPointer(("" as StaticString).utf8Start) : self.arena.copy(UnsafeRawBufferPointer(bytes))
        _ = sqlite3_bind_text(
            self.handle,
            index,
            base.assumingMemoryBound(to: CChar.self),
            Int32(bytes.count),
            Self.staticText
        )
    }

    func bindNull(_ index: Int32) {
        _ = sqlite3_bind_null(self.handle, index)
    }

    func bind(_ index: Int32, _ value: Int) {
        _ = sqlite3_bind_int64(self.handle, index, Int64(value))
    }

    /// Runs the statement with the values bound; returns the rows it changed. Every binding is cleared after
    /// (whatever the outcome), and the arena is free for the next row.
    @discardableResult
    func run() throws -> Int {
        let code = sqlite3_step(self.handle)
        defer {
            sqlite3_reset(self.handle)
            sqlite3_clear_bindings(self.handle)
            self.arena.reset()
        }
        guard code == SQLITE_DONE else {
            let message = self.database.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: self.statement.sql)
        }
        // SQLite's count straight from the statement's connection: GRDB's `changesCount` first checks, on every
        // call, that it runs on the connection's queue (two dispatch lookups per row).
        return Int(sqlite3_changes(sqlite3_db_handle(self.handle)))
    }
}

/// Where one row's bound text lives until the row is stepped. A value that does not fit starts a larger block;
/// the full ones are kept (the values bound in them are still read) until `reset()`.
final class BindArena {
    private var block: UnsafeMutableRawBufferPointer
    private var used = 0
    private var retired: [UnsafeMutableRawBufferPointer] = []

    init(capacity: Int = 16 * 1024) {
        self.block = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit {
        self.block.deallocate()
        for block in self.retired { block.deallocate() }
    }

    /// A copy of `bytes`, valid until `reset()`.
    func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawPointer {
        if bytes.count > self.block.count - self.used {
            self.retired.append(self.block)
            self.block = .allocate(byteCount: max(self.block.count * 2, bytes.count), alignment: 8)
            self.used = 0
        }
        let start = self.block.baseAddress! + self.used
        start.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        self.used += bytes.count
        return UnsafeRawPointer(start)
    }

    /// Every copy handed out is released (the larger block is kept for the next row).
    func reset() {
        self.used = 0
        for block in self.retired { block.deallocate() }
        self.retired.removeAll(keepingCapacity: true)
    }
}
