import CLMDB

/// How an environment is opened. The options of the first `Environment.open` of a path win; later opens of the
/// same path in the same process return the open instance and ignore theirs.
///
/// ```swift
/// let env = try Environment.open(path: "ledger.db", options: .init(mapSize: 1 << 30, maxDatabases: 16))
/// ```
public struct EnvironmentOptions: Sendable, Equatable {
    /// Initial size of the memory map in bytes. `Environment.write` doubles it whenever it fills, and adopts larger
    /// sizes set by other processes, so this is a starting point, not a limit.
    public var mapSize: Int = 64 << 20
    /// How many named databases the environment may hold.
    public var maxDatabases: Int = 128
    /// How many read transactions may be live at once, across every process using the environment.
    public var maxReaders: Int = 510
    /// Flags for `mdb_env_open`. `MDB_NOTLS` is always added.
    public var flags: EnvironmentFlags = []
    /// Permissions of the data and lock files (the directory is created with `0o700`).
    public var fileMode: UInt32 = 0o600

    /// Options with the given values; every parameter has the default shown on its property.
    ///
    /// ```swift
    /// let options = EnvironmentOptions(mapSize: 1 << 20)
    /// ```
    public init(
        mapSize: Int = 64 << 20,
        maxDatabases: Int = 128,
        maxReaders: Int = 510,
        flags: EnvironmentFlags = [],
        fileMode: UInt32 = 0o600
    ) {
        self.mapSize = mapSize
        self.maxDatabases = maxDatabases
        self.maxReaders = maxReaders
        self.flags = flags
        self.fileMode = fileMode
    }
}

/// Flags for opening an environment. They trade safety for speed: the default (none) syncs every commit.
///
/// ```swift
/// let options = EnvironmentOptions(flags: [.readOnly])
/// ```
public struct EnvironmentFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    /// Flags from their `mdb_env_open` bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Never sync on commit (`MDB_NOSYNC`): a crash may lose recent commits or corrupt the store. Prefer
    /// `write(durable: false)` and `sync()` for bulk loads.
    public static let noSync = EnvironmentFlags(rawValue: UInt32(MDB_NOSYNC))
    /// Sync data but not the meta page on commit (`MDB_NOMETASYNC`): a crash may lose the last commit.
    public static let noMetaSync = EnvironmentFlags(rawValue: UInt32(MDB_NOMETASYNC))
    /// Open for reading only (`MDB_RDONLY`); the directory must exist.
    public static let readOnly = EnvironmentFlags(rawValue: UInt32(MDB_RDONLY))
    /// Turn off the kernel's read-ahead (`MDB_NORDAHEAD`): helps random reads of stores larger than RAM.
    public static let noReadAhead = EnvironmentFlags(rawValue: UInt32(MDB_NORDAHEAD))
    /// Do not zero malloc'd pages before writing them (`MDB_NOMEMINIT`).
    public static let noMemoryInit = EnvironmentFlags(rawValue: UInt32(MDB_NOMEMINIT))
}

/// Figures about an open environment, from `mdb_env_info` and `mdb_env_stat`.
///
/// ```swift
/// let info = try env.info
/// print(info.usedBytes, "of", info.mapSize)
/// ```
public struct EnvironmentInfo: Sendable, Equatable {
    /// Current size of this process's memory map, in bytes.
    public var mapSize: Int
    /// Size of a database page, in bytes.
    public var pageSize: Int
    /// Number of the last page in use.
    public var lastPageNumber: Int
    /// Bytes in use: `(lastPageNumber + 1) * pageSize`.
    public var usedBytes: Int
    /// ID of the last committed transaction.
    public var lastTransactionID: Int
    /// Size of the reader table.
    public var maxReaders: Int
    /// Reader slots in use, across processes.
    public var readers: Int
}
