import Dispatch
import GRDB
import GRDBSQLite
import Synchronization

/// Copies the store's write-ahead log back into the database file on a thread of its own, so the writer does not.
///
/// SQLite's own autocheckpoint runs inside the commit that takes the log past 1,000 pages, on the committing
/// connection: for the ingester that is the writer, the one thread every event waits for. The copy is about a third
/// of the inserts' time: `bench/lib/sqlite_floor.c` took 3.8–4.6 s for 200,000 events with it and 2.0–3.3 s with
/// `wal_autocheckpoint = 0` (2026-12-07).
///
/// This replaces it with a WAL hook (`sqlite3_wal_hook`, which SQLite's autocheckpoint is built on) on every
/// connection of the store: past `backgroundFrames` a commit only asks this checkpointer to run, and a PASSIVE
/// checkpoint from a connection of its own copies what is committed while the writer goes on. The log starts
/// again from its beginning only when a write transaction begins with every page copied, which a writer that never
/// pauses seldom finds; past `writerFrames` the committing connection checkpoints itself (by then only the pages
/// since the last background pass are left to copy), as before, so the log never grows without bound.
final class WALCheckpointer: Sendable {
    let path: String
    private let queue = DispatchQueue(label: "decnet.store.checkpoint")
    /// The checkpointer's own connection, opened at its first pass; used on `queue` only.
    private nonisolated(unsafe) var connection: OpaquePointer?
    /// A checkpoint is queued and has not started.
    private let queued = Atomic<Bool>(false)
    /// Background checkpoints run so far.
    let passes = Atomic<Int>(0)
    /// Pages in the log past which a commit asks for a background checkpoint: SQLite's autocheckpoint point.
    let backgroundFrames: Int32
    /// Pages in the log past which the committing connection checkpoints itself (128 MiB of 4 KiB pages).
    let writerFrames: Int32

    init(path: String, backgroundFrames: Int32 = 1000, writerFrames: Int32 = 32768) {
        self.path = path
        self.backgroundFrames = backgroundFrames
        self.writerFrames = writerFrames
    }

    /// Installs the hook on a connection of the store. The checkpointer must outlive the connection: install it
    /// from the store's `prepareDatabase` closure, which the connection's configuration keeps.
    func install(on connection: OpaquePointer) {
        sqlite3_wal_hook(
            connection,
            { context, connection, _, frames in
                guard let context, let connection else { return SQLITE_OK }
                let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
                if frames >= checkpointer.writerFrames {
                    // PASSIVE never waits: if the background pass holds the checkpoint lock, the next commit tries.
                    _ = sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                } else if frames >= checkpointer.backgroundFrames {
                    checkpointer.request()
                }
                return SQLITE_OK
            },
            Unmanaged.passUnretained(self).toOpaque()
        )
    }

    /// Queues a checkpoint unless one is queued already.
    func request() {
        guard self.queued.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        self.queue.async {
            self.queued.store(false, ordering: .releasing)
            self.checkpoint()
        }
    }

    /// One PASSIVE checkpoint from the checkpointer's own connection: copies every committed page no reader
    /// still needs from the log, waits for no one, and blocks no writer. A failure (the file is gone, a lock held
    /// too long) leaves the pages in the log for the next pass or for the writer.
    private func checkpoint() {
        if self.connection == nil {
            var opened: OpaquePointer?
            guard sqlite3_open_v2(self.path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK
            else {
                sqlite3_close_v2(opened)
                return
            }
            self.connection = opened
        }
        // A connection that has read nothing yet has not opened the log, and its checkpoint copies nothing.
        _ = sqlite3_exec(self.connection, "SELECT 1 FROM sqlite_master LIMIT 1", nil, nil, nil)
        _ = sqlite3_wal_checkpoint_v2(self.connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        self.passes.add(1, ordering: .relaxed)
    }

    deinit {
        sqlite3_close_v2(self.connection)
    }

    /// Returns when the checkpoints asked for so far have run.
    func settle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            self.queue.async { continuation.resume() }
        }
    }
}
