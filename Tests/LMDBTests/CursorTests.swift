import LMDB
import Testing

@Suite("Cursors and ranges")
struct CursorTests {
    /// Keys 10, 20, 30, 40, 50 (one byte each), each holding its own key as value.
    func withTens(_ body: (Environment, Database) throws -> Void) throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("tens")
            try env.write { txn in for n: UInt8 in [30, 10, 50, 20, 40] { try txn.put(db, [n], [n]) } }
            try body(env, db)
        }
    }

    func scan(_ env: Environment, _ db: Database, _ from: UInt8?, _ to: UInt8?, reverse: Bool = false) throws -> [UInt8] {
        try env.read { txn throws in
            try txn.scan(db, from: from.map { [$0] }, to: to.map { [$0] }, reverse: reverse).map { entry in
                #expect(Array(entry.key) == Array(entry.value))
                return entry.key[0]
            }
        }
    }

    @Test("forward: from inclusive, to exclusive")
    func forward() throws {
        try withTens { env, db throws in
            #expect(try scan(env, db, nil, nil) == [10, 20, 30, 40, 50])
            #expect(try scan(env, db, 20, 40) == [20, 30])
            #expect(try scan(env, db, 15, 45) == [20, 30, 40])
            #expect(try scan(env, db, nil, 30) == [10, 20])
            #expect(try scan(env, db, 30, nil) == [30, 40, 50])
            #expect(try scan(env, db, 50, nil) == [50])
            #expect(try scan(env, db, 0, 11) == [10])
        }
    }

    @Test("forward: empty ranges")
    func forwardEmpty() throws {
        try withTens { env, db throws in
            #expect(try scan(env, db, 40, 20) == [])
            #expect(try scan(env, db, 30, 30) == [])
            #expect(try scan(env, db, 51, nil) == [])
            #expect(try scan(env, db, nil, 10) == [])
            #expect(try scan(env, db, 21, 29) == [])
        }
    }

    @Test("reverse: from the last key <= from, down to `to` inclusive")
    func reverse() throws {
        try withTens { env, db throws in
            #expect(try scan(env, db, nil, nil, reverse: true) == [50, 40, 30, 20, 10])
            #expect(try scan(env, db, 40, 20, reverse: true) == [40, 30, 20])
            #expect(try scan(env, db, 45, 15, reverse: true) == [40, 30, 20])
            #expect(try scan(env, db, nil, 30, reverse: true) == [50, 40, 30])
            #expect(try scan(env, db, 30, nil, reverse: true) == [30, 20, 10])
            #expect(try scan(env, db, 255, nil, reverse: true) == [50, 40, 30, 20, 10])
            #expect(try scan(env, db, 10, 10, reverse: true) == [10])
        }
    }

    @Test("reverse: empty ranges")
    func reverseEmpty() throws {
        try withTens { env, db throws in
            #expect(try scan(env, db, 5, nil, reverse: true) == [])
            #expect(try scan(env, db, 20, 40, reverse: true) == [])
            #expect(try scan(env, db, 29, 21, reverse: true) == [])
            #expect(try scan(env, db, nil, 51, reverse: true) == [])
            #expect(try env.read { txn in try txn.scan(db, from: [], reverse: true).map { _ in 1 } } == [])
        }
    }

    @Test("an empty database scans empty both ways")
    func emptyDatabase() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("empty")
            try env.read { txn throws in
                #expect(keys(try txn.scan(db)) == [])
                #expect(keys(try txn.scan(db, reverse: true)) == [])
                #expect(keys(try txn.scan(db, from: [1], to: [2])) == [])
                #expect(keys(try txn.scan(db, from: [1], reverse: true)) == [])
                #expect(try txn.cursor(db).first() == nil)
            }
        }
    }

    @Test("dupSort: ranges yield every value; reverse starts at the last value of `from`")
    func duplicateRanges() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("dups", flags: .dupSort)
            try env.write { txn throws in
                for k: UInt8 in [1, 2, 3] { for v: UInt8 in [1, 2] { try txn.put(db, [k], [v]) } }
            }
            try env.read { txn throws in
                let up = try txn.scan(db, from: [2]).map { [$0.key[0], $0.value[0]] }
                #expect(up == [[2, 1], [2, 2], [3, 1], [3, 2]])
                let down = try txn.scan(db, from: [2], reverse: true).map { [$0.key[0], $0.value[0]] }
                #expect(down == [[2, 2], [2, 1], [1, 2], [1, 1]])
                let middle = try txn.scan(db, from: [3], to: [2], reverse: true).map { [$0.key[0], $0.value[0]] }
                #expect(middle == [[3, 2], [3, 1], [2, 2], [2, 1]])
            }
        }
    }

    @Test("warmBlock reads around entries of every page and leaves the walk as it was")
    func warmBlockKeepsTheWalk() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("many")
            // Values of 300 bytes: about a dozen to a page, so the walk crosses many pages.
            try env.write { txn in for n: UInt16 in 0..<2000 { try txn.put(db, withUnsafeBytes(of: n.bigEndian) { Array($0) }, [UInt8](repeating: UInt8(n & 0xFF), count: 300)) } }
            try env.read { txn throws in
                let cursor = try txn.cursor(db)
                cursor.warmBlock(of: UnsafeRawBufferPointer(start: nil, count: 0))
                var entry = try cursor.first()
                var n: UInt16 = 0
                while let (key, value) = entry {
                    cursor.warmBlock(of: key)
                    cursor.warmBlock(of: value)
                    #expect(Array(key) == withUnsafeBytes(of: n.bigEndian) { Array($0) })
                    #expect(value.count == 300 && value.allSatisfy { $0 == UInt8(n & 0xFF) })
                    n += 1
                    entry = try cursor.next()
                }
                #expect(n == 2000)
            }
        }
    }

    @Test("cursor moves: first, last, next, previous, seek, seekExact")
    func cursorMoves() throws {
        try withTens { env, db throws in
            try env.read { txn throws in
                let cursor = try txn.cursor(db)
                #expect(try cursor.first()?.key.first == 10)
                #expect(try cursor.next()?.key.first == 20)
                #expect(try cursor.previous()?.key.first == 10)
                #expect(try cursor.previous() == nil)
                #expect(try cursor.last()?.key.first == 50)
                #expect(try cursor.next() == nil)
                #expect(try cursor.seek([25])?.key.first == 30)
                #expect(try cursor.current()?.key.first == 30)
                #expect(try cursor.seek([60]) == nil)
                #expect(try cursor.seekExact([25]) == nil)
                #expect(try cursor.seekExact([40])?.value.first == 40)
                cursor.close()
                cursor.close()
                #expect(throws: LMDBError.badTransaction) { try cursor.first() }
                // Many cursors in one transaction, most released early, some left for the transaction to close.
                for _ in 0..<1000 { _ = try txn.cursor(db).first() }
                let kept = (0..<10).map { _ in try? txn.cursor(db) }
                #expect(kept.allSatisfy { $0 != nil })
            }
            try env.write { txn throws in
                let cursor = try txn.cursor(db)
                #expect(try cursor.last()?.key.first == 50)
                try txn.put(db, [60], [60])
                #expect(try cursor.next()?.key.first == 60)
                let sequence = try txn.scan(db, from: [40])
                #expect(sequence.next()?.key.first == 40)
                // Left unfinished: the transaction closes the cursors as it commits.
            }
            #expect(try scan(env, db, 55, nil) == [60])
        }
    }

    @Test("append through a cursor: in key order across many pages; out of order refused; read-only refused")
    func cursorAppend() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("appended")
            try env.write { txn throws in
                let cursor = try txn.cursor(db)
                for n in UInt64(0)..<5_000 {
                    try key(n).withUnsafeBytes { k in try [UInt8](repeating: UInt8(n % 251), count: 40).withUnsafeBytes { try cursor.append(k, $0) } }
                }
                #expect(throws: LMDBError.keyExists) {
                    try key(7).withUnsafeBytes { k in try [UInt8]([1]).withUnsafeBytes { try cursor.append(k, $0) } }
                }
            }
            try env.read { txn throws in
                #expect(try txn.entries(db) == 5_000)
                var n: UInt64 = 0
                for (k, value) in try txn.scan(db) {
                    #expect(Array(k) == key(n) && Array(value) == [UInt8](repeating: UInt8(n % 251), count: 40))
                    n += 1
                }
                let cursor = try txn.cursor(db)
                #expect(throws: LMDBError.badTransaction) {
                    try key(9_999).withUnsafeBytes { k in try [UInt8]([1]).withUnsafeBytes { try cursor.append(k, $0) } }
                }
            }
        }
    }

    @Test("append through a cursor past a small map: the write grows the map and runs again")
    func cursorAppendGrowsTheMap() throws {
        try withEnvironment(options: .init(mapSize: 1 << 20)) { env, _ throws in
            let db = try env.database("appended")
            let value = [UInt8](repeating: 7, count: 1_000)
            try env.write { txn throws in
                let cursor = try txn.cursor(db)
                for n in UInt64(0)..<8_000 {
                    try key(n).withUnsafeBytes { k in try value.withUnsafeBytes { try cursor.append(k, $0) } }
                }
            }
            #expect(try env.read { txn throws in try txn.entries(db) } == 8_000)
            #expect(try env.info.mapSize > 1 << 20)
        }
    }
}
