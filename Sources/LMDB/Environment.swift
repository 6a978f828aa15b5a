import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An LMDB environment: a directory holding `data.mdb` and `lock.mdb`, shared by the threads of this process and
/// by other processes. There is one `Environment` per directory per process; `open` returns it.
///
/// Reads and writes go through closures that are the transaction: `read` gives a snapshot, `write` commits when
/// its closure returns and aborts when it throws. Write transactions of the process run one at a time. The map
/// grows by itself when it fills. Never put an environment on a network filesystem, and never use one in a child
/// after `fork()`.
///
/// ```swift
/// let env = try Environment.open(path: "ledger.db")
/// let events = try env.database("events")
/// try env.write { txn in try txn.put(events, key, payload) }
/// let stored = try env.read { txn in try txn.getBytes(events, key) }
/// ```
public final class Environment: @unchecked Sendable {
    /// The resolved path of the environment's directory.
    public let path: String
    /// The options the environment was opened with.
    public let options: EnvironmentOptions

    /// How the process ends when liblmdb finds a page of the file damaged (it cannot go on):
    /// `line` written to stderr, then `_exit(code)`. Set it once, before opening an environment.
    /// Unset, the process aborts without a word, so that a parent watching it sees the crash
    /// (`SIGABRT`) for what it is.
    public static func setDamagedPageExit(line: String, code: Int32) {
        damagedPage = (strdup(line), code)
    }

    nonisolated(unsafe) private static var damagedPage: (line: UnsafeMutablePointer<CChar>?, code: Int32)?

    private static func endOnDamagedPage() -> Never {
        if let (line, code) = damagedPage, let line {
            #if canImport(Glibc)
            _ = Glibc.write(2, line, strlen(line))
            #else
            _ = Darwin.write(2, line, strlen(line))
            #endif
            _exit(code)
        }
        abort()
    }

    /// The `MDB_env`; nil once closed. Changed only while the gate is held exclusively.
    private var handle: OpaquePointer?
    /// Held shared by every live transaction; exclusively to change the map size or close.
    private let gate = TransactionGate()
    /// Serializes this process's write transactions, and every `mdb_dbi_open`.
    private let writer = Lock()
    /// Guards `databases`.
    private let state = Lock()
    private var databases: [String: Database] = [:]
    /// The live write transaction; read only by the thread inside `write`.
    private unowned(unsafe) var currentWrite: WriteTransaction?

    /// Opens the environment in the directory `path`, creating the directory (mode `0700`) if it is missing.
    /// Every open of the same directory in this process, under any path naming it (symbolic links resolve),
    /// returns the same instance, and the options of the first open apply. Opening clears the reader slots of
    /// crashed processes (`mdb_reader_check`).
    ///
    /// ```swift
    /// let env = try Environment.open(path: "/var/lib/subledger", options: .init(mapSize: 1 << 30))
    /// ```
    public static func open(path: String, options: EnvironmentOptions = .init()) throws(LMDBError) -> Environment {
        try registry.lock.withLock { () throws(LMDBError) -> Environment in
            if !options.flags.contains(.readOnly) { try makeDirectories(path) }
            let resolved = try resolve(path)
            if let open = registry.environments[resolved] { return open }
            let environment = try Environment(resolvedPath: resolved, options: options)
            registry.environments[resolved] = environment
            return environment
        }
    }

    private init(resolvedPath: String, options: EnvironmentOptions) throws(LMDBError) {
        path = resolvedPath
        self.options = options
        var created: OpaquePointer?
        try check(mdb_env_create(&created))
        guard let env = created else { throw .other(code: -1, message: "mdb_env_create returned no environment") }
        do {
            try check(mdb_env_set_maxdbs(env, MDB_dbi(clamping: options.maxDatabases)))
            try check(mdb_env_set_maxreaders(env, UInt32(clamping: options.maxReaders)))
            try check(mdb_env_set_mapsize(env, max(options.mapSize, 0)))
            // liblmdb aborts on a page it finds damaged, after printing its assertion to stderr: a line that names
            // liblmdb's source and means nothing to a user. This callback says `setDamagedPageExit`'s line instead.
            try check(mdb_env_set_assert(env) { _, _ in Environment.endOnDamagedPage() })
            let flags = options.flags.rawValue | UInt32(MDB_NOTLS)
            try check(mdb_env_open(env, resolvedPath, flags, mdb_mode_t(options.fileMode)))
            // Start from the larger of the configured size and the one recorded in the file by other processes.
            try check(mdb_env_set_mapsize(env, 0))
            if Self.mapSize(env) < options.mapSize {
                try check(mdb_env_set_mapsize(env, options.mapSize))
            }
            var dead: Int32 = 0
            try check(mdb_reader_check(env, &dead))
        } catch {
            mdb_env_close(env)
            throw error
        }
        handle = env
    }

