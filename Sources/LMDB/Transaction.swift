import CLMDB
import FoundationEssentials

/// What both kinds of transaction can do: read. Values handed out as `UnsafeRawBufferPointer` point into the
/// memory map and are valid only until the transaction ends (in a write transaction, only until the next change
/// to the database); copy what you keep (`getBytes`, `Array(buffer)`).
///
/// ```swift
/// func balance(_ txn: some ReadableTransaction, _ db: Database, _ key: [UInt8]) throws -> [UInt8]? {
///     try txn.getBytes(db, key)
/// }
/// ```
public protocol ReadableTransaction: AnyObject {
    /// The value stored under `key`, without copying it, or `nil` if there is none.
    ///
    /// ```swift
    /// if let value = try txn.get(db, key) { print(value.count) }
    /// ```
    func get(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> UnsafeRawBufferPointer?

    /// A copy of the value stored under `key`, or `nil` if there is none.
    ///
    /// ```swift
    /// let value: [UInt8]? = try txn.getBytes(db, key)
    /// ```
    func getBytes(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> [UInt8]?

    /// Whether `key` has a value.
    ///
    /// ```swift
    /// if try txn.contains(db, key) { … }
    /// ```
    func contains(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> Bool

    /// A cursor on `db`, closed when the transaction ends at the latest.
    ///
    /// ```swift
    /// let cursor = try txn.cursor(db)
    /// while let (key, value) = try cursor.next() { … }
    /// ```
    func cursor(_ db: Database) throws(LMDBError) -> Cursor

    /// The number of entries in `db` (each duplicate counts).
    ///
    /// ```swift
    /// let count = try txn.entries(db)
    /// ```
    func entries(_ db: Database) throws(LMDBError) -> Int

    /// The entries of a key range, in order; see `CursorSequence` for the exact bounds.
    ///
    /// ```swift
    /// for (key, value) in try txn.scan(db, from: [0x10], to: [0x20], reverse: false) { … }
    /// ```
    func scan(_ db: Database, from: [UInt8]?, to: [UInt8]?, reverse: Bool) throws(LMDBError) -> CursorSequence

    /// The values stored under `key` in a `dupSort` database, in their sort order.
    ///
    /// ```swift
    /// for value in try txn.duplicates(index, memberKey) { … }
    /// ```
    func duplicates(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> DuplicateSequence

    /// How many values `key` holds in a `dupSort` database (0 when absent, 1 in other databases).
    ///
    /// ```swift
    /// let n = try txn.duplicateCount(index, memberKey)
    /// ```
    func duplicateCount(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> Int
}

/// Owns cursors: closes them when its transaction ends.
/// The reads both kinds of transaction share. `ReadTransaction` and `WriteTransaction` are its
/// only subclasses; it is never made on its own.
public class Transaction: ReadableTransaction, CursorOwner {
    @usableFromInline
    var core: TransactionCore
    let environment: Environment

    init(environment: Environment, handle: OpaquePointer) {
        self.environment = environment
        self.core = TransactionCore(handle: handle)
    }

    func unlink(_ cursor: Cursor) { core.unlink(cursor) }

    /// The value stored under `key`, without copying it, or `nil`: valid until the transaction
    /// ends (in a write transaction, until the next change).
    ///
    /// ```swift
    /// let length = try env.read { txn in try txn.get(db, key)?.count }
    /// ```
    @inlinable
    public final func get(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> UnsafeRawBufferPointer? {
        try core.get(db, key)
    }

    /// A copy of the value stored under `key`, or `nil`.
    ///
    /// ```swift
    /// let value = try env.read { txn in try txn.getBytes(db, key) }
    /// ```
    @inlinable
    public final func getBytes(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> [UInt8]? {
        try core.get(db, key).map { Array($0) }
    }

    /// Whether `key` has a value.
    ///
    /// ```swift
    /// try env.write { txn in if try !txn.contains(db, key) { try txn.put(db, key, value) } }
    /// ```
    @inlinable
    public final func contains(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> Bool {
        try core.get(db, key) != nil
    }

    /// A cursor on `db`, closed when the transaction ends at the latest.
    ///
    /// ```swift
    /// let last = try env.read { txn in try txn.cursor(db).last().map { Array($0.key) } }
    /// ```
    public final func cursor(_ db: Database) throws(LMDBError) -> Cursor {
        try core.openCursor(db, owner: self)
    }

    /// The number of entries in `db`.
    ///
    /// ```swift
    /// let count = try env.read { txn in try txn.entries(db) }
    /// ```
    public final func entries(_ db: Database) throws(LMDBError) -> Int {
        try core.entries(db)
    }

    /// The entries of a key range: forward `from <= key < to`, reverse `to <= key <= from`
    /// descending (see `CursorSequence`). In a write transaction, do not change the database
    /// while iterating.
    ///
    /// ```swift
    /// try env.read { txn in
    ///     for (key, value) in try txn.scan(db, from: [0x01], to: [0x02]) { … }
    /// }
    /// ```
    public final func scan(
        _ db: Database, from: [UInt8]? = nil, to: [UInt8]? = nil, reverse: Bool = false
    ) throws(LMDBError) -> CursorSequence {
        try CursorSequence(cursor: cursor(db), from: from, to: to, reverse: reverse)
    }

    /// The values of `key` in a `dupSort` database.
    ///
    /// ```swift
    /// let values = try env.read { txn in try txn.duplicates(index, key).map { Array($0) } }
    /// ```
    public final func duplicates(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> DuplicateSequence {
        try DuplicateSequence(cursor: cursor(db), key: key)
    }

    /// How many values `key` holds in a `dupSort` database.
    ///
    /// ```swift
    /// let n = try env.read { txn in try txn.duplicateCount(index, key) }
    /// ```
    public final func duplicateCount(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> Int {
        try core.duplicateCount(db, key)
    }
}

protocol CursorOwner: AnyObject {
    func unlink(_ cursor: Cursor)
}

/// The state and read operations shared by `ReadTransaction` and `WriteTransaction`.
@usableFromInline
struct TransactionCore {
    /// The `MDB_txn`; nil once the transaction has ended.
    @usableFromInline
    var handle: OpaquePointer?
    /// Head of the list of open cursors (each cursor keeps its owner alive; the list does not keep cursors alive).
    unowned(unsafe) var cursors: Cursor?

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    @inlinable
    func get(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var found: UnsafeRawBufferPointer?
        let rc = key.withUnsafeBytes { lookup(db.handle, $0, &found) }
        if rc != MDB_SUCCESS { throw LMDBError(code: rc) }
        return found
    }

    /// `mdb_get`; not found is success with `found` left nil.
    @usableFromInline
    func lookup(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ found: inout UnsafeRawBufferPointer?) -> Int32 {
        guard let handle else { return MDB_BAD_TXN }
        var keyValue = MDB_val(key)
        var value = MDB_val()
        let rc = mdb_get(handle, dbi, &keyValue, &value)
        if rc == MDB_SUCCESS {
            found = UnsafeRawBufferPointer(value)
            return MDB_SUCCESS
        }
        return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc
    }

    func entries(_ db: Database) throws(LMDBError) -> Int {
        guard let handle else { throw .badTransaction }
        var stat = MDB_stat()
        try check(mdb_stat(handle, db.handle, &stat))
        return stat.ms_entries
    }

    mutating func openCursor(_ db: Database, owner: some CursorOwner) throws(LMDBError) -> Cursor {
        guard let handle else { throw .badTransaction }
        var raw: OpaquePointer?
        try check(mdb_cursor_open(handle, db.handle, &raw))
        let cursor = Cursor(handle: raw!, database: db, owner: owner)
        cursor.nextCursor = cursors
        cursors?.previousCursor = cursor
        cursors = cursor
        return cursor
    }

    mutating func unlink(_ cursor: Cursor) {
        if cursors === cursor { cursors = cursor.nextCursor }
        cursor.previousCursor?.nextCursor = cursor.nextCursor
        cursor.nextCursor?.previousCursor = cursor.previousCursor
        cursor.previousCursor = nil
        cursor.nextCursor = nil
    }

    /// Closes every open cursor: LMDB frees a write transaction's cursors when it ends, so they must not outlive it.
    mutating func closeCursors() {
        var cursor = cursors
        cursors = nil
        while let current = cursor {
            cursor = current.nextCursor
            current.invalidate()
        }
    }

    func duplicateCount(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> Int {
        guard let handle else { throw .badTransaction }
        var raw: OpaquePointer?
        try check(mdb_cursor_open(handle, db.handle, &raw))
        defer { mdb_cursor_close(raw) }
        let rc = key.withUnsafeBytes { key in
            var keyValue = MDB_val(key)
            var value = MDB_val()
            return mdb_cursor_get(raw, &keyValue, &value, MDB_SET)
        }
        if rc == MDB_NOTFOUND { return 0 }
        try check(rc)
        guard db.flags.contains(.dupSort) else { return 1 }
        var count = 0
        try check(mdb_cursor_count(raw, &count))
        return count
    }
}

extension MDB_val {
    /// A value pointing at `buffer`; an empty buffer gets a valid non-null pointer.
    @usableFromInline @inline(__always)
    init(_ buffer: UnsafeRawBufferPointer) {
        self.init(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? emptyBytes))
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes an `MDB_val` points at.
    @usableFromInline @inline(__always)
    init(_ value: MDB_val) {
        self.init(start: value.mv_data, count: value.mv_size)
    }
}

/// A valid address for empty keys and values (LMDB copies zero bytes from it).
@usableFromInline
nonisolated(unsafe) let emptyBytes = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8))

/// Throws the error for a failed `mdb_*` return code.
@inline(__always)
func check(_ rc: Int32) throws(LMDBError) {
    if rc != MDB_SUCCESS { throw LMDBError(code: rc) }
}
