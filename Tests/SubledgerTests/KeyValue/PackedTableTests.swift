import Testing
@testable import Subledger

/// A packed table lists its entries as LMDB would: by key bytes, shorter prefixes first, keys
/// longer than `ViewKey`'s inline words included; values travel with their keys.
@Suite struct PackedTableTests {
    @Test func sortedIsByteOrderWithValuesAttached() {
        var rng = SplitMix64(seed: 7)
        var entries: [(key: [UInt8], value: [UInt8])] = []
        for i in 0..<2_000 {
            // Short keys over a tiny alphabet make shared prefixes and prefix keys common.
            let length = Int(rng.next() % 4 == 0 ? 41 + rng.next() % 60 : rng.next() % 12)
            let key = (0..<length).map { _ in UInt8(rng.next() % 3) }
            if entries.contains(where: { $0.key == key }) { continue }
            entries.append((key, Array("v\(i)".utf8)))
        }
        var builder = PackedTable.Builder(capacity: entries.count)
        for e in entries { builder.append(key: e.key, value: e.value) }
        let packed = builder.sorted()
        let want = entries.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        #expect(packed.count == want.count)
        for i in 0..<packed.count {
            let got = packed.entry(i)
            #expect(got.key == want[i].key && got.value == want[i].value, "entry \(i)")
        }
    }

    @Test func sortedUniqueKeepsTheFirstOfEqualKeys() {
        var builder = PackedTable.Builder(capacity: 0)
        for (key, value) in [([2], "a"), ([1], "b"), ([2], "c"), ([1, 0], "d"), ([1], "e")] as [([UInt8], String)] {
            builder.append(key: key, value: Array(value.utf8))
        }
        let packed = builder.sorted(unique: true)
        #expect((0..<packed.count).map { packed.entry($0).key } == [[1], [1, 0], [2]])
        #expect((0..<packed.count).map { String(decoding: packed.entry($0).value, as: UTF8.self) } == ["b", "d", "a"])
        #expect(builder.sorted().count == 5)
    }

    @Test func positionKeysAndEncodedValuesInOrder() {
        var builder = PackedTable.Builder(capacity: 3)
        for p: UInt64 in [1, 256, 1 << 40] { builder.append(position: p) { $0.varint(p) } }
        let packed = builder.inOrder()
        #expect((0..<3).map { packed.entry($0).key } == [1, 256, 1 << 40].map { Keys.position($0) })
        var w = BinaryWriter()
        w.varint(256)
        #expect(packed.entry(1).value == w.bytes)
    }
}
