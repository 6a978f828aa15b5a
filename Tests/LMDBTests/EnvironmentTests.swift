import Foundation
import LMDB
import Testing

@Suite("Environments")
struct EnvironmentTests {
    @Test("the registry returns one instance per directory, through symlinks too")
    func registry() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.sub("env")
        let first = try Environment.open(path: path)
        let second = try Environment.open(path: path + "/")
        #expect(first === second)
        try FileManager.default.createSymbolicLink(atPath: scratch.sub("link"), withDestinationPath: path)
        let viaLink = try Environment.open(path: scratch.sub("link"))
        #expect(first === viaLink)
        #expect(first.path == viaLink.path)
        let dotted = try Environment.open(path: scratch.sub("link/../env"))
        #expect(dotted === first)

        let db = try first.database("kv")
        try first.write { txn in try txn.put(db, bytes("k"), bytes("v")) }
        first.close()
        #expect(throws: LMDBError.closed) { try first.read { _ in } }
        let reopened = try Environment.open(path: path)
        #expect(reopened !== first)
        let kv = try reopened.database("kv")
        #expect(try reopened.read { try $0.getBytes(kv, bytes("k")) } == bytes("v"))
        reopened.close()
    }

    @Test("releasing the mapped pages drops them from the process, and every read still sees the same bytes")
    func releaseMappedPages() throws {
        try withEnvironment { env, _ in
            let db = try env.database("kv")
            let value = [UInt8](repeating: 7, count: 1_000)
            try env.write { txn in for n in 0..<20_000 { try txn.put(db, key(UInt64(n)), value) } }
            func residentFilePages() throws -> Int {
                let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
                return Int(statm[2])!
            }
            try env.read { txn in
                // A read transaction stays open across the release: its pages fault back in.
                #expect(try txn.scan(db).map { Array($0.value) == value }.allSatisfy { $0 })
                let before = try residentFilePages()
                try env.releaseMappedPages()
                #expect(try residentFilePages() < before - 2_000, "the 20 MB read are no longer mapped in")
                #expect(try txn.getBytes(db, key(19_999)) == value)
                #expect(try keys(txn.scan(db)).count == 20_000)
            }
        }
    }

    @Test("open creates the directory with mode 0700")
    func createsDirectory() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.sub("a/b/env")
        let env = try Environment.open(path: path)
        defer { env.close() }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        #expect(FileManager.default.fileExists(atPath: path + "/data.mdb"))
    }

    @Test("close inside a transaction waits for its end")
    func closeInsideTransaction() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let env = try Environment.open(path: scratch.sub("env"))
        let db = try env.database("kv")
        try env.write { txn throws in
            try txn.put(db, bytes("k"), bytes("v"))
            env.close()
            try txn.put(db, bytes("k2"), bytes("v2"))
        }
        #expect(throws: LMDBError.closed) { try env.read { _ in } }
        let reopened = try Environment.open(path: scratch.sub("env"))
        defer { reopened.close() }
        let kv = try reopened.database("kv")
        #expect(try reopened.read { try $0.entries(kv) } == 2)
    }

    @Test("readWithoutWaiting reads, and gives up while a close waits for another thread's transaction")
    func readWithoutWaiting() throws {
        try withEnvironment { env, _ in
            let db = try env.database("kv")
            try env.write { txn in try txn.put(db, bytes("k"), bytes("v")) }
            #expect(try env.readWithoutWaiting { try $0.getBytes(db, bytes("k")) } == bytes("v"))

            // One thread holds a read; another asks to close, and waits for it. A read that waited now
            // would wait for the close, which waits for the first thread: it must give up instead.
            let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), closed = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                try? env.read { _ in
                    holding.signal()
                    release.wait()
                }
            }
            holding.wait()
            Thread.detachNewThread {
                env.close()
                closed.signal()
            }
            Thread.sleep(forTimeInterval: 0.3)  // the close is waiting for the read by now
            let during = try env.readWithoutWaiting { _ in true }
            release.signal()
            closed.wait()
            #expect(during == nil)
            #expect(throws: LMDBError.closed) { try env.readWithoutWaiting { _ in true } }
        }
    }

    @Test("copy(to:compact:) makes a store that opens with the same data")
    func hotCopy() throws {
        try withEnvironment { env, scratch throws in
            let db = try env.database("events", flags: .integerKey)
            let index = try env.database("index", flags: .dupSort)
            try env.write { txn throws in
                for n in 0..<5000 as Range<UInt64> {
                    try txn.put(db, nativeKey(n), key(n * 3))
                    try txn.put(index, key(n % 7), key(n))
                }
            }
            try env.write { txn in for n in 0..<2500 as Range<UInt64> { _ = try txn.delete(db, nativeKey(n)) } }
            for compact in [true, false] {
                let target = scratch.sub(compact ? "compact" : "plain")
                try env.copy(to: target, compact: compact)
                let copy = try Environment.open(path: target)
                defer { copy.close() }
                let copiedEvents = try copy.database("events", flags: .integerKey, create: false)
                let copiedIndex = try copy.database("index", flags: .dupSort, create: false)
                try copy.read { txn throws in
                    #expect(try txn.entries(copiedEvents) == 2500)
                    #expect(try txn.getBytes(copiedEvents, nativeKey(4999)) == key(4999 * 3))
                    #expect(try txn.get(copiedEvents, nativeKey(1)) == nil)
                    #expect(try txn.duplicateCount(copiedIndex, key(3)) == 714)
                }
            }
            #expect(throws: LMDBError.self) { try env.copy(to: scratch.sub("compact")) }  // data.mdb exists
        }
    }

    @Test("durable: false commits without syncing; sync() makes them durable")
    func bulkMode() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let env = try Environment.open(path: scratch.sub("env"))
        let db = try env.database("bulk")
        let before = try env.info.lastTransactionID
        for batch in 0..<50 as Range<UInt64> {
            try env.write(durable: false) { txn throws in
                for n in 0..<100 as Range<UInt64> { try txn.put(db, key(batch * 100 + n), [UInt8](repeating: 7, count: 64)) }
            }
        }
        try env.sync()
        #expect(try env.info.lastTransactionID == before + 50)
        // The next default write is synced as usual.
        try env.write { txn in try txn.put(db, bytes("last"), bytes("durable")) }
        env.close()
        let reopened = try Environment.open(path: scratch.sub("env"))
        defer { reopened.close() }
        let bulk = try reopened.database("bulk")
        try reopened.read { txn throws in
            #expect(try txn.entries(bulk) == 5001)
            #expect(try txn.getBytes(bulk, key(4999)) == [UInt8](repeating: 7, count: 64))
        }
    }

    @Test("info reports sizes and counters")
    func info() throws {
        try withEnvironment(options: .init(mapSize: 4 << 20, maxReaders: 64)) { env, _ throws in
            let db = try env.database("kv")
            try env.write { txn in try txn.put(db, bytes("k"), [UInt8](repeating: 1, count: 100_000)) }
            let info = try env.info
            #expect(info.mapSize == 4 << 20)
            #expect(info.pageSize >= 4096)
            #expect(info.usedBytes == (info.lastPageNumber + 1) * info.pageSize)
            #expect(info.usedBytes > 100_000)
            #expect(info.maxReaders == 64)
            #expect(info.lastTransactionID >= 2)
        }
    }

    @Test("a read-only environment reads and refuses writes")
    func readOnly() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.sub("env")
        let writable = try Environment.open(path: path)
        let db = try writable.database("kv")
        try writable.write { txn in try txn.put(db, bytes("k"), bytes("v")) }
        writable.close()
        let env = try Environment.open(path: path, options: .init(flags: .readOnly))
        defer { env.close() }
        let readDB = try env.database("kv")
        #expect(try env.read { try $0.getBytes(readDB, bytes("k")) } == bytes("v"))
        #expect(throws: LMDBError.self) { try env.write { txn in try txn.put(readDB, bytes("x"), bytes("y")) } }
    }
}
