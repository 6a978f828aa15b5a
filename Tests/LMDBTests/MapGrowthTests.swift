import Foundation
import LMDB
import Testing

@Suite("Map growth")
struct MapGrowthTests {
    static let megabyte = 1 << 20

    /// A value of `size` bytes that says which chunk it is.
    func chunk(_ index: Int, size: Int = 64 << 10) -> [UInt8] {
        var value = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size)
        withUnsafeBytes(of: UInt64(index).bigEndian) { value.replaceSubrange(0..<8, with: $0) }
        return value
    }

    @Test("a 1 MiB map grows to hold 50 MB written in 50 transactions")
    func growsAcrossTransactions() throws {
        try withEnvironment(options: .init(mapSize: Self.megabyte)) { env, _ throws in
            let db = try env.database("blobs")
            let perTransaction = 16  // 16 × 64 KiB = 1 MiB
            for batch in 0..<50 {
                try env.write { txn throws in
                    for i in 0..<perTransaction {
                        let index = batch * perTransaction + i
                        try txn.put(db, key(UInt64(index)), chunk(index), flags: .append)
                    }
                }
            }
            let info = try env.info
            #expect(info.mapSize >= 50 * Self.megabyte)
            #expect(info.usedBytes >= 50 * Self.megabyte)
            try env.read { txn throws in
                #expect(try txn.entries(db) == 800)
                var index = 0
                for (k, value) in try txn.scan(db) {
                    #expect(Array(k) == key(UInt64(index)))
                    #expect(value.elementsEqual(chunk(index)))
                    index += 1
                }
                #expect(index == 800)
            }
        }
    }

    @Test("one 8 MB transaction in a 1 MiB map is re-run until the map fits it")
    func growsWithinTransaction() throws {
        try withEnvironment(options: .init(mapSize: Self.megabyte)) { env, _ throws in
            let db = try env.database("blobs")
            var runs = 0
            var caught = 0
            try env.write { txn throws in
                runs += 1
                for index in 0..<128 {
                    do {
                        try txn.put(db, key(UInt64(index)), chunk(index))
                    } catch LMDBError.mapFull {
                        // Swallowing the error does not commit a broken transaction: write re-runs the body.
                        caught += 1
                        return
                    }
                }
            }
            #expect(runs > 1)
            #expect(caught == runs - 1)
            #expect(try env.info.mapSize >= 8 * Self.megabyte)
            try env.read { txn throws in
                #expect(try txn.entries(db) == 128)
                #expect(try txn.get(db, key(127))?.elementsEqual(chunk(127)) == true)
            }
        }
    }

    @Test("readers on other threads keep working while the map grows")
    func growsUnderReaders() throws {
        try withEnvironment(options: .init(mapSize: Self.megabyte)) { env, _ throws in
            let db = try env.database("blobs")
            try env.write { txn in try txn.put(db, key(0), chunk(0)) }
            let stop = Shared(false)
            let readers = (0..<3).map { _ in
                Worker {
                    var reads = 0
                    while !stop.value || reads == 0 {
                        try env.read { txn throws in
                            let count = try txn.entries(db)
                            let last = try txn.cursor(db).last()
                            #expect(last.map { Int($0.key.loadUnaligned(as: UInt64.self).bigEndian) } == count - 1)
                            #expect(try txn.get(db, key(0))?.elementsEqual(chunk(0)) == true)
                        }
                        reads += 1
                    }
                }
            }
            for index in 1..<320 {  // 20 MB
                try env.write { txn in try txn.put(db, key(UInt64(index)), chunk(index), flags: .append) }
            }
            stop.value = true
            for reader in readers { try reader.join() }
            #expect(try env.info.mapSize >= 16 * Self.megabyte)
            #expect(try env.read { try $0.entries(db) } == 320)
        }
    }

    @Test("a map grown by another process is adopted (MDB_MAP_RESIZED), on read and on write")
    func adoptsResizeFromOtherProcess() throws {
        try withEnvironment(options: .init(mapSize: Self.megabyte)) { env, scratch throws in
            let mine = try env.database("mine")
            try env.write { txn in try txn.put(mine, bytes("before"), bytes("1")) }
            #expect(try env.info.mapSize == Self.megabyte)

            // The probe maps 64 MiB and writes 8 MiB: past the end of this process's map.
            let grow = try Probe(["grow", env.path, String(64 * Self.megabyte), String(8 * Self.megabyte)]).wait()
            #expect(grow.status == 0, "\(grow.output)")
            let probe = try env.database("probe", create: false)
            try env.read { txn throws in
                #expect(try txn.entries(probe) == 128)
                #expect(try txn.get(probe, bytes("grow-00000127"))?.count == 64 << 10)
            }
            #expect(try env.info.mapSize == 64 * Self.megabyte)

            // Again, and this time the first transaction after it is a write.
            let again = try Probe(["grow", env.path, String(128 * Self.megabyte), String(80 * Self.megabyte)]).wait()
            #expect(again.status == 0, "\(again.output)")
            try env.write { txn in try txn.put(mine, bytes("after"), bytes("2")) }
            #expect(try env.info.mapSize == 128 * Self.megabyte)
            try env.read { txn throws in
                #expect(try txn.entries(probe) == 1280)
                #expect(try txn.getBytes(mine, bytes("before")) == bytes("1"))
                #expect(try txn.getBytes(mine, bytes("after")) == bytes("2"))
            }
        }
    }
}
