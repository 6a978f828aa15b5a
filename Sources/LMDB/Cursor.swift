import CLMDB
import FoundationEssentials

/// A position in a database, moved key by key. Its entries point into the memory map: valid until the
/// transaction ends (in a write transaction, until the next change). A cursor is closed when its transaction
/// ends, or earlier with `close()`; using it afterwards throws `LMDBError.badTransaction`.
///
/// ```swift
/// let cursor = try txn.cursor(db)
/// var entry = try cursor.seek([0x10])        // first key >= 0x10
/// while let (key, value) = entry {
///     print(Array(key), value.count)
///     entry = try cursor.next()
/// }
/// ```
public final class Cursor {
    /// A key and its value, both pointing into the memory map.
    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    /// The database the cursor moves in.
    public let database: Database
    /// The `MDB_cursor`; nil once closed.
    private var handle: OpaquePointer?
    /// Keeps the transaction object alive, and unlinks the cursor from it on close.
    private let owner: any CursorOwner
    unowned(unsafe) var previousCursor: Cursor?
    unowned(unsafe) var nextCursor: Cursor?
    /// The 4 KiB block `warmBlock(of:)` loaded last, and the sum of its loads: stored, so that
    /// the compiler keeps them.
    @usableFromInline var warmedBlock = 0
    private var warmSum: UInt8 = 0

    init(handle: OpaquePointer, database: Database, owner: any CursorOwner) {
        self.handle = handle
        self.database = database
        self.owner = owner
    }

    deinit {
        close()
    }

    /// Closes the cursor before its transaction ends (it would be closed then anyway). Closing twice is harmless.
    ///
    /// ```swift
    /// let cursor = try txn.cursor(db)
    /// defer { cursor.close() }
    /// ```
    public func close() {
        guard let handle else { return }
        mdb_cursor_close(handle)
        self.handle = nil
        owner.unlink(self)
    }

    /// Called by the transaction as it ends: close without touching its cursor list.
    func invalidate() {
        if let handle { mdb_cursor_close(handle) }
        handle = nil
        previousCursor = nil
        nextCursor = nil
    }

