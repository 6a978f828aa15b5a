/// Entity ids numbered densely in the order first seen: what lets a fold or a check keep per-entity
/// state in arrays. Open addressing with linear probing, each bucket holding its id and number
/// together, so a look-up hashes 16 bytes with two multiplies (not SipHash) and mostly touches
/// one cache line: at 10^6 events the table is far larger than the caches, and a fold's time goes
/// to misses.
///
/// The hash is seeded per process: ids can come from outside, and a seed nobody knows keeps
/// chosen ids from piling onto one probe run.
struct EntityIndex {
    private struct Bucket {
        var high: UInt64
        var low: UInt64
        /// The id's number; `empty` where the bucket holds none.
        var number: Int32
    }

    private var buckets: [Bucket]
    private var mask: Int
    private(set) var count = 0
    private let seed = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))
    private static let empty: Int32 = -1

    init(capacity: Int = 0) {
        buckets = EntityIndex.emptyBuckets(for: capacity)
        mask = buckets.count - 1
    }

    /// A power of two of empty buckets that holds `count` ids at most three-quarters full.
    private static func emptyBuckets(for count: Int) -> [Bucket] {
        var n = 16
        while n * 3 < count * 4 { n <<= 1 }
        return Array(repeating: Bucket(high: 0, low: 0, number: empty), count: n)
    }

    @inline(__always) private func bucket(of id: EntityID) -> Int {
        let m = ((id.high ^ seed.0) &* 0x9E37_79B9_7F4A_7C15 ^ id.low ^ seed.1).multipliedFullWidth(by: 0xD6E8_FEB8_6659_FD93)
        return Int(truncatingIfNeeded: m.high ^ m.low) & mask
    }

    /// The number of `id`, if it has one.
    func number(of id: EntityID) -> Int? {
        buckets.withUnsafeBufferPointer { b in
            var i = bucket(of: id)
            while true {
                let n = b[i].number
                if n == EntityIndex.empty { return nil }
                if b[i].high == id.high, b[i].low == id.low { return Int(n) }
                i = (i + 1) & mask
            }
        }
    }

    /// The number of `id`, numbering it next (`count` before the call) if it had none.
    mutating func insert(_ id: EntityID) -> Int {
        if (count + 1) * 4 > buckets.count * 3 { reserve(count + 1) }
        var i = bucket(of: id)
        let next = Int32(count)
        let number = buckets.withUnsafeMutableBufferPointer { b -> Int32 in
            while true {
                let n = b[i].number
                if n == EntityIndex.empty {
                    b[i] = Bucket(high: id.high, low: id.low, number: next)
                    return next
                }
                if b[i].high == id.high, b[i].low == id.low { return n }
                i = (i + 1) & mask
            }
        }
        if number == next { count += 1 }
        return Int(number)
    }

    /// Makes room for `capacity` ids without growing again.
    mutating func reserve(_ capacity: Int) {
        precondition(capacity < Int(Int32.max), "an entity index numbers fewer than 2^31 ids")
        var fresh = EntityIndex.emptyBuckets(for: capacity)
        guard fresh.count > buckets.count else { return }
        let mask = fresh.count - 1
        self.mask = mask
        fresh.withUnsafeMutableBufferPointer { b in
            for old in buckets where old.number != EntityIndex.empty {
                var i = bucket(of: EntityID(high: old.high, low: old.low))
                while b[i].number != EntityIndex.empty { i = (i + 1) & mask }
                b[i] = old
            }
        }
        buckets = fresh
    }
}
