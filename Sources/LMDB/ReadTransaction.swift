import CLMDB
import FoundationEssentials

/// A read-only snapshot of the environment, handed to the closure of `Environment.read` and valid only inside
/// it: it ends when the closure returns, and any use afterwards throws `LMDBError.badTransaction`. Not for sharing
/// between threads.
///
/// ```swift
/// let value = try env.read { txn in try txn.getBytes(db, key) }
/// ```
public final class ReadTransaction: ReadableTransaction, CursorOwner {
    @usableFromInline
    var core: TransactionCore
    let environment: Environment

    init(environment: Environment, handle: OpaquePointer) {
        self.environment = environment
        self.core = TransactionCore(handle: handle)
    }

    deinit {
        finish()
    }

    /// Ends the transaction: closes its cursors, releases its snapshot and reader slot.
    func finish() {
        guard let handle = core.handle else { return }
        core.closeCursors()
        mdb_txn_abort(handle)
        core.handle = nil
        environment.endTransaction()
    }

    func unlink(_ cursor: Cursor) { core.unlink(cursor) }

    /// The value stored under `key`, without copying it (valid until the transaction ends), or `nil`.
    ///
    /// ```swift
    /// let length = try env.read { txn in try txn.get(db, key)?.count }
    /// ```
    @inlinable
    public func get(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> UnsafeRawBufferPointer? {
        try core.get(db, key)
    }

    /// A copy of the value stored under `key`, or `nil`.
    ///
    /// ```swift
    /// let value = try env.read { txn in try txn.getBytes(db, key) }
    /// ```
    @inlinable
    public func getBytes(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> [UInt8]? {
        try core.get(db, key).map { Array($0) }
    }

    /// Whether `key` has a value.
    ///
    /// ```swift
    /// let known = try env.read { txn in try txn.contains(db, key) }
    /// ```
    @inlinable
    public func contains(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> Bool {
        try core.get(db, key) != nil
    }

    /// A cursor on `db`, closed when the transaction ends at the latest.
    ///
    /// ```swift
    /// let last = try env.read { txn in try txn.cursor(db).last().map { Array($0.key) } }
    /// ```
    public func cursor(_ db: Database) throws(LMDBError) -> Cursor {
        try core.openCursor(db, owner: self)
    }

    /// The number of entries in `db`.
    ///
    /// ```swift
    /// let count = try env.read { txn in try txn.entries(db) }
    /// ```
    public func entries(_ db: Database) throws(LMDBError) -> Int {
        try core.entries(db)
    }

    /// The entries of a key range: forward `from <= key < to`, reverse `to <= key <= from` descending (see
    /// `CursorSequence`).
    ///
    /// ```swift
    /// try env.read { txn in
    ///     for (key, value) in try txn.scan(db, from: [0x01], to: [0x02]) { … }
    /// }
    /// ```
    public func scan(
        _ db: Database, from: [UInt8]? = nil, to: [UInt8]? = nil, reverse: Bool = false
    ) throws(LMDBError) -> CursorSequence {
        try CursorSequence(cursor: cursor(db), from: from, to: to, reverse: reverse)
    }

    /// The values of `key` in a `dupSort` database.
    ///
    /// ```swift
    /// let values = try env.read { txn in try txn.duplicates(index, key).map { Array($0) } }
    /// ```
    public func duplicates(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> DuplicateSequence {
        try DuplicateSequence(cursor: cursor(db), key: key)
    }

    /// How many values `key` holds in a `dupSort` database.
    ///
    /// ```swift
    /// let n = try env.read { txn in try txn.duplicateCount(index, key) }
    /// ```
    public func duplicateCount(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> Int {
        try core.duplicateCount(db, key)
    }
}
