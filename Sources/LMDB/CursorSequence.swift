import CLMDB
import FoundationEssentials

/// The entries of a key range, read lazily through a cursor, single pass. Keys compare the way the database
/// orders them (bytes, or numbers for `integerKey`).
///
/// - forward (`reverse: false`): every key `k` with `from <= k < to`, ascending. `from: nil` starts at the first
///   key, `to: nil` runs to the last.
/// - reverse (`reverse: true`): every key `k` with `to <= k <= from`, descending: it starts at the last key less
///   than or equal to `from` (the last key when `from` is nil) and goes down while `k >= to` (to the first key when
///   `to` is nil). Note that `from` is inclusive both ways, `to` is exclusive forward and inclusive in reverse.
///
/// In a `dupSort` database every value is an entry. Entries are valid until the transaction ends. Iteration with
/// `for … in` stops at the first error and keeps it in `error`; `nextEntry()` throws it instead.
///
/// ```swift
/// for (key, value) in try txn.scan(db, from: start, to: end) { … }     // [start, end)
/// for (key, value) in try txn.scan(db, from: end, reverse: true) { … } // newest first, up to end
/// ```
public final class CursorSequence: Sequence, IteratorProtocol {
    public typealias Element = Cursor.Entry

    private let cursor: Cursor
    private let bound: [UInt8]?
    private let reverse: Bool
    private var pending: Element?
    private var started = false
    private var finished = false

    /// The error that ended the iteration early, if any.
    ///
    /// ```swift
    /// let entries = try txn.scan(db)
    /// for entry in entries { … }
    /// if let error = entries.error { throw error }
    /// ```
    public private(set) var error: LMDBError?

    init(cursor: Cursor, from: [UInt8]?, to: [UInt8]?, reverse: Bool) throws(LMDBError) {
        self.cursor = cursor
        self.bound = to
        self.reverse = reverse
        let first: Element?
        switch (from, reverse) {
        case (nil, false):
            first = try cursor.first()
        case (let from?, false):
            first = from.isEmpty ? try cursor.first() : try cursor.seek(from)
        case (nil, true):
            first = try cursor.last()
        case (let from?, true):
            // Nothing sorts before the empty key, and LMDB refuses to seek it.
            if from.isEmpty {
                first = nil
            } else if let atOrAfter = try cursor.seek(from) {
                let exact = from.withUnsafeBytes { cursor.compare(atOrAfter.key, $0) == 0 }
                if exact {
                    first = cursor.database.flags.contains(.dupSort) ? try cursor.lastDuplicate() : atOrAfter
                } else {
                    first = try cursor.previous()
                }
            } else {
                first = try cursor.last()
            }
        }
        pending = first
    }

    /// The next entry, or nil at the end of the range; throws what `next()` would keep in `error`.
    ///
    /// ```swift
    /// let entries = try txn.scan(db)
    /// while let (key, value) = try entries.nextEntry() { … }
    /// ```
    public func nextEntry() throws(LMDBError) -> Element? {
        if finished { return nil }
        let entry: Element?
        if !started {
            started = true
            entry = pending
            pending = nil
        } else {
            do {
                entry = try reverse ? cursor.previous() : cursor.next()
            } catch {
                finish()
                throw error
            }
        }
        guard let entry, inRange(entry.key) else {
            finish()
            return nil
        }
        return entry
    }

    /// The next entry, or nil at the end of the range or on an error (kept in `error`).
    ///
    /// ```swift
    /// let entries = try txn.scan(db)
    /// while let (key, value) = entries.next() { … }
    /// ```
    public func next() -> Element? {
        do {
            return try nextEntry()
        } catch {
            self.error = error
            return nil
        }
    }

    private func inRange(_ key: UnsafeRawBufferPointer) -> Bool {
        guard let bound else { return true }
        let order = bound.withUnsafeBytes { cursor.compare(key, $0) }
        return reverse ? order >= 0 : order < 0
    }

    private func finish() {
        finished = true
        cursor.close()
    }
}

/// The values of one key in a `dupSort` database, in their sort order, read lazily, single pass. In other
/// databases: the key's one value. Values are valid until the transaction ends.
///
/// ```swift
/// for value in try txn.duplicates(index, memberKey) { print(Array(value)) }
/// ```
public final class DuplicateSequence: Sequence, IteratorProtocol {
    public typealias Element = UnsafeRawBufferPointer

    private let cursor: Cursor
    private var pending: Element?
    private var started = false
    private var finished = false

    /// The error that ended the iteration early, if any.
    ///
    /// ```swift
    /// let values = try txn.duplicates(index, key)
    /// for value in values { … }
    /// if let error = values.error { throw error }
    /// ```
    public private(set) var error: LMDBError?

    init(cursor: Cursor, key: some ContiguousBytes) throws(LMDBError) {
        self.cursor = cursor
        pending = try cursor.seekExact(key)?.value
        if pending == nil { finished = true; cursor.close() }
    }

    /// The next value, or nil after the last; throws what `next()` would keep in `error`.
    ///
    /// ```swift
    /// while let value = try values.nextValue() { … }
    /// ```
    public func nextValue() throws(LMDBError) -> Element? {
        if finished { return nil }
        if !started {
            started = true
            defer { pending = nil }
            return pending
        }
        guard cursor.database.flags.contains(.dupSort) else {
            finish()
            return nil
        }
        do {
            guard let entry = try cursor.nextDuplicate() else {
                finish()
                return nil
            }
            return entry.value
        } catch {
            finish()
            throw error
        }
    }

    /// The next value, or nil after the last or on an error (kept in `error`).
    ///
    /// ```swift
    /// while let value = values.next() { … }
    /// ```
    public func next() -> Element? {
        do {
            return try nextValue()
        } catch {
            self.error = error
            return nil
        }
    }

    private func finish() {
        finished = true
        cursor.close()
    }
}
