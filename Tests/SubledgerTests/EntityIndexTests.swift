import PropertyBased
import Testing
@testable import Subledger

/// The table the whole-log folds and verify's log check number entities by: against a
/// dictionary, over random runs of numbering, changing values and looking up, through the
/// growths of a table reserved too small.
struct EntityIndexTests {
    @Test func numbersIdsInTheOrderFirstSeenAndKeepsTheirValues() async {
        // Few distinct ids, so that ids come back; `high` from a small range too, so that
        // buckets collide and probe runs form.
        let op = zip(Gen.int(in: 0...2), Gen.int(in: 0...300), Gen.int(in: 1...1_000_000))
        await propertyCheck(count: 100, input: op.array(of: 0...2_000), Gen.int(in: 0...64)) { ops, reserved in
            var index = EntityIndex<UInt64>(capacity: reserved, initial: 0)
            var numbers: [EntityID: Int] = [:], values: [EntityID: UInt64] = [:]
            for (kind, n, value) in ops {
                let id = EntityID(high: UInt64(n % 17), low: UInt64(n))
                switch kind {
                case 0:
                    let number = index.insert(id)
                    #expect(number == numbers[id] ?? numbers.count)
                    if numbers[id] == nil { numbers[id] = number; values[id] = 0 }
                case 1:
                    let seen = index.update(id) { v, number in
                        defer { v = UInt64(value) }
                        return (v, number)
                    }
                    #expect(seen.0 == values[id] ?? 0)
                    #expect(seen.1 == numbers[id] ?? numbers.count)
                    if numbers[id] == nil { numbers[id] = seen.1 }
                    values[id] = UInt64(value)
                default:
                    let found = index.find(id)
                    #expect(found?.number == numbers[id])
                    #expect(found?.value == values[id])
                }
                #expect(index.count == numbers.count)
            }
            for (id, number) in numbers {
                #expect(index.number(of: id) == number)
                #expect(index.find(id)?.value == values[id])
            }
            #expect(index.find(EntityID(high: 99, low: 99)) == nil)
        }
    }
}
