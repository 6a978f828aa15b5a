import LMDB
#if canImport(Glibc)
import Glibc
#endif

extension LMDBStorage {
    func stats() throws(StoreError) -> StoreStats {
        do {
            let (head, counts, snapshots) = try env.read { txn in
                (try log.head(txn), try log.counts(txn), try log.snapshotState(txn))
            }
            let info = try env.info
            var size = 0
            for file in ["data.mdb", "lock.mdb"] {
                var st = stat()
                if stat(location + "/" + file, &st) == 0 { size += Int(st.st_blocks) * 512 }
            }
            return StoreStats(events: Int(head.position), streams: counts.streams, head: head.position, storeBytes: size,
                              mapBytes: info.mapSize, mapUsedBytes: info.usedBytes,
                              typeCounts: EventType.allCases.map { ($0.name, counts.types[Int($0.rawValue) - 1]) },
                              snapshotInterval: Int(snapshots?.interval ?? 0), snapshotsThrough: snapshots?.checkpoint ?? 0)
        } catch {
            throw StoreError.wrap(error)
        }
    }

    func waitForAppend(after position: UInt64) throws {
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        defer { if fd >= 0 { Glibc.close(fd) } }
        if fd >= 0 { _ = inotify_add_watch(fd, location + "/data.mdb", UInt32(IN_MODIFY | IN_CLOSE_WRITE)) }
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
