/// Entity ids numbered densely in the order first seen: what lets a fold or a check keep per-entity
/// state in arrays. Open addressing with linear probing over parallel arrays, so a look-up
/// hashes 16 bytes with two multiplies (not SipHash) and touches one or two cache lines.
///
/// The hash is seeded per process: ids can come from outside, and a seed nobody knows keeps
/// chosen ids from piling onto one probe run.
struct EntityIndex {
    /// The id in each bucket, valid where `numbers` is not `empty`.
    private var keys: [EntityID]
    /// The number of the id in each bucket.
    private var numbers: [Int32]
    private var mask: Int
    private(set) var count = 0
    private let seed = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))
    private static let empty: Int32 = -1

    init(capacity: Int = 0) {
        let buckets = EntityIndex.buckets(for: capacity)
        keys = Array(repeating: EntityID(high: 0, low: 0), count: buckets)
        numbers = Array(repeating: EntityIndex.empty, count: buckets)
        mask = buckets - 1
    }

    /// A power of two that holds `count` ids at most three-quarters full.
    private static func buckets(for count: Int) -> Int {
        var n = 16
        while n * 3 < count * 4 { n <<= 1 }
        return n
    }

    @inline(__always) private func bucket(of id: EntityID) -> Int {
        let m = ((id.high ^ seed.0) &* 0x9E37_79B9_7F4A_7C15 ^ id.low ^ seed.1).multipliedFullWidth(by: 0xD6E8_FEB8_6659_FD93)
        return Int(truncatingIfNeeded: m.high ^ m.low) & mask
    }

    /// The number of `id`, if it has one.
    func number(of id: EntityID) -> Int? {
        var b = bucket(of: id)
        while true {
            let n = numbers[b]
            if n == EntityIndex.empty { return nil }
            if keys[b] == id { return Int(n) }
            b = (b + 1) & mask
        }
    }

    /// The number of `id`, numbering it next (`count` before the call) if it had none.
    mutating func insert(_ id: EntityID) -> Int {
        if (count + 1) * 4 > numbers.count * 3 { reserve(count + 1) }
        var b = bucket(of: id)
        while true {
            let n = numbers[b]
            if n == EntityIndex.empty {
                keys[b] = id
                numbers[b] = Int32(count)
                count += 1
                return count - 1
            }
            if keys[b] == id { return Int(n) }
            b = (b + 1) & mask
        }
    }

    /// Makes room for `capacity` ids without growing again.
    mutating func reserve(_ capacity: Int) {
        precondition(capacity < Int(Int32.max), "an entity index numbers fewer than 2^31 ids")
        let buckets = EntityIndex.buckets(for: capacity)
        guard buckets > numbers.count else { return }
        let (oldKeys, oldNumbers) = (keys, numbers)
        keys = Array(repeating: EntityID(high: 0, low: 0), count: buckets)
        numbers = Array(repeating: EntityIndex.empty, count: buckets)
        mask = buckets - 1
        for i in oldNumbers.indices where oldNumbers[i] != EntityIndex.empty {
            var b = bucket(of: oldKeys[i])
            while numbers[b] != EntityIndex.empty { b = (b + 1) & mask }
            keys[b] = oldKeys[i]
            numbers[b] = oldNumbers[i]
        }
    }
}
