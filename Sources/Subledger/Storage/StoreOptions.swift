/// How a store is opened.
public struct StoreOptions: Sendable {
    /// The snapshot interval of a new store, unless `StoreOptions.snapshotInterval` says otherwise.
    /// An `--as-of` folds at most this many events less one over its snapshot; at 10^6 events,
    /// 512 against 2,048 took the mean fold from 5.5–9 ms to 1.8 ms for 2.4% more snapshot
    /// entries (hot rows get a version per window) and no measurable cost to `exec`.
    public static let defaultSnapshotInterval = 512


    /// Proxies declared by the application, beside the built-in ones.
    public var proxies: [Proxy]
    /// The initial map size; the map grows by itself when full.
    public var initialMapSize: Int
    /// Wall-clock time: the default `at` and every event's `recorded_at`.
    public var clock: @Sendable () -> Timestamp
    /// Create the store when it does not exist.
    public var create: Bool
    /// Makes the ids of created entities (and events) that commands do not name; time-ordered
    /// (UUID version 7) by default.
    public var newID: @Sendable () -> EntityID
    /// Events between two view snapshots (what `--as-of` folds from). nil: the store's own
    /// (`StoreOptions.defaultSnapshotInterval` for a new store); another value drops the store's
    /// snapshots and takes them again at the new interval.
    public var snapshotInterval: Int?
    /// On LMDB, the size from which the stream index and a view table take their changes in a
    /// delta, the fewest changes a delta holds before they are merged, and the most a merge
    /// moves in one transaction (`StreamIndex`, `ViewDatabase`, `LMDBStorage.mergeDueDeltas`).
    /// Tests lower them to read through deltas and merges in small stores.
    var deltaThreshold = 65_536
    var deltaMergeFloor = 8_192
    var deltaMergeChunk = 8_192
    /// On LMDB, the fewest commands of a batch, and events of the log, for which a thread reads
    /// ahead of the writer (`ReadAhead`); tests lower them so that their batches run beside one.
    var readAheadBatch = ReadAhead.defaultMinimumBatch
    var readAheadEvents: UInt64 = 1 << 19

    public init(proxies: [Proxy] = [], initialMapSize: Int = 64 << 20,
                clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() }, create: Bool = true,
                newID: @escaping @Sendable () -> EntityID = { EntityID.timeOrdered() }, snapshotInterval: Int? = nil) {
        self.snapshotInterval = snapshotInterval
        self.proxies = proxies
        self.initialMapSize = initialMapSize
        self.clock = clock
        self.create = create
        self.newID = newID
    }
}