    deinit {
        if let handle { mdb_env_close(handle) }
    }

    /// Closes the environment and forgets it, so that the next `open` of its path opens it anew. It waits until
    /// the transactions of other threads have ended; called inside a transaction, it closes when that
    /// transaction's closure returns. Afterwards every call throws `LMDBError.closed`.
    ///
    /// ```swift
    /// env.close()
    /// ```
    public func close() {
        var thread = gate.thread
        if thread.depth > 0 {
            thread.closeWhenIdle = true
            gate.thread = thread
            return
        }
        Self.registry.lock.withLock {
            gate.exclusively {
                if let handle { mdb_env_close(handle) }
                handle = nil
            }
            if Self.registry.environments[path] === self {
                Self.registry.environments[path] = nil
            }
        }
        state.withLock { databases.removeAll() }
    }

    // MARK: Transactions

    /// Runs `body` in a read transaction: a consistent snapshot, unaffected by writes committed meanwhile. The
    /// transaction and every value read through it are valid only inside `body`. Reads may nest inside `read` and
    /// `write` closures on the same thread.
    ///
    /// ```swift
    /// let balance = try env.read { txn in try txn.getBytes(accounts, accountKey) }
    /// ```
    public func read<R>(_ body: (ReadTransaction) throws -> R) throws -> R {
        let transaction = ReadTransaction(environment: self, handle: try begin(flags: UInt32(MDB_RDONLY)))
        defer { transaction.finish() }
        return try body(transaction)
    }

    /// Runs `body` in a read transaction if one can begin without waiting; nil when a map resize or a
    /// close in this process is pending, or a map grown by another process must first be adopted. For a
    /// thread that helps another one holding a transaction: a wait here could be a wait for that
    /// thread (a resize waits for every open transaction), while it waits for this one.
    ///
    /// ```swift
    /// let ahead = try env.readWithoutWaiting { txn in try txn.entries(events) } ?? 0
    /// ```
    public func readWithoutWaiting<R>(_ body: (ReadTransaction) throws -> R) throws -> R? {
        guard let handle = try begin(flags: UInt32(MDB_RDONLY), waiting: false) else { return nil }
        let transaction = ReadTransaction(environment: self, handle: handle)
        defer { transaction.finish() }
        return try body(transaction)
    }

    /// Runs `body` in a write transaction: commits when it returns, aborts when it throws (leaving nothing).
    /// Writes of this process run one at a time; the transaction stays on this thread.
    ///
    /// When the map fills (`MDB_MAP_FULL`, from a put or from the commit), the transaction is aborted, the map
    /// doubled and `body` run again from the start, so `body` must be re-runnable: no side effects outside the
    /// transaction that a second run would repeat. When another process has grown the map, its size is adopted
    /// before the transaction begins.
    ///
    /// With `durable: false` the commit is not synced to disk (bulk loading): a crash may lose it, but never
    /// corrupts the store. Call `sync()` at the end of the load.
    ///
    /// A write inside a write on the same thread throws `LMDBError.badTransaction`; do not write inside a `read`
    /// closure (the map could not grow).
    ///
    /// ```swift
    /// try env.write { txn in
    ///     try txn.put(events, sequenceKey, payload, flags: .append)
    ///     try txn.put(balances, accountKey, newBalance)
    /// }
    /// ```
    public func write<R>(durable: Bool = true, _ body: (WriteTransaction) throws -> R) throws -> R {
        if gate.thread.isWriting { throw LMDBError.badTransaction }
        writer.lock()
        gate.thread.isWriting = true
        defer {
            gate.thread.isWriting = false
            writer.unlock()
        }
        while true {
            let transaction = WriteTransaction(environment: self, handle: try begin(flags: 0))
            currentWrite = transaction
            defer { currentWrite = nil }
            let result: R
            do {
                result = try body(transaction)
            } catch {
                let full = transaction.hitMapFull
                transaction.abort()
                if full {
                    try growMap()
                    continue
                }
                throw error
            }
            if transaction.hitMapFull {
                transaction.abort()
                try growMap()
                continue
            }
            let committed = Result { () throws(LMDBError) in try transaction.commit(durable: durable) }
            if case .failure(let error) = committed {
                guard error == .mapFull else { throw error }
                try growMap()
                continue
            }
            return result
        }
    }

