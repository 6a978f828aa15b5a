import Subledger
#if canImport(Glibc)
import Glibc
#endif

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same workload.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Generates a realistic stream of commands (JSON Lines), tracking enough of the ledger's state
/// to keep almost every command valid, and making about `rejectRate` of them break a rule on
/// purpose (taken email, double subscription, double membership, unknown user, ...).
///
/// Every line has a `command_id` and an `at` (business time moving forward by 0-2 s a command).
/// About half the created entities get an explicit `id` and are then referenced by UUID half the
/// time; the others are referenced by email or name, so both look-up paths are exercised.
final class WorkloadGenerator {
    struct User { var email: String; var id: String? }
    struct Plan { var name: String; var id: String?; var seats: Int?; var used: Int }
    struct Group { var name: String; var id: String? }
    struct Subscription { var user: Int; var plan: Int; var id: String? }

    var rng: SplitMix64
    let seed: UInt64
    let rejectRate: Double
    var users: [User] = []
    var plans: [Plan] = []
    var groups: [Group] = []
    /// Active subscriptions, and where each (user, plan) pair sits in the array.
    var active: [Subscription] = []
    var activeIndex: [UInt64: Int] = [:]
    /// Ids of cancelled subscriptions that had an explicit id (to cancel them again, on purpose).
    var cancelled: [String] = []
    var memberships: [(user: Int, group: Int)] = []
    var membershipIndex: [UInt64: Int] = [:]
    var sequence = 0
    var seconds: Int64 = 1_735_689_600 // 2025-01-01T00:00:00Z
    var counts: [String: Int] = [:]
    var intendedRejections = 0

    static let firstNames = ["ann", "bob", "carla", "dmitri", "eve", "farid", "gita", "hugo", "ines", "jon",
                             "kemal", "lena", "mika", "nora", "oscar", "paula", "quentin", "rosa", "sven", "tariq"]
    static let lastNames = ["smith", "garcia", "mueller", "nguyen", "okafor", "rossi", "tanaka", "dubois",
                            "kowalski", "silva", "haddad", "jensen", "ivanova", "obrien", "patel"]

    init(seed: UInt64, rejectRate: Double = 0.03) {
        self.seed = seed
        self.rejectRate = rejectRate
        rng = SplitMix64(seed: seed)
    }

    // MARK: Output

