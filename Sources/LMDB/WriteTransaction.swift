import CLMDB
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// A write transaction, handed to the closure of `Environment.write` and valid only inside it: it commits when
/// the closure returns and aborts when it throws; any use afterwards throws `LMDBError.badTransaction`. It stays on
/// the thread that began it. Values read from it are valid until the next change or the end of the transaction.
///
/// ```swift
/// try env.write { txn in
///     try txn.put(events, key, payload, flags: .append)
///     _ = try txn.delete(pending, key)
/// }
/// ```
public final class WriteTransaction: Transaction {    /// A call hit `MDB_MAP_FULL`: the transaction is dead, and `write` grows the map and runs the body again
    /// even if the body caught the error.
    @usableFromInline
    var hitMapFull = false
    /// Databases opened in this transaction: the environment learns them on commit.
    private var opened: [String: Database] = [:]
    /// Databases dropped in this transaction: LMDB closes their handles at once, whatever the outcome.
    private var dropped: Set<String> = []

    deinit {
        abort()
    }

    /// Notes the failures the environment must act on.
    @usableFromInline
    func failed(_ rc: Int32) -> Int32 {
        if rc == MDB_MAP_FULL { hitMapFull = true }
        return rc
    }

    /// Aborts, unless already ended.
    func abort() {
        guard let handle = core.handle else { return }
        core.closeCursors()
        mdb_txn_abort(handle)
        core.handle = nil
        environment.forget(dropped: dropped)
        environment.endTransaction()
    }

    /// Commits; a failed commit is aborted by LMDB and reported.
    func commit(durable: Bool) throws(LMDBError) {
        guard let handle = core.handle else { throw .badTransaction }
        core.closeCursors()
        core.handle = nil
        let rc = environment.commit(handle, durable: durable)
        if rc == MDB_SUCCESS {
            environment.learn(opened: opened, dropped: dropped)
        } else {
            environment.forget(dropped: dropped)
        }
        environment.endTransaction()
        // LMDB reports a short write, what a full disk gives, as EIO: say what it most likely is.
        if rc == EIO, environment.diskIsNearlyFull { throw .diskFull }
        try check(failed(rc))
    }

    /// Stores `value` under `key`.
    ///
    /// ```swift
    /// try env.write { txn in try txn.put(db, [0x01], [0xff], flags: .noOverwrite) }
    /// ```
    @inlinable
    public func put(
        _ db: Database, _ key: some ContiguousBytes, _ value: some ContiguousBytes, flags: PutFlags = []
    ) throws(LMDBError) {
        let rc = key.withUnsafeBytes { key in
            value.withUnsafeBytes { value in store(db.handle, key, value, flags.rawValue) }
        }
        if rc != MDB_SUCCESS { throw LMDBError(code: rc) }
    }

    @usableFromInline
    func store(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ flags: UInt32) -> Int32 {
        guard let handle = core.handle else { return MDB_BAD_TXN }
        var keyValue = MDB_val(key)
        var dataValue = MDB_val(value)
        let rc = mdb_put(handle, dbi, &keyValue, &dataValue, flags)
        return rc == MDB_SUCCESS ? rc : failed(rc)
    }

    /// Deletes `key` (every value of it in a `dupSort` database); false if it was absent.
    ///
    /// ```swift
    /// let existed = try env.write { txn in try txn.delete(db, key) }
    /// ```
    @inlinable
    public func delete(_ db: Database, _ key: some ContiguousBytes) throws(LMDBError) -> Bool {
        let rc = key.withUnsafeBytes { key in remove(db.handle, key, nil) }
        if rc == MDB_NOTFOUND { return false }
        if rc != MDB_SUCCESS { throw LMDBError(code: rc) }
        return true
    }

    /// Deletes the pair `key`/`value` of a `dupSort` database; false if it was absent.
    ///
    /// ```swift
    /// let existed = try env.write { txn in try txn.delete(index, memberKey, value: eventKey) }
    /// ```
    @inlinable
    public func delete(_ db: Database, _ key: some ContiguousBytes, value: some ContiguousBytes) throws(LMDBError) -> Bool {
        let rc = key.withUnsafeBytes { key in value.withUnsafeBytes { value in remove(db.handle, key, value) } }
        if rc == MDB_NOTFOUND { return false }
        if rc != MDB_SUCCESS { throw LMDBError(code: rc) }
        return true
    }

    @usableFromInline
    func remove(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?) -> Int32 {
        guard let handle = core.handle else { return MDB_BAD_TXN }
        var keyValue = MDB_val(key)
        let rc: Int32
        if let value {
            var dataValue = MDB_val(value)
            rc = mdb_del(handle, dbi, &keyValue, &dataValue)
        } else {
            rc = mdb_del(handle, dbi, &keyValue, nil)
        }
        return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? rc : failed(rc)
    }

    /// Deletes every entry of `db`, keeping the database.
    ///
    /// ```swift
    /// try env.write { txn in try txn.clear(projection) }
    /// ```
    public func clear(_ db: Database) throws(LMDBError) {
        guard let handle = core.handle else { throw .badTransaction }
        try check(failed(mdb_drop(handle, db.handle, 0)))
    }

    /// Deletes `db` and its handle; open it again (it is then created anew) to use the name.
    ///
    /// ```swift
    /// try env.write { txn in try txn.drop(oldProjection) }
    /// ```
    public func drop(_ db: Database) throws(LMDBError) {
        guard let handle = core.handle else { throw .badTransaction }
        let rc = mdb_drop(handle, db.handle, 1)
        if rc == MDB_SUCCESS {
            opened[db.name] = nil
            dropped.insert(db.name)
        }
        try check(failed(rc))
    }

    /// Opens (and with `create`, creates) the database `name` in this transaction. The handle serves the whole
    /// environment once this transaction commits; if it aborts, a database it created is forgotten. Opening an
    /// existing database with other flags than it was created with throws `LMDBError.incompatible`; opening a
    /// missing one without `create` throws `LMDBError.notFound`.
    ///
    /// ```swift
    /// try env.write { txn in
    ///     let index = try txn.openDatabase("by-member", flags: .dupSort)
    ///     try txn.put(index, member, event)
    /// }
    /// ```
    public func openDatabase(_ name: String, flags: DatabaseFlags = [], create: Bool = true) throws(LMDBError) -> Database {
        guard let handle = core.handle else { throw .badTransaction }
        let wanted = flags.intersection(.persistent)
        if let known = opened[name] ?? (dropped.contains(name) ? nil : environment.cachedDatabase(name)) {
            guard known.flags == wanted else { throw .incompatible }
            return known
        }
        let database = try Environment.openDatabase(in: handle, name: name, flags: wanted, create: create) { rc in
            failed(rc)
        }
        opened[name] = database
        return database
    }
}
