import Foundation
@testable import LMDB
import Testing

@Suite("Transactions")
struct TransactionTests {
    @Test("values round-trip, zero-copy and copied, empty values included")
    func roundTrip() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("kv")
            try env.write { txn throws in
                try txn.put(db, bytes("alpha"), bytes("one"))
                try txn.put(db, bytes("beta"), [UInt8]())
                try txn.put(db, bytes("gamma"), Data([1, 2, 3]))
                #expect(try txn.getBytes(db, bytes("alpha")) == bytes("one"))  // own writes are visible
            }
            try env.read { txn throws in
                #expect(text(try txn.get(db, bytes("alpha"))) == "one")
                #expect(try txn.getBytes(db, bytes("beta")) == [])
                #expect(try txn.getBytes(db, Data("gamma".utf8)) == [1, 2, 3])
                #expect(try txn.get(db, bytes("delta")) == nil)
                #expect(try txn.contains(db, bytes("alpha")))
                #expect(try !txn.contains(db, bytes("delta")))
                #expect(try txn.entries(db) == 3)
            }
            try env.write { txn in try txn.put(db, bytes("alpha"), bytes("uno")) }
            #expect(try env.read { try $0.getBytes(db, bytes("alpha")) } == bytes("uno"))
        }
    }

    @Test("keys sort by bytes")
    func byteOrder() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("bytes")
            let unordered: [[UInt8]] = [[0x02], [0x01, 0xff], [0xff], [0x01], [0x00, 0x00], [0x01, 0x00]]
            try env.write { txn in for key in unordered { try txn.put(db, key, key) } }
            let stored = try env.read { txn in keys(try txn.scan(db)) }
            #expect(stored == [[0x00, 0x00], [0x01], [0x01, 0x00], [0x01, 0xff], [0x02], [0xff]])
            let bigEndian = try env.database("big-endian")
            try env.write { txn in for n: UInt64 in [256, 1, 65536, 2, 255] { try txn.put(bigEndian, key(n), []) } }
            let numbers = try env.read { txn in keys(try txn.scan(bigEndian)) }
            #expect(numbers == [1, 2, 255, 256, 65536].map(key))
        }
    }

    @Test("integerKey databases sort native integers numerically, bounds included")
    func integerKeyOrder() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("integers", flags: .integerKey)
            #expect(db.flags == .integerKey)
            let values: [UInt64] = [256, 1, 65536, 2, 1 << 40, 255]
            try env.write { txn in for n in values { try txn.put(db, nativeKey(n), key(n)) } }
            try env.read { txn throws in
                let all = try txn.scan(db).map { $0.key.loadUnaligned(as: UInt64.self) }
                #expect(all == values.sorted())
                let middle = try txn.scan(db, from: nativeKey(2), to: nativeKey(65536)).map {
                    $0.key.loadUnaligned(as: UInt64.self)
                }
                #expect(middle == [2, 255, 256])
                let down = try txn.scan(db, from: nativeKey(300), to: nativeKey(2), reverse: true).map {
                    $0.key.loadUnaligned(as: UInt64.self)
                }
                #expect(down == [256, 255, 2])
            }
        }
    }

    @Test("an error thrown inside write leaves nothing behind")
    func thrownErrorAborts() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("kv")
            try env.write { txn in try txn.put(db, bytes("kept"), bytes("1")) }
            #expect(throws: Boom.self) {
                try env.write { txn throws in
                    try txn.put(db, bytes("a"), bytes("1"))
                    try txn.put(db, bytes("kept"), bytes("changed"))
                    _ = try txn.delete(db, bytes("kept"))
                    throw Boom()
                }
            }
            #expect(throws: LMDBError.keyExists) {
                try env.write { txn throws in
                    try txn.put(db, bytes("b"), bytes("1"))
                    try txn.put(db, bytes("kept"), bytes("2"), flags: .noOverwrite)
                }
            }
            try env.read { txn throws in
                #expect(try txn.get(db, bytes("a")) == nil)
                #expect(try txn.get(db, bytes("b")) == nil)
                #expect(try txn.getBytes(db, bytes("kept")) == bytes("1"))
                #expect(try txn.entries(db) == 1)
            }
        }
    }

    @Test("LMDB return codes surface as LMDBError cases; not found is nil or false")
    func errorMapping() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("kv")
            let dups = try env.database("dups", flags: .dupSort)
            try env.write { txn throws in
                try txn.put(db, bytes("k"), bytes("v"))
                #expect(throws: LMDBError.keyExists) { try txn.put(db, bytes("k"), bytes("w"), flags: .noOverwrite) }
                #expect(try txn.getBytes(db, bytes("k")) == bytes("v"))
                #expect(try txn.get(db, bytes("missing")) == nil)
                #expect(try txn.delete(db, bytes("missing")) == false)
                #expect(try txn.delete(db, bytes("k")) == true)
                #expect(try txn.delete(db, bytes("k")) == false)
                #expect(throws: LMDBError.badValueSize) { try txn.put(db, [UInt8](), bytes("v")) }
                #expect(throws: LMDBError.badValueSize) { try txn.put(db, [UInt8](repeating: 1, count: 600), [1]) }
                try txn.put(dups, bytes("k"), bytes("a"))
                #expect(throws: LMDBError.keyExists) { try txn.put(dups, bytes("k"), bytes("a"), flags: .noDupData) }
                #expect(try txn.delete(dups, bytes("k"), value: bytes("zzz")) == false)
                try txn.put(db, key(10), [], flags: .append)
                #expect(throws: LMDBError.keyExists) { try txn.put(db, key(5), [], flags: .append) }
            }
            #expect(throws: LMDBError.incompatible) { try env.database("kv", flags: .dupSort) }
            #expect(throws: LMDBError.notFound) { try env.database("never-created", create: false) }
            #expect(LMDBError.diskFull.description == "the store's disk is full (or its quota used up)")
            #expect(LMDBError(code: 28) == .diskFull)  // ENOSPC
            #expect(LMDBError(code: 122) == .diskFull)  // EDQUOT
            #expect(LMDBError(code: 5) == .io(errno: 5, message: "Input/output error"))
            #expect(LMDBError(code: -30792) == .mapFull)
            #expect(LMDBError(code: -30785) == .mapResized)
            for code in Int32(-30799)...Int32(-30780) {
                let error = LMDBError(code: code)
                if case .other = error { Issue.record("code \(code) is not mapped") }
                #expect(!error.description.isEmpty && !error.description.contains("\n"))
            }
        }
    }

    @Test("a transaction used after its closure throws instead of crashing")
    func useAfterEnd() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("kv")
            try env.write { txn in try txn.put(db, bytes("k"), bytes("v")) }
            let escapedRead = try env.read { $0 }
            #expect(throws: LMDBError.badTransaction) { try escapedRead.get(db, bytes("k")) }
            #expect(throws: LMDBError.badTransaction) { try escapedRead.cursor(db) }
            let escapedWrite = try env.write { $0 }
            #expect(throws: LMDBError.badTransaction) { try escapedWrite.put(db, bytes("k"), bytes("w")) }
            #expect(throws: LMDBError.badTransaction) { try escapedWrite.delete(db, bytes("k")) }
            let cursor = try env.read { txn throws in
                let cursor = try txn.cursor(db)
                #expect(try cursor.first() != nil)
                return cursor
            }
            #expect(throws: LMDBError.badTransaction) { try cursor.next() }
            cursor.close()
            #expect(try env.read { try $0.getBytes(db, bytes("k")) } == bytes("v"))
        }
    }

    @Test("a read transaction keeps its snapshot while another thread commits")
    func snapshotIsolation() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("kv")
            try env.write { txn in try txn.put(db, bytes("k"), bytes("old")) }
            let snapshotTaken = DispatchSemaphore(value: 0)
            let committed = DispatchSemaphore(value: 0)
            let seen = Shared<[String?]>([])
            let reader = Worker {
                try env.read { txn throws in
                    seen.value.append(text(try txn.get(db, bytes("k"))))
                    snapshotTaken.signal()
                    committed.wait()
                    seen.value.append(text(try txn.get(db, bytes("k"))))
                    seen.value.append(try env.read { fresh in text(try fresh.get(db, bytes("k"))) })
                }
            }
            snapshotTaken.wait()
            let writer = Worker {
                try env.write { txn in try txn.put(db, bytes("k"), bytes("new")) }
                committed.signal()
            }
            try writer.join()
            try reader.join()
            #expect(seen.value == ["old", "old", "new"])
            #expect(try env.read { text(try $0.get(db, bytes("k"))) } == "new")
        }
    }

    @Test("reads nest inside writes on the same thread; writes do not nest")
    func nesting() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("kv")
            try env.write { txn in try txn.put(db, bytes("k"), bytes("committed")) }
            try env.write { txn throws in
                try txn.put(db, bytes("k"), bytes("pending"))
                let outside = try env.read { text(try $0.get(db, bytes("k"))) }
                #expect(outside == "committed")
                #expect(throws: LMDBError.badTransaction) { try env.write { _ in } }
                // Opening a database inside a write uses that write's transaction.
                let inner = try env.database("opened-inside")
                try txn.put(inner, bytes("x"), bytes("y"))
            }
            #expect(try env.read { try $0.getBytes(env.database("opened-inside"), bytes("x")) } == bytes("y"))
            #expect(try env.read { text(try $0.get(db, bytes("k"))) } == "pending")
        }
    }

    @Test("dupSort databases keep sorted duplicates and count them")
    func duplicates() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("index", flags: .dupSort)
            try env.write { txn throws in
                for value in ["c", "a", "b"] { try txn.put(db, bytes("m1"), bytes(value)) }
                try txn.put(db, bytes("m1"), bytes("a"))  // same pair again: stored once
                try txn.put(db, bytes("m2"), bytes("z"))
            }
            try env.read { txn throws in
                #expect(try txn.duplicates(db, bytes("m1")).map { text($0)! } == ["a", "b", "c"])
                #expect(try txn.duplicateCount(db, bytes("m1")) == 3)
                #expect(try txn.duplicateCount(db, bytes("m2")) == 1)
                #expect(try txn.duplicateCount(db, bytes("none")) == 0)
                #expect(try txn.duplicates(db, bytes("none")).map { text($0)! } == [])
                #expect(try txn.entries(db) == 4)
                let cursor = try txn.cursor(db)
                #expect(text(try cursor.seek(bytes("m1"), value: bytes("b"))?.value) == "b")
                #expect(text(try cursor.nextDuplicate()?.value) == "c")
                #expect(try cursor.nextDuplicate() == nil)
                #expect(text(try cursor.nextKey()?.key) == "m2")
            }
            try env.write { txn throws in
                #expect(try txn.delete(db, bytes("m1"), value: bytes("b")))
                #expect(try txn.duplicateCount(db, bytes("m1")) == 2)
                #expect(try txn.delete(db, bytes("m1")))
                #expect(try txn.duplicateCount(db, bytes("m1")) == 0)
            }
            let plain = try env.database("plain")
            try env.write { txn in try txn.put(plain, bytes("k"), bytes("v")) }
            try env.read { txn throws in
                #expect(try txn.duplicateCount(plain, bytes("k")) == 1)
                #expect(try txn.duplicates(plain, bytes("k")).map { text($0)! } == ["v"])
            }
        }
    }

    @Test("clear empties a database; drop removes it, and an aborted drop keeps it")
    func clearAndDrop() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("projection")
            try env.write { txn in for n in 0..<100 { try txn.put(db, key(UInt64(n)), [1]) } }
            try env.write { txn in try txn.clear(db) }
            #expect(try env.read { try $0.entries(db) } == 0)
            try env.write { txn in try txn.put(db, key(1), [2]) }
            #expect(try env.read { try $0.entries(db) } == 1)

            #expect(throws: Boom.self) {
                try env.write { txn throws in
                    try txn.drop(db)
                    throw Boom()
                }
            }
            let again = try env.database("projection", create: false)
            #expect(try env.read { try $0.getBytes(again, key(1)) } == [2])

            try env.write { txn in try txn.drop(again) }
            #expect(throws: LMDBError.notFound) { try env.database("projection", create: false) }
            let fresh = try env.database("projection", flags: .dupSort)
            #expect(fresh.flags == .dupSort)
            #expect(try env.read { try $0.entries(fresh) } == 0)
        }
    }

    @Test("a database opened in an aborted transaction is forgotten")
    func abortedOpen() throws {
        try withEnvironment { env, _ throws in
            #expect(throws: Boom.self) {
                try env.write { txn throws in
                    let db = try txn.openDatabase("ephemeral", flags: [])
                    try txn.put(db, bytes("k"), bytes("v"))
                    throw Boom()
                }
            }
            #expect(throws: LMDBError.notFound) { try env.database("ephemeral", create: false) }
            let db = try env.write { txn in try txn.openDatabase("durable", flags: .integerKey) }
            #expect(try env.database("durable", flags: .integerKey) == db)
        }
    }
}