    /// Writes `count` commands to `path`. Calling it again continues the same stream (state and clock).
    func write(count: Int, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw BenchError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        func flush() throws {
            var offset = 0
            while offset < buffer.count {
                let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw BenchError("cannot write \(path): \(String(cString: strerror(errno)))")
                }
                offset += n
            }
            buffer.removeAll(keepingCapacity: true)
        }
        for _ in 0..<count {
            buffer.append(contentsOf: nextLine().utf8)
            buffer.append(0x0A)
            if buffer.count >= 1 << 20 { try flush() }
        }
        try flush()
    }

    // MARK: Choosing commands

    func nextLine() -> String {
        sequence += 1
        seconds += Int64(rng.next() % 3)
        if sequence <= 8 { return bootstrap(sequence) }
        if chance(rejectRate) {
            intendedRejections += 1
            return rejected()
        }
        while true {
            let roll = Int(rng.next() % 1000)
            let line: String?
            switch roll {
            case 0..<180: line = registerUser()
            case 180..<440: line = recordLogin()
            case 440..<490: line = renameUser()
            case 490..<650: line = subscribe()
            case 650..<710: line = changePlan()
            case 710..<760: line = cancel()
            case 760..<900: line = joinGroup()
            case 900..<950: line = leaveGroup()
            case 950..<990: line = createGroup()
            default: line = createPlan()
            }
            if let line { return line }
        }
    }

    func bootstrap(_ n: Int) -> String {
        switch n {
        case 1: return createPlan(name: "free", price: 0, seats: nil)
        case 2: return createPlan(name: "basic", price: 900, seats: nil)
        case 3: return createPlan(name: "pro", price: 2900, seats: nil)
        case 4: return createPlan(name: "team-small", price: 4900, seats: 25)
        case 5: return createPlan(name: "team-large", price: 19900, seats: 5000)
        default: return createGroup()!
        }
    }

    // MARK: Valid commands

    func registerUser() -> String? {
        let n = users.count
        let first = pick(Self.firstNames), last = pick(Self.lastNames)
        let email = "\(first).\(last).\(n)@example.com"
        let id = chance(0.5) ? uuid() : nil
        users.append(User(email: email, id: id))
        var fields = [("email", json(email))]
        if chance(0.9) {
            let name = "\(first.capitalizedFirst) \(last.capitalizedFirst)"
            fields.append((chance(0.2) ? "fullname" : "full_name", json(name)))
        }
        if let id { fields.append(("id", json(id))) }
        return command("RegisterUser", fields)
    }

    func recordLogin() -> String? {
        guard let u = someUser() else { return nil }
        return command("RecordLogin", [("user", userRef(u))])
    }

    func renameUser() -> String? {
        guard let u = someUser() else { return nil }
        let name = "\(pick(Self.firstNames).capitalizedFirst) \(pick(Self.lastNames).capitalizedFirst)-\(rng.next() % 100)"
        return command("RenameUser", [("user", userRef(u)), (chance(0.2) ? "fullname" : "full_name", json(name))])
    }

    func subscribe() -> String? {
        guard let u = someUser() else { return nil }
        for _ in 0..<6 {
            let p = somePlan()
            guard activeIndex[pairKey(u, p)] == nil, hasSeat(p) else { continue }
            let id = chance(0.5) ? uuid() : nil
            addActive(Subscription(user: u, plan: p, id: id))
            var fields = [("user", userRef(u)), ("plan", planRef(p))]
            if let id { fields.append(("id", json(id))) }
            return command("Subscribe", fields)
        }
        return nil
    }

    func changePlan() -> String? {
        guard !active.isEmpty else { return nil }
        let i = Int(rng.next() % UInt64(active.count))
        let s = active[i]
        for _ in 0..<6 {
            let to = somePlan()
            guard to != s.plan, activeIndex[pairKey(s.user, to)] == nil, hasSeat(to) else { continue }
            let ref = subscriptionRef(s)
            removeActive(at: i)
            addActive(Subscription(user: s.user, plan: to, id: s.id))
            return command("ChangePlan", ref + [("to", planRef(to))])
        }
        return nil
    }

    func cancel() -> String? {
        guard !active.isEmpty else { return nil }
        let i = Int(rng.next() % UInt64(active.count))
        let s = active[i]
        let ref = subscriptionRef(s)
        removeActive(at: i)
        if let id = s.id { cancelled.append(id) }
        return command("Cancel", ref)
    }

    func joinGroup() -> String? {
        guard let u = someUser(), !groups.isEmpty else { return nil }
        for _ in 0..<4 {
            let g = someGroup()
            guard membershipIndex[pairKey(u, g)] == nil else { continue }
            membershipIndex[pairKey(u, g)] = memberships.count
            memberships.append((u, g))
            var fields = [("user", userRef(u)), ("group", groupRef(g))]
            if chance(0.3) { fields.append(("id", json(uuid()))) }
            return command("JoinGroup", fields)
        }
        return nil
    }

    func leaveGroup() -> String? {
        guard !memberships.isEmpty else { return nil }
        let i = Int(rng.next() % UInt64(memberships.count))
        let m = memberships[i]
        membershipIndex[pairKey(m.user, m.group)] = nil
        let last = memberships.removeLast()
        if i < memberships.count {
            memberships[i] = last
            membershipIndex[pairKey(last.user, last.group)] = i
        }
        return command("LeaveGroup", [("user", userRef(m.user)), ("group", groupRef(m.group))])
    }

    func createGroup() -> String? {
        let name = "group-\(groups.count)-\(pick(Self.lastNames))"
        let id = chance(0.5) ? uuid() : nil
        groups.append(Group(name: name, id: id))
        var fields = [("name", json(name))]
        if let id { fields.append(("id", json(id))) }
        return command("CreateGroup", fields)
    }

    func createPlan() -> String? {
        let team = chance(0.4)
        let name = (team ? "team-" : "plan-") + "\(plans.count)"
        let price = Int(rng.next() % 50) * 100 + (team ? 4900 : 0)
        return createPlan(name: name, price: price, seats: team ? 5 + Int(rng.next() % 200) : nil)
    }

    func createPlan(name: String, price: Int, seats: Int?) -> String {
        let id = chance(0.5) ? uuid() : nil
        plans.append(Plan(name: name, id: id, seats: seats, used: 0))
        var fields = [("name", json(name)), ("price_cents", String(price))]
        if let seats { fields.append(("seats", String(seats))) }
        if let id { fields.append(("id", json(id))) }
        return command("CreatePlan", fields)
    }

    // MARK: Rejected on purpose (the state does not change)

    func rejected() -> String {
        while true {
            switch rng.next() % 9 {
            case 0 where !users.isEmpty: // email taken (case-insensitive)
                let u = users[Int(rng.next() % UInt64(users.count))]
                return command("RegisterUser", [("email", json(u.email.uppercased()))], tag: "reject")
            case 1 where !active.isEmpty: // already subscribed
                let s = active[Int(rng.next() % UInt64(active.count))]
                return command("Subscribe", [("user", userRef(s.user)), ("plan", planRef(s.plan))], tag: "reject")
            case 2 where !memberships.isEmpty: // already a member
                let m = memberships[Int(rng.next() % UInt64(memberships.count))]
                return command("JoinGroup", [("user", userRef(m.user)), ("group", groupRef(m.group))], tag: "reject")
            case 3 where !cancelled.isEmpty: // not active
                return command("Cancel", [("subscription", json(pick(cancelled)))], tag: "reject")
            case 4: // unknown user
                return command("RecordLogin", [("user", json("nobody.\(rng.next() % 1_000_000)@example.org"))], tag: "reject")
            case 5 where !groups.isEmpty: // name taken
                return command("CreateGroup", [("name", json(groups[someGroup()].name))], tag: "reject")
            case 6 where !users.isEmpty && !groups.isEmpty: // not a member
                let u = someUser()!, g = someGroup()
                guard membershipIndex[pairKey(u, g)] == nil else { continue }
                return command("LeaveGroup", [("user", userRef(u)), ("group", groupRef(g))], tag: "reject")
            case 7: // validation: unknown field
                return command("RegisterUser", [("email", json("x\(rng.next() % 1000)@example.com")), ("nickname", json("x"))], tag: "reject")
            case 8 where !users.isEmpty: // validation: price below zero
                return command("CreatePlan", [("name", json("broken-\(sequence)")), ("price_cents", "-1")], tag: "reject")
            default: continue
            }
        }
    }

    // MARK: State helpers

    func addActive(_ s: Subscription) {
        activeIndex[pairKey(s.user, s.plan)] = active.count
        active.append(s)
        if plans[s.plan].seats != nil { plans[s.plan].used += 1 }
    }

    func removeActive(at i: Int) {
        let s = active[i]
        activeIndex[pairKey(s.user, s.plan)] = nil
        if plans[s.plan].seats != nil { plans[s.plan].used -= 1 }
        let last = active.removeLast()
        if i < active.count {
            active[i] = last
            activeIndex[pairKey(last.user, last.plan)] = i
        }
    }

    func hasSeat(_ p: Int) -> Bool {
        guard let seats = plans[p].seats else { return true }
        return plans[p].used < seats
    }

    func pairKey(_ a: Int, _ b: Int) -> UInt64 { UInt64(a) << 32 | UInt64(b) }

    /// A user, biased to recent ones (active users are mostly new users).
    func someUser() -> Int? {
        guard !users.isEmpty else { return nil }
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        return users.count - 1 - Int(Double(users.count) * u * u * u) % users.count
    }

    /// A plan: the five bootstrap plans most of the time.
    func somePlan() -> Int {
        if plans.count <= 5 || chance(0.8) { return Int(rng.next() % UInt64(min(5, plans.count))) }
        return Int(rng.next() % UInt64(plans.count))
    }

    func someGroup() -> Int { Int(rng.next() % UInt64(groups.count)) }

    func userRef(_ u: Int) -> String {
        if let id = users[u].id, chance(0.5) { return json(id) }
        return json(users[u].email)
    }

    func planRef(_ p: Int) -> String {
        if let id = plans[p].id, chance(0.5) { return json(id) }
        return json(plans[p].name)
    }

    func groupRef(_ g: Int) -> String {
        if let id = groups[g].id, chance(0.5) { return json(id) }
        return json(groups[g].name)
    }

    func subscriptionRef(_ s: Subscription) -> [(String, String)] {
        if let id = s.id, chance(0.7) { return [("subscription", json(id))] }
        return [("user", userRef(s.user)), ("plan", planRef(s.plan))]
    }

    func chance(_ p: Double) -> Bool { Double(rng.next() >> 11) / Double(1 << 53) < p }

    func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }

    func uuid() -> String {
        var high = rng.next(), low = rng.next()
        high = (high & ~0xF000) | 0x4000 // version 4
        low = (low & ~(0xC << 60)) | (0x8 << 60) // variant
        return EntityID(high: high, low: low).description
    }

    func command(_ name: String, _ fields: [(String, String)], tag: String = "") -> String {
        counts[name + (tag.isEmpty ? "" : " (\(tag))"), default: 0] += 1
        var s = #"{"command":"\#(name)","command_id":"bench-\#(seed)-\#(sequence)","at":"\#(Timestamp(microseconds: seconds * 1_000_000).rfc3339)""#
        for (k, v) in fields { s += #","\#(k)":\#(v)"# }
        return s + "}"
    }

    /// A JSON string literal (the generated text needs no escapes).
    func json(_ s: String) -> String { "\"" + s + "\"" }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