    /// Stores `key` and `value` after the last entry of a database of a write transaction; the
    /// key must sort after every key there (else `LMDBError.keyExists`). The cursor stays at
    /// the end, so that a long run of appends does not descend from the root each time, as
    /// `WriteTransaction.put(_:_:_:flags: .append)` does.
    ///
    /// ```swift
    /// let cursor = try txn.cursor(db)
    /// for (key, value) in sorted { try cursor.append(key, value) }
    /// ```
    public func append(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(LMDBError) {
        guard let handle, let writer = owner as? WriteTransaction else { throw .badTransaction }
        var keyValue = MDB_val(key)
        var dataValue = MDB_val(value)
        let rc = mdb_cursor_put(handle, &keyValue, &dataValue, UInt32(MDB_APPEND))
        if rc != MDB_SUCCESS { throw LMDBError(code: writer.failed(rc)) }
    }

    /// Stores `value` under `key` in a database of a write transaction (in a `dupSort` one,
    /// adds it to the key's values) and moves the cursor to it. Puts in key order through one
    /// cursor find most keys on the leaf it stands on, where `WriteTransaction.put` descends
    /// from the root for each.
    ///
    /// ```swift
    /// let cursor = try txn.cursor(db)
    /// for (key, value) in sortedChanges { try cursor.put(key, value) }
    /// ```
    public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(LMDBError) {
        guard let handle, let writer = owner as? WriteTransaction else { throw .badTransaction }
        var keyValue = MDB_val(key)
        var dataValue = MDB_val(value)
        let rc = mdb_cursor_put(handle, &keyValue, &dataValue, 0)
        if rc != MDB_SUCCESS { throw LMDBError(code: writer.failed(rc)) }
    }

    /// Deletes the entry the cursor stands on (in a `dupSort` database, that one value), in a
    /// write transaction. The entries read before it are no longer valid.
    ///
    /// ```swift
    /// while try cursor.first() != nil { try cursor.deleteCurrent() }
    /// ```
    public func deleteCurrent() throws(LMDBError) {
        guard let handle, let writer = owner as? WriteTransaction else { throw .badTransaction }
        let rc = mdb_cursor_del(handle, 0)
        if rc != MDB_SUCCESS { throw LMDBError(code: writer.failed(rc)) }
    }

    /// The first entry (for a `dupSort` key: its first value), or nil if the database is empty.
    ///
    /// ```swift
    /// let oldest = try cursor.first()
    /// ```
    public func first() throws(LMDBError) -> Entry? { try move(MDB_FIRST) }

    /// The last entry, or nil if the database is empty.
    ///
    /// ```swift
    /// let newest = try cursor.last()
    /// ```
    public func last() throws(LMDBError) -> Entry? { try move(MDB_LAST) }

    /// The next entry (the next duplicate, or the next key), or nil at the end. On a fresh cursor: the first.
    ///
    /// ```swift
    /// while let (key, value) = try cursor.next() { … }
    /// ```
    public func next() throws(LMDBError) -> Entry? { try move(MDB_NEXT) }

    /// The previous entry, or nil at the start. On a fresh cursor: the last.
    ///
    /// ```swift
    /// while let (key, value) = try cursor.previous() { … }
    /// ```
    public func previous() throws(LMDBError) -> Entry? { try move(MDB_PREV) }

    /// The first value of the next key, skipping the current key's other duplicates.
    ///
    /// ```swift
    /// while let (key, _) = try cursor.nextKey() { … }
    /// ```
    public func nextKey() throws(LMDBError) -> Entry? { try move(MDB_NEXT_NODUP) }

    /// The last value of the previous key.
    ///
    /// ```swift
    /// let before = try cursor.previousKey()
    /// ```
    public func previousKey() throws(LMDBError) -> Entry? { try move(MDB_PREV_NODUP) }

    /// The current key's next value in a `dupSort` database, or nil after its last.
    ///
    /// ```swift
    /// while let (_, value) = try cursor.nextDuplicate() { … }
    /// ```
    public func nextDuplicate() throws(LMDBError) -> Entry? { try move(MDB_NEXT_DUP) }

    /// The current key's previous value in a `dupSort` database, or nil before its first.
    ///
    /// ```swift
    /// let earlier = try cursor.previousDuplicate()
    /// ```
    public func previousDuplicate() throws(LMDBError) -> Entry? { try move(MDB_PREV_DUP) }

    /// The current key's first value in a `dupSort` database.
    ///
    /// ```swift
    /// let smallest = try cursor.firstDuplicate()
    /// ```
    public func firstDuplicate() throws(LMDBError) -> Entry? { try move(MDB_FIRST_DUP) }

    /// The current key's last value in a `dupSort` database.
    ///
    /// ```swift
    /// let largest = try cursor.lastDuplicate()
    /// ```
    public func lastDuplicate() throws(LMDBError) -> Entry? { try move(MDB_LAST_DUP) }

    /// The entry under the cursor, or nil if it is not positioned.
    ///
    /// ```swift
    /// let here = try cursor.current()
    /// ```
    public func current() throws(LMDBError) -> Entry? { try move(MDB_GET_CURRENT) }

    /// Moves to the first key greater than or equal to `key` (`MDB_SET_RANGE`); nil if there is none.
    ///
    /// ```swift
    /// let atOrAfter = try cursor.seek([0x00, 0x2a])
    /// ```
    public func seek(_ key: some ContiguousBytes) throws(LMDBError) -> Entry? {
        try move(MDB_SET_RANGE, key: key)
    }

    /// Moves to `key` exactly (its first value in a `dupSort` database); nil if absent.
    ///
    /// ```swift
    /// if let (_, value) = try cursor.seekExact(key) { … }
    /// ```
    public func seekExact(_ key: some ContiguousBytes) throws(LMDBError) -> Entry? {
        try move(MDB_SET_KEY, key: key)
    }

    /// In a `dupSort` database, moves to `key`'s first value greater than or equal to `value`
    /// (`MDB_GET_BOTH_RANGE`); nil if there is none.
    ///
    /// ```swift
    /// let atOrAfter = try cursor.seek(memberKey, value: since)
    /// ```
    public func seek(_ key: some ContiguousBytes, value: some ContiguousBytes) throws(LMDBError) -> Entry? {
        let (rc, entry) = key.withUnsafeBytes { key in
            value.withUnsafeBytes { value in
                var keyValue = MDB_val(key)
                var dataValue = MDB_val(value)
                return get(&keyValue, &dataValue, MDB_GET_BOTH_RANGE)
            }
        }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        return entry
    }

    /// How many values the current key holds (1 outside `dupSort` databases).
    ///
    /// ```swift
    /// _ = try cursor.seekExact(key)
    /// let n = try cursor.duplicateCount()
    /// ```
    public func duplicateCount() throws(LMDBError) -> Int {
        guard let handle else { throw .badTransaction }
        guard database.flags.contains(.dupSort) else {
            return (try? current()) == nil ? 0 : 1
        }
        var count = 0
        try check(mdb_cursor_count(handle, &count))
        return count
    }

    /// Loads every cache line of the 4 KiB block of memory that holds `bytes` (an entry's key or
    /// value), unless the last call loaded that block. For a walk over many small entries: LMDB
    /// keeps a page's nodes in no particular address order, so reading them one by one is a cache
    /// miss per entry, while the independent loads of a whole block overlap. Memory pages are 4 KiB
    /// or larger, so the block of any readable byte is readable.
    ///
    /// ```swift
    /// while let (key, value) = entry {
    ///     cursor.warmBlock(of: key)
    ///     …
    /// }
    /// ```
    @inlinable public func warmBlock(of bytes: UnsafeRawBufferPointer) {
        // Inlined up to here: a walk asks at every entry and loads once per page.
        guard let start = bytes.baseAddress, !bytes.isEmpty else { return }
        let block = Int(bitPattern: start) & ~4095
        if block != warmedBlock { load(block: block) }
    }

    /// Loads a line of each 64 bytes of `block` (a 4 KiB-aligned address).
    @usableFromInline func load(block: Int) {
        guard let base = UnsafeRawPointer(bitPattern: block) else { return }
        warmedBlock = block
        var sum: UInt8 = 0
        for line in stride(from: 0, to: 4096, by: 64) { sum &+= base.load(fromByteOffset: line, as: UInt8.self) }
        warmSum &+= sum
    }

    /// Compares two keys the way the database orders them.
    func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int32 {
        guard let handle else { return 0 }
        var left = MDB_val(a)
        var right = MDB_val(b)
        return mdb_cmp(mdb_cursor_txn(handle), database.handle, &left, &right)
    }

    private func move(_ op: MDB_cursor_op) throws(LMDBError) -> Entry? {
        var key = MDB_val()
        var value = MDB_val()
        let (rc, entry) = get(&key, &value, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        return entry
    }

    private func move(_ op: MDB_cursor_op, key: some ContiguousBytes) throws(LMDBError) -> Entry? {
        let (rc, entry) = key.withUnsafeBytes { key in
            var keyValue = MDB_val(key)
            var value = MDB_val()
            return get(&keyValue, &value, op)
        }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        return entry
    }

    @inline(__always)
    private func get(_ key: inout MDB_val, _ value: inout MDB_val, _ op: MDB_cursor_op) -> (Int32, Entry?) {
        guard let handle else { return (MDB_BAD_TXN, nil) }
        var rc = mdb_cursor_get(handle, &key, &value, op)
        // These return no key (or leave the caller's): read the key the cursor now stands on.
        if rc == MDB_SUCCESS && (op == MDB_FIRST_DUP || op == MDB_LAST_DUP || op == MDB_GET_BOTH_RANGE) {
            rc = mdb_cursor_get(handle, &key, &value, MDB_GET_CURRENT)
        }
        guard rc == MDB_SUCCESS else { return (rc, nil) }
        return (rc, (UnsafeRawBufferPointer(key), UnsafeRawBufferPointer(value)))
    }
}
