import CLMDB
#if canImport(Glibc)
import Glibc
#endif

/// The raw LMDB baselines: the C API directly, with nothing of ours in between.
///
/// One environment with one named database (as the store keeps `log.events` in a named database
/// of a multi-database environment), opened with `MDB_NOTLS` like the store, default sync
/// (every commit is synced), and a map large enough never to grow.
final class RawEnvironment {
    let env: OpaquePointer
    var dbi = MDB_dbi()

    init(path: String) throws {
        mkdir(path, 0o700)
        var created: OpaquePointer?
        try rawCheck(mdb_env_create(&created), "mdb_env_create")
        env = created!
        try rawCheck(mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs")
        try rawCheck(mdb_env_set_mapsize(env, 64 << 30), "mdb_env_set_mapsize")
        try rawCheck(mdb_env_open(env, path, UInt32(MDB_NOTLS), 0o600), "mdb_env_open")
        var txn: OpaquePointer?
        try rawCheck(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
        try rawCheck(RealLMDB.dbiOpen(txn, "events", UInt32(MDB_CREATE), &dbi), "mdb_dbi_open")
        try rawCheck(mdb_txn_commit(txn), "mdb_txn_commit")
    }

    deinit { mdb_env_close(env) }

    /// The last key's position (0 when empty), so appends continue after it.
    func lastPosition() throws -> UInt64 {
        var txn: OpaquePointer?
        try rawCheck(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin")
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        try rawCheck(RealLMDB.cursorOpen(txn, dbi, &cursor), "mdb_cursor_open")
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val(), value = MDB_val()
        let rc = RealLMDB.cursorGet(cursor, &key, &value, MDB_LAST.rawValue)
        if rc == MDB_NOTFOUND { return 0 }
        try rawCheck(rc, "mdb_cursor_get")
        return UInt64(bigEndian: key.mv_data.loadUnaligned(as: UInt64.self))
    }

    /// Appends one entry per size (big-endian position keys after the last one), `perTransaction`
    /// entries to a synced write transaction. Returns the seconds it took.
    func append(sizes: [UInt32], perTransaction: Int) throws -> Double {
        let maxSize = Int(sizes.max() ?? 0)
        var payload = [UInt8](repeating: 0, count: max(maxSize, 1))
        var rng = SplitMix64(seed: 7)
        for i in payload.indices { payload[i] = UInt8(truncatingIfNeeded: rng.next()) }
        var position = try lastPosition()
        let start = monotonicSeconds()
        try payload.withUnsafeMutableBytes { payload in
            var i = 0
            while i < sizes.count {
                var txn: OpaquePointer?
                try rawCheck(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
                let end = min(i + perTransaction, sizes.count)
                while i < end {
                    position += 1
                    var keyBytes = position.bigEndian
                    let rc = withUnsafeMutableBytes(of: &keyBytes) { k in
                        var key = MDB_val(mv_size: 8, mv_data: k.baseAddress)
                        var value = MDB_val(mv_size: Int(sizes[i]), mv_data: payload.baseAddress)
                        return RealLMDB.put(txn, dbi, &key, &value, UInt32(MDB_APPEND))
                    }
                    if rc != 0 { mdb_txn_abort(txn); try rawCheck(rc, "mdb_put") }
                    i += 1
                }
                try rawCheck(mdb_txn_commit(txn), "mdb_txn_commit")
            }
        }
        return monotonicSeconds() - start
    }

    /// Reads every entry with a cursor, touching every value byte (a checksum), in one read
    /// transaction. Returns (seconds, entries, value bytes).
    func scan(limit: Int = .max) throws -> (seconds: Double, entries: Int, bytes: Int, checksum: UInt64) {
        let start = monotonicSeconds()
        var txn: OpaquePointer?
        try rawCheck(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin")
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        try rawCheck(RealLMDB.cursorOpen(txn, dbi, &cursor), "mdb_cursor_open")
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val(), value = MDB_val()
        var entries = 0, bytes = 0
        var sum: UInt64 = 0
        while entries < limit, RealLMDB.cursorGet(cursor, &key, &value, MDB_NEXT.rawValue) == MDB_SUCCESS {
            entries += 1
            bytes += value.mv_size
            let buffer = UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
            var k = 0
            while k + 8 <= buffer.count {
                sum &+= buffer.loadUnaligned(fromByteOffset: k, as: UInt64.self)
                k += 8
            }
            while k < buffer.count { sum &+= UInt64(buffer[k]); k += 1 }
        }
        return (monotonicSeconds() - start, entries, bytes, sum)
    }
}

func rawCheck(_ rc: Int32, _ what: String) throws {
    if rc != MDB_SUCCESS { throw BenchError("\(what): \(String(cString: mdb_strerror(rc)))") }
}