    /// Whether the filesystem holding the environment has less room left than a large commit
    /// writes (64 MiB).
    var diskIsNearlyFull: Bool {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return false }
        return UInt64(fs.f_bavail) * UInt64(fs.f_frsize) < 64 << 20
    }

    /// Flushes every commit to disk (`mdb_env_sync` forced): the end of a `write(durable: false)` load.
    ///
    /// ```swift
    /// for batch in batches { try env.write(durable: false) { txn in … } }
    /// try env.sync()
    /// ```
    public func sync() throws(LMDBError) {
        try whileOpen { env throws(LMDBError) in try check(mdb_env_sync(env, 1)) }
    }

    /// Writes a consistent copy of the environment (a hot backup) into `directory`, which is created if missing
    /// and must not hold a `data.mdb` yet. `compact` leaves out free pages and renumbers them. The copy holds a
    /// read transaction while it runs, so the store may grow meanwhile. Not inside a `write` closure.
    ///
    /// ```swift
    /// try env.copy(to: "/backups/ledger-2025-01-01")
    /// let restored = try Environment.open(path: "/backups/ledger-2025-01-01")
    /// ```
    public func copy(to directory: String, compact: Bool = true) throws(LMDBError) {
        if gate.thread.isWriting { throw .badTransaction }
        try Self.makeDirectories(directory)
        while true {
            let rc = try whileOpen { env in
                mdb_env_copy2(env, directory, compact ? UInt32(MDB_CP_COMPACT) : 0)
            }
            if rc == MDB_MAP_RESIZED {
                try adoptMapSize()
                continue
            }
            try check(rc)
            // LMDB creates the copy 0666 less the umask: keep it as private as the original.
            chmod(directory + "/data.mdb", mode_t(options.fileMode))
            return
        }
    }

    /// Sizes and counters of the environment.
    ///
    /// ```swift
    /// let info = try env.info
    /// print("\(info.usedBytes) bytes used of \(info.mapSize), \(info.readers) readers")
    /// ```
    public var info: EnvironmentInfo {
        get throws(LMDBError) {
            try whileOpen { env throws(LMDBError) in
                var info = MDB_envinfo()
                var stat = MDB_stat()
                try check(mdb_env_info(env, &info))
                try check(mdb_env_stat(env, &stat))
                let pageSize = Int(stat.ms_psize)
                return EnvironmentInfo(
                    mapSize: info.me_mapsize,
                    pageSize: pageSize,
                    lastPageNumber: info.me_last_pgno,
                    usedBytes: (info.me_last_pgno + 1) * pageSize,
                    lastTransactionID: info.me_last_txnid,
                    maxReaders: Int(info.me_maxreaders),
                    readers: Int(info.me_numreaders)
                )
            }
        }
    }

    /// Unmaps the pages of the file that this process has read, so that they stop counting in its resident set.
    /// They stay in the page cache, and the next read maps them again, unchanged: the map is a read-only shared
    /// mapping of the file (this wrapper never opens one with `MDB_WRITEMAP`), so nothing is lost. A scan of a
    /// whole store calls it now and then, or a process that reads ten gigabytes holds ten gigabytes resident.
    /// Safe while transactions run on other threads: a page they touch next faults back in.
    ///
    /// ```swift
    /// if read % 100_000 == 0 { try env.releaseMappedPages() }
    /// ```
    public func releaseMappedPages() throws(LMDBError) {
        #if os(Linux)
        try whileOpen { _ throws(LMDBError) in
            // LMDB does not say where it mapped the file (`me_mapaddr` is set only with MDB_FIXEDMAP): the kernel
            // does. The gate, held shared, keeps the map where it is meanwhile.
            for (start, end) in Self.mappings(of: path + "/data.mdb")
            where madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED) != 0 {
                throw LMDBError(code: errno)
            }
        }
        #endif
    }

    #if os(Linux)
    /// The address ranges of the shared mappings of `file`, from `/proc/self/maps`.
    private static func mappings(of file: String) -> [(start: Int, end: Int)] {
        guard let maps = fopen("/proc/self/maps", "r") else { return [] }
        defer { fclose(maps) }
        var found: [(start: Int, end: Int)] = []
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), maps) != nil {
            let text = String(cString: line)
            // start-end perms offset device inode path
            guard text.hasSuffix(" " + file + "\n") else { continue }
            let fields = text.split(separator: " ", maxSplits: 2)
            guard fields.count == 3, fields[1].hasSuffix("s") else { continue }
            let range = fields[0].split(separator: "-")
            if range.count == 2, let start = Int(range[0], radix: 16), let end = Int(range[1], radix: 16) { found.append((start, end)) }
        }
        return found
    }
    #endif

    // MARK: Databases

    /// The database `name`, opened (and with `create`, created) once and remembered: later calls return the
    /// same handle at no cost. Inside a `write` closure on this thread it opens the database in that
    /// transaction (see `WriteTransaction.openDatabase`). A handle works only in transactions begun after it
    /// was opened: open databases before the `read` that uses them. The flags must be those the database was created with,
    /// or it throws `LMDBError.incompatible`; a missing database without `create` throws `LMDBError.notFound`.
    ///
    /// ```swift
    /// let events = try env.database("events", flags: .integerKey)
    /// let byMember = try env.database("by-member", flags: [.dupSort, .dupFixed])
    /// ```
    public func database(_ name: String, flags: DatabaseFlags = [], create: Bool = true) throws -> Database {
        let wanted = flags.intersection(.persistent)
        if let known = cachedDatabase(name) {
            guard known.flags == wanted else { throw LMDBError.incompatible }
            return known
        }
        if gate.thread.isWriting, let transaction = currentWrite {
            return try transaction.openDatabase(name, flags: flags, create: create)
        }
        // Inside a read on this thread a write transaction cannot begin: open the existing database read-only.
        if options.flags.contains(.readOnly) || gate.thread.depth > 0 {
            return try writer.withLock { () throws(LMDBError) -> Database in
                let txn = try begin(flags: UInt32(MDB_RDONLY))
                let database: Database
                do throws(LMDBError) {
                    database = try Self.openDatabase(in: txn, name: name, flags: wanted, create: false) { $0 }
                } catch {
                    mdb_txn_abort(txn)
                    endTransaction()
                    throw error
                }
                let rc = mdb_txn_commit(txn)
                endTransaction()
                try check(rc)
                learn(opened: [name: database], dropped: [])
                return database
            }
        }
        return try write { txn in try txn.openDatabase(name, flags: flags, create: create) }
    }

    func cachedDatabase(_ name: String) -> Database? {
        state.withLock { databases[name] }
    }

    /// After a commit: the databases opened become the environment's, the dropped ones are forgotten.
    func learn(opened: [String: Database], dropped: Set<String>) {
        state.withLock {
            for name in dropped { databases[name] = nil }
            for (name, database) in opened { databases[name] = database }
        }
    }

    /// After an abort: LMDB closed the handles of dropped databases whatever the outcome.
    func forget(dropped: Set<String>) {
        guard !dropped.isEmpty else { return }
        state.withLock {
            for name in dropped { databases[name] = nil }
        }
    }

    /// `mdb_dbi_open` in `txn`, checking the flags the database really has. The caller holds the writer lock.
    static func openDatabase(
        in txn: OpaquePointer, name: String, flags: DatabaseFlags, create: Bool, failed: (Int32) -> Int32
    ) throws(LMDBError) -> Database {
        var dbi = MDB_dbi()
        let openFlags = flags.rawValue | (create ? UInt32(MDB_CREATE) : 0)
        try check(failed(mdb_dbi_open(txn, name, openFlags, &dbi)))
        var actual: UInt32 = 0
        try check(mdb_dbi_flags(txn, dbi, &actual))
        let database = Database(name: name, flags: DatabaseFlags(rawValue: actual).intersection(.persistent), handle: dbi)
        guard database.flags == flags else { throw .incompatible }
        return database
    }

    // MARK: Transaction plumbing

    /// Begins an LMDB transaction while holding the gate shared; adopts a map grown by another process.
    private func begin(flags: UInt32) throws(LMDBError) -> OpaquePointer {
        try begin(flags: flags, waiting: true)!
    }

    /// `begin`; without `waiting`, nil where it would wait for the gate or adopt a grown map.
    private func begin(flags: UInt32, waiting: Bool) throws(LMDBError) -> OpaquePointer? {
        var clearedReaders = false
        while true {
            if waiting { gate.enter() } else if !gate.tryEnter() { return nil }
            guard let env = handle else {
                endTransaction()
                throw .closed
            }
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(env, nil, flags, &txn)
            if rc == MDB_SUCCESS, let txn { return txn }
            switch rc {
            case MDB_MAP_RESIZED:
                endTransaction()
                guard waiting else { return nil }
                try adoptMapSize()
            case MDB_READERS_FULL where !clearedReaders:
                // Slots of crashed processes may be what fills the table.
                var dead: Int32 = 0
                mdb_reader_check(env, &dead)
                endTransaction()
                clearedReaders = true
            default:
                endTransaction()
                throw LMDBError(code: rc)
            }
        }
    }

    /// Releases the gate for a transaction that ended; performs a close requested inside it.
    func endTransaction() {
        if gate.leave() { close() }
    }

    /// Commits `txn` (LMDB frees it whatever the outcome); `durable: false` skips the sync for this commit only.
    func commit(_ txn: OpaquePointer, durable: Bool) -> Int32 {
        let skipSync = !durable && !options.flags.contains(.noSync)
        guard skipSync, let env = handle else { return mdb_txn_commit(txn) }
        // Safe to toggle: only the writer, under the writer lock, changes or reads MDB_NOSYNC.
        mdb_env_set_flags(env, UInt32(MDB_NOSYNC), 1)
        let rc = mdb_txn_commit(txn)
        mdb_env_set_flags(env, UInt32(MDB_NOSYNC), 0)
        return rc
    }

    /// Runs `body` on the open `MDB_env` while holding the gate shared.
    private func whileOpen<R>(_ body: (OpaquePointer) throws(LMDBError) -> R) throws(LMDBError) -> R {
        gate.enter()
        defer { endTransaction() }
        guard let env = handle else { throw .closed }
        return try body(env)
    }

    /// Adopts the map size another process recorded (`mdb_env_set_mapsize(env, 0)`), once no transaction of
    /// this process is open.
    private func adoptMapSize() throws(LMDBError) {
        guard gate.thread.depth == 0 else { throw .mapResized }
        try gate.exclusively { () throws(LMDBError) in
            guard let env = handle else { throw .closed }
            try check(mdb_env_set_mapsize(env, 0))
        }
    }

    /// Grows the map after `MDB_MAP_FULL`: to the size another process recorded if larger, else doubled.
    private func growMap() throws(LMDBError) {
        guard gate.thread.depth == 0 else { throw .mapFull }
        try gate.exclusively { () throws(LMDBError) in
            guard let env = handle else { throw .closed }
            let before = Self.mapSize(env)
            try check(mdb_env_set_mapsize(env, 0))
            if Self.mapSize(env) > before { return }
            let (doubled, overflow) = before.multipliedReportingOverflow(by: 2)
            try check(mdb_env_set_mapsize(env, overflow ? Int.max : doubled))
        }
    }

    private static func mapSize(_ env: OpaquePointer) -> Int {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        return info.me_mapsize
    }

    // MARK: Paths and the registry

    private static let registry = Registry()

    /// The open environments of this process, by resolved path.
    private final class Registry: @unchecked Sendable {
        let lock = Lock()
        var environments: [String: Environment] = [:]
    }

    /// `mkdir -p` with mode 0700.
    private static func makeDirectories(_ path: String) throws(LMDBError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw LMDBError(code: errno)
            }
        }
    }

    private static func resolve(_ path: String) throws(LMDBError) -> String {
        guard let resolved = realpath(path, nil) else { throw LMDBError(code: errno) }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
