import CPrefetch

/// Entity ids numbered densely in the order first seen, each with a value kept beside it: what
/// lets a fold or a check keep per-entity state in arrays, and the state read with every
/// look-up in the same cache line. Open addressing with linear probing, each bucket holding its
/// id, number and value together, so a look-up hashes 16 bytes with two multiplies (not
/// SipHash) and mostly touches one cache line: at 10^6 events the table is far larger than the
/// caches, and a fold's time goes to misses.
///
/// The hash is seeded per process: ids can come from outside, and a seed nobody knows keeps
/// chosen ids from piling onto one probe run.
struct EntityIndex<Value: BitwiseCopyable> {
    private struct Bucket {
        var high: UInt64
        var low: UInt64
        /// The id's number; `empty` where the bucket holds none.
        var number: Int32
        var value: Value
    }

    private var buckets: [Bucket]
    private var mask: Int
    private(set) var count = 0
    /// The value of an id when it is numbered.
    private let initial: Value
    private let seed = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))
    private static var empty: Int32 { -1 }

    init(capacity: Int = 0, initial: Value) {
        self.initial = initial
        buckets = EntityIndex.emptyBuckets(for: capacity, initial)
        mask = buckets.count - 1
    }

    /// A power of two of empty buckets that holds `count` ids at most three-quarters full.
    private static func emptyBuckets(for count: Int, _ initial: Value) -> [Bucket] {
        var n = 16
        while n * 3 < count * 4 { n <<= 1 }
        return Array(repeating: Bucket(high: 0, low: 0, number: empty, value: initial), count: n)
    }

    @inline(__always) private func bucket(of id: EntityID) -> Int {
        let m = ((id.high ^ seed.0) &* 0x9E37_79B9_7F4A_7C15 ^ id.low ^ seed.1).multipliedFullWidth(by: 0xD6E8_FEB8_6659_FD93)
        return Int(truncatingIfNeeded: m.high ^ m.low) & mask
    }

    /// Loads the cache line of `id`'s bucket, so that a look-up of it a little later hits.
    @inline(__always) func prefetch(_ id: EntityID) {
        let i = bucket(of: id)
        buckets.withUnsafeBufferPointer { subledger_prefetch($0.baseAddress! + i) }
    }

    /// The number of `id` and its value, if it has a number.
    @inline(__always) func find(_ id: EntityID) -> (number: Int, value: Value)? {
        buckets.withUnsafeBufferPointer { b in
            var i = bucket(of: id)
            while true {
                let n = b[i].number
                if n == EntityIndex.empty { return nil }
                if b[i].high == id.high, b[i].low == id.low { return (Int(n), b[i].value) }
                i = (i + 1) & mask
            }
        }
    }

    /// The number of `id`, if it has one.
    func number(of id: EntityID) -> Int? { find(id)?.number }

    /// The number of `id`, numbering it next (`count` before the call) if it had none.
    mutating func insert(_ id: EntityID) -> Int { update(id) { _, number in number } }

    /// Calls `body` with the value of `id` to change and its number, numbering it next with the
    /// initial value if it had none.
    @inline(__always)
    mutating func update<R>(_ id: EntityID, _ body: (_ value: inout Value, _ number: Int) -> R) -> R {
        if (count + 1) * 4 > buckets.count * 3 { reserve(count + 1) }
        var i = bucket(of: id)
        let next = Int32(count), initial = initial
        let (result, isNew) = buckets.withUnsafeMutableBufferPointer { b -> (R, Bool) in
            while true {
                let n = b[i].number
                if n == EntityIndex.empty {
                    b[i] = Bucket(high: id.high, low: id.low, number: next, value: initial)
                    return (body(&b[i].value, Int(next)), true)
                }
                if b[i].high == id.high, b[i].low == id.low { return (body(&b[i].value, Int(n)), false) }
                i = (i + 1) & mask
            }
        }
        if isNew { count += 1 }
        return result
    }

    /// Makes room for `capacity` ids without growing again.
    mutating func reserve(_ capacity: Int) {
        precondition(capacity < Int(Int32.max), "an entity index numbers fewer than 2^31 ids")
        var fresh = EntityIndex.emptyBuckets(for: capacity, initial)
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

extension EntityIndex where Value == Void {
    /// Ids numbered, with nothing kept beside them.
    init(capacity: Int = 0) { self.init(capacity: capacity, initial: ()) }
}
