import LMDB
#if canImport(Glibc)
import Glibc
#endif

/// What `subledger stats` shows.
public struct StoreStats: Sendable {
    public var events: Int
    public var streams: Int
    public var head: UInt64
    /// Bytes of the store's files on disk.
    public var storeBytes: Int
    public var mapBytes: Int
    public var mapUsedBytes: Int
    /// Events per type, in type order.
    public var typeCounts: [(name: String, count: Int)]
    /// Events between two view snapshots, and the position of the newest snapshot taken.
    public var snapshotInterval: Int
    public var snapshotsThrough: UInt64
}

/// Running totals kept in `meta`, updated once per write transaction.
struct LogCounts {
    var streams = 0
    var types = [Int](repeating: 0, count: EventType.allCases.count)

    static let key = Array("counts".utf8)

    init() {}

    init(_ txn: some ReadableTransaction, meta: Database) throws {
        guard let v = try txn.get(meta, LogCounts.key) else { return }
        var r = BinaryReader(v)
        streams = Int(try r.varint())
        for i in types.indices { types[i] = Int(try r.varint()) }
    }

    func write(_ txn: WriteTransaction, meta: Database) throws {
        var w = BinaryWriter(capacity: 32)
        w.varint(UInt64(streams))
        for c in types { w.varint(UInt64(c)) }
        try txn.put(meta, LogCounts.key, w.bytes)
    }

    mutating func count(_ e: RecordedEvent) {
        if e.version == 1 { streams += 1 }
        types[Int(e.type.rawValue) - 1] += 1
    }
}

extension Store {
    /// Events, streams, sizes and per-type counts.
    public func stats() throws(StoreError) -> StoreStats {
        do {
            let (head, counts, snapshots) = try env.read { txn in
                (try log.head(txn), try LogCounts(txn, meta: log.meta), try log.snapshotState(txn))
            }
            let info = try env.info
            var size = 0
            for file in ["data.mdb", "lock.mdb"] {
                var st = stat()
                if stat(path + "/" + file, &st) == 0 { size += Int(st.st_blocks) * 512 }
            }
            return StoreStats(events: Int(head.position), streams: counts.streams, head: head.position, storeBytes: size,
                              mapBytes: info.mapSize, mapUsedBytes: info.usedBytes,
                              typeCounts: EventType.allCases.map { ($0.name, counts.types[Int($0.rawValue) - 1]) },
                              snapshotInterval: Int(snapshots?.interval ?? 0), snapshotsThrough: snapshots?.checkpoint ?? 0)
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// Blocks until the log's head is past `position`, without busy-waiting: it sleeps on
    /// inotify events of the data file (with a 1 s fallback poll).
    public func waitForAppend(after position: UInt64) throws(StoreError) {
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        defer { if fd >= 0 { Glibc.close(fd) } }
        if fd >= 0 { _ = inotify_add_watch(fd, path + "/data.mdb", UInt32(IN_MODIFY | IN_CLOSE_WRITE)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while try head().position <= position {
            if fd >= 0 {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 1000) > 0 { _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
            } else {
                usleep(200_000)
            }
        }
    }
}
