// Reference model of the domain, the commands and their fine print (docs/commands.md, docs/views.md): an in-memory, dictionary-based oracle for
// property-based tests. Written from the contract alone; it shares no code with
// the production module on purpose.

import Foundation

// MARK: - Public (internal) surface

enum RefValue: Equatable, Hashable, CustomStringConvertible {
    case string(String), int(Int64), null

    var description: String {
        switch self {
        case .string(let s): return "\"" + s + "\""
        case .int(let n): return String(n)
        case .null: return "null"
        }
    }
}

typealias RefRow = [String: RefValue]

enum RefOutcome: Equatable {
    case ok(position: Int, createdID: String?)
    case duplicate(positions: [Int])
    case rejected(rule: String)
}

struct ReferenceModel {
    /// The view names `view(_:)` knows.
    static let viewNames = [
        "users", "plans", "team_plans", "groups", "memberships", "subscriptions",
        "active_subscriptions", "paying_subscriptions", "recent_memberships",
    ]

    // MARK: State (plain dictionaries)

    private struct User { var seq: Int; var email: String; var fullName: String; var registered: Int64; var lastLogin: Int64? }
    private struct Plan { var seq: Int; var name: String; var price: Int64; var seats: Int64?; var created: Int64 }
    private struct Group { var seq: Int; var name: String; var created: Int64 }
    private struct Membership { var seq: Int; var user: String; var group: String; var joined: Int64 }
    private struct Subscription { var seq: Int; var user: String; var plan: String; var created: Int64; var updated: Int64; var cancelled: Int64? }

    private var users: [String: User] = [:]
    private var plans: [String: Plan] = [:]
    private var groups: [String: Group] = [:]
    private var memberships: [String: Membership] = [:]
    private var subscriptions: [String: Subscription] = [:]
    /// Every id ever used by any entity (lower case), deleted ones included.
    private var usedIDs: Set<String> = []
    /// command_id (as UTF-8 bytes) of applied commands → position.
    private var commandIDs: [[UInt8]: Int] = [:]
    /// `at` of the newest event, microseconds since the Unix epoch (UTC).
    private var newestAt: Int64? = nil
    /// Volatile last_seen, by user id.
    private var seen: [String: Int64] = [:]

    /// Newest position (0 when the log is empty).
    private(set) var head: Int = 0

    init() {}

    // MARK: Volatile last_seen

    /// Sets the volatile `last_seen` of a live user (by id). Unknown/deleted users and
    /// unparsable times are ignored (the product would reject them; nothing is logged).
    mutating func setSeen(user: String, at: String) {
        let id = user.lowercased()
        guard users[id] != nil, let t = RefTime.parse(at) else { return }
        seen[id] = t
    }

    mutating func forgetSeen(user: String) {
        seen[user.lowercased()] = nil
    }

    // MARK: Commands

    private struct Reject: Error { let rule: String; init(_ rule: String) { self.rule = rule } }

    /// Executes one JSON-lines command. `now` is the wall-clock time (RFC 3339) used when
    /// the command has no `at`; `newID` is the id to use when a create command carries no
    /// `id` (lower-case UUID text).
    mutating func execute(line: String, now: String, newID: String) -> RefOutcome {
        do {
            return try run(line: line, now: now, newID: newID)
        } catch let r as Reject {
            return .rejected(rule: r.rule)
        } catch {
            return .rejected(rule: "internal")
        }
    }

    private static let stringFields: Set<String> = [
        "command", "command_id", "at", "email", "full_name", "fullname", "id",
        "user", "plan", "group", "subscription", "to", "name",
    ]
    private static let intFields: Set<String> = ["price_cents", "seats"]

    /// Per command: fields of §2 (besides command, command_id, at) and required groups
    /// (a group is satisfied when any one of its keys is present).
    private static let commandSpecs: [String: (fields: Set<String>, required: [[String]])] = [
        "RegisterUser": (["email", "full_name", "fullname", "id"], [["email"]]),
        "RenameUser": (["user", "full_name", "fullname"], [["user"], ["full_name", "fullname"]]),
        "RecordLogin": (["user"], [["user"]]),
        "DeleteUser": (["user"], [["user"]]),
        "CreatePlan": (["name", "price_cents", "seats", "id"], []),
        "DeletePlan": (["plan"], [["plan"]]),
        "CreateGroup": (["name", "id"], [["name"]]),
        "DeleteGroup": (["group"], [["group"]]),
        "Subscribe": (["user", "plan", "id"], [["user"], ["plan"]]),
        "ChangePlan": (["subscription", "user", "plan", "to"], [["to"]]),
        "Cancel": (["subscription", "user", "plan"], []),
        "JoinGroup": (["user", "group", "id"], [["user"], ["group"]]),
        "LeaveGroup": (["user", "group"], [["user"], ["group"]]),
    ]

    private mutating func run(line: String, now: String, newID: String) throws -> RefOutcome {
        // 1. parse
        var parser = RefJSONParser(Array(line.utf8))
        guard let doc = parser.parseDocument() else { throw Reject("malformed_json") }
        guard case .object(let o) = doc else { throw Reject("not_an_object") }
        guard let commandValue = o["command"] else { throw Reject("missing_field") }
        guard case .string(let command) = commandValue else { throw Reject("wrong_type") }
        guard let spec = Self.commandSpecs[command] else { throw Reject("unknown_command") }

        // 2. field validation
        let allowed = spec.fields.union(["command", "command_id", "at"])
        for key in o.keys where !allowed.contains(key) { throw Reject("unknown_field") }
        for group in spec.required where !group.contains(where: { o[$0] != nil }) { throw Reject("missing_field") }
        var s: [String: String] = [:]
        var n: [String: Int64] = [:]
        for (key, value) in o {
            if Self.intFields.contains(key) {
                guard case .int(let v) = value else { throw Reject("wrong_type") }
                n[key] = v
            } else {
                guard case .string(let v) = value else { throw Reject("wrong_type") }
                s[key] = v
            }
        }
        for key in ["id", "subscription"] { if let v = s[key], !Self.isUUID(v) { throw Reject("invalid_uuid") } }
        for (_, v) in s where v.utf8.count > 1024 { throw Reject("too_long") }
        if let cid = s["command_id"] {
            if cid.utf8.isEmpty { throw Reject("invalid_length") }
            if cid.utf8.count > 128 { throw Reject("too_long") }
        }
        if let name = s["name"] {
            let count = name.unicodeScalars.count
            if count == 0 { throw Reject("invalid_length") }
            if count > 80 { throw Reject("too_long") }
        }
        if let email = s["email"], !Self.trim(email).contains("@") { throw Reject("invalid_email") }
        var explicitAt: Int64? = nil
        if let at = s["at"] {
            guard let t = RefTime.parse(at) else { throw Reject("invalid_at") }
            explicitAt = t
        }
        if let p = n["price_cents"], p < 0 { throw Reject("negative_price") }
        if let seats = n["seats"], seats < 1 { throw Reject("invalid_seats") }
        if let a = s["full_name"], let b = s["fullname"], !Self.same(a, b) { throw Reject("alias_conflict") }
        if command == "ChangePlan" || command == "Cancel" {
            let hasSub = s["subscription"] != nil, hasUser = s["user"] != nil, hasPlan = s["plan"] != nil
            let ok = (hasSub && !hasUser && !hasPlan) || (!hasSub && hasUser && hasPlan)
            if !ok { throw Reject("subscription_reference") }
        }

        // 3. command_id
        var cidKey: [UInt8]? = nil
        if let cid = s["command_id"] {
            let key = Array(cid.utf8)
            if let position = commandIDs[key] { return .duplicate(positions: [position]) }
            cidKey = key
        }

        // 4. monotonic at
        let at: Int64
        if let t = explicitAt {
            if let newest = newestAt, t < newest { throw Reject("at_before_newest") }
            at = t
        } else {
            guard let t = RefTime.parse(now) else { preconditionFailure("ReferenceModel: bad `now` \(now)") }
            at = max(t, newestAt ?? t)
        }

        // 5. domain rules, then the effect (one event at position head + 1)
        let position = head + 1
        let fullName = s["full_name"] ?? s["fullname"]
        var created: String? = nil

        switch command {
        case "RegisterUser":
            let id = try claimableID(s["id"] ?? newID)
            let key = Self.emailKey(s["email"]!)
            if users.values.contains(where: { Self.same(Self.emailKey($0.email), key) }) { throw Reject("email_taken") }
            users[id] = User(seq: position, email: Self.trim(s["email"]!), fullName: fullName ?? "", registered: at, lastLogin: nil)
            created = id

        case "RenameUser":
            let u = try resolveUser(s["user"]!)
            users[u]!.fullName = fullName!

        case "RecordLogin":
            let u = try resolveUser(s["user"]!)
            users[u]!.lastLogin = at

        case "DeleteUser":
            let u = try resolveUser(s["user"]!)
            users[u] = nil
            seen[u] = nil
            memberships = memberships.filter { $0.value.user != u }
            subscriptions = subscriptions.filter { $0.value.user != u }

        case "CreatePlan":
            let id = try claimableID(s["id"] ?? newID)
            let name = s["name"] ?? "free"
            if plans.values.contains(where: { Self.same($0.name, name) }) { throw Reject("plan_name_taken") }
            plans[id] = Plan(seq: position, name: name, price: n["price_cents"] ?? 0, seats: n["seats"], created: at)
            created = id

        case "DeletePlan":
            let p = try resolvePlan(s["plan"]!)
            plans[p] = nil
            subscriptions = subscriptions.filter { $0.value.plan != p }

        case "CreateGroup":
            let id = try claimableID(s["id"] ?? newID)
            let name = s["name"]!
            if groups.values.contains(where: { Self.same($0.name, name) }) { throw Reject("group_name_taken") }
            groups[id] = Group(seq: position, name: name, created: at)
            created = id

        case "DeleteGroup":
            let g = try resolveGroup(s["group"]!)
            groups[g] = nil
            memberships = memberships.filter { $0.value.group != g }

        case "Subscribe":
            let u = try resolveUser(s["user"]!)
            let p = try resolvePlan(s["plan"]!)
            let id = try claimableID(s["id"] ?? newID)
            if activeSubscription(user: u, plan: p) != nil { throw Reject("already_subscribed") }
            if let seats = plans[p]!.seats, seatsUsed(p) >= seats { throw Reject("team_plan_full") }
            subscriptions[id] = Subscription(seq: position, user: u, plan: p, created: at, updated: at, cancelled: nil)
            created = id

        case "ChangePlan":
            let sid: String
            let to: String
            if let ref = s["subscription"] {
                sid = ref.lowercased()
                guard subscriptions[sid] != nil else { throw Reject("unknown_subscription") }
                to = try resolvePlan(s["to"]!)
                guard subscriptions[sid]!.cancelled == nil else { throw Reject("subscription_not_active") }
            } else {
                let u = try resolveUser(s["user"]!)
                let p = try resolvePlan(s["plan"]!)
                to = try resolvePlan(s["to"]!)
                guard let found = activeSubscription(user: u, plan: p) else { throw Reject("subscription_not_active") }
                sid = found
            }
            let sub = subscriptions[sid]!
            if sub.plan == to { throw Reject("same_plan") }
            if activeSubscription(user: sub.user, plan: to) != nil { throw Reject("already_subscribed") }
            if let seats = plans[to]!.seats, seatsUsed(to) >= seats { throw Reject("team_plan_full") }
            subscriptions[sid]!.plan = to
            subscriptions[sid]!.updated = at

        case "Cancel":
            let sid: String
            if let ref = s["subscription"] {
                sid = ref.lowercased()
                guard subscriptions[sid] != nil else { throw Reject("unknown_subscription") }
                guard subscriptions[sid]!.cancelled == nil else { throw Reject("subscription_not_active") }
            } else {
                let u = try resolveUser(s["user"]!)
                let p = try resolvePlan(s["plan"]!)
                guard let found = activeSubscription(user: u, plan: p) else { throw Reject("subscription_not_active") }
                sid = found
            }
            subscriptions[sid]!.cancelled = at
            subscriptions[sid]!.updated = at

        case "JoinGroup":
            let u = try resolveUser(s["user"]!)
            let g = try resolveGroup(s["group"]!)
            let id = try claimableID(s["id"] ?? newID)
            if membership(user: u, group: g) != nil { throw Reject("already_member") }
            memberships[id] = Membership(seq: position, user: u, group: g, joined: at)
            created = id

        case "LeaveGroup":
            let u = try resolveUser(s["user"]!)
            let g = try resolveGroup(s["group"]!)
            guard let m = membership(user: u, group: g) else { throw Reject("not_a_member") }
            memberships[m] = nil

        default:
            throw Reject("unknown_command")
        }

        // The command is applied: one event.
        if let id = created { usedIDs.insert(id) }
        if let key = cidKey { commandIDs[key] = position }
        newestAt = at
        head = position
        return .ok(position: position, createdID: created)
    }

    // MARK: Domain helpers

    private func claimableID(_ raw: String) throws -> String {
        let id = raw.lowercased()
        if usedIDs.contains(id) { throw Reject("id_taken") }
        return id
    }

    private func resolveUser(_ ref: String) throws -> String {
        if Self.isUUID(ref) {
            let id = ref.lowercased()
            guard users[id] != nil else { throw Reject("unknown_user") }
            return id
        }
        let key = Self.emailKey(ref)
        guard let (id, _) = users.first(where: { Self.same(Self.emailKey($0.value.email), key) }) else { throw Reject("unknown_user") }
        return id
    }

    private func resolvePlan(_ ref: String) throws -> String {
        if Self.isUUID(ref) {
            let id = ref.lowercased()
            guard plans[id] != nil else { throw Reject("unknown_plan") }
            return id
        }
        guard let (id, _) = plans.first(where: { Self.same($0.value.name, ref) }) else { throw Reject("unknown_plan") }
        return id
    }

    private func resolveGroup(_ ref: String) throws -> String {
        if Self.isUUID(ref) {
            let id = ref.lowercased()
            guard groups[id] != nil else { throw Reject("unknown_group") }
            return id
        }
        guard let (id, _) = groups.first(where: { Self.same($0.value.name, ref) }) else { throw Reject("unknown_group") }
        return id
    }

    private func activeSubscription(user: String, plan: String) -> String? {
        subscriptions.first(where: { $0.value.user == user && $0.value.plan == plan && $0.value.cancelled == nil })?.key
    }

    private func seatsUsed(_ plan: String) -> Int64 {
        Int64(subscriptions.values.filter { $0.plan == plan && $0.cancelled == nil }.count)
    }

    private func membership(user: String, group: String) -> String? {
        memberships.first(where: { $0.value.user == user && $0.value.group == group })?.key
    }

    /// Exact comparison by UTF-8 bytes (Swift's `==` on String uses canonical equivalence).
    private static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    private static func trim(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    private static func emailKey(_ s: String) -> String { trim(s).lowercased() }

    /// 8-4-4-4-12 hexadecimal digits, either case.
    static func isUUID(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 36 else { return false }
        for (i, c) in b.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else {
                let hex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
                if !hex { return false }
            }
        }
        return true
    }

    // MARK: Views

    /// The rows of a view in the documented order, each row with exactly the view's JSON keys.
    /// An unknown view name gives `[]`.
    func view(_ name: String) -> [RefRow] {
        let ts = RefTime.format
        func opt(_ t: Int64?) -> RefValue { t.map { .string(ts($0)) } ?? .null }
        func subRow(_ id: String, _ x: Subscription) -> RefRow {
            ["id": .string(id), "user": .string(x.user), "plan": .string(x.plan),
             "created": .string(ts(x.created)), "updated": .string(ts(x.updated)), "cancelled": opt(x.cancelled)]
        }
        func memberRow(_ id: String, _ m: Membership) -> RefRow {
            ["id": .string(id), "user": .string(m.user), "group": .string(m.group), "joined": .string(ts(m.joined))]
        }
        switch name {
        case "users":
            return users.sorted { $0.value.seq < $1.value.seq }.map { id, u in
                ["id": .string(id), "email": .string(u.email), "full_name": .string(u.fullName),
                 "registered": .string(ts(u.registered)), "last_login": opt(u.lastLogin),
                 "last_seen": opt(seen[id] ?? u.lastLogin)]
            }
        case "plans":
            return plans.sorted { $0.value.seq < $1.value.seq }.map { id, p in
                ["id": .string(id), "name": .string(p.name), "price_cents": .int(p.price),
                 "kind": .string(p.seats == nil ? "plan" : "team"), "created": .string(ts(p.created))]
            }
        case "team_plans":
            return plans.filter { $0.value.seats != nil }.sorted { $0.value.seq < $1.value.seq }.map { id, p in
                ["id": .string(id), "name": .string(p.name), "price_cents": .int(p.price),
                 "created": .string(ts(p.created)), "seats": .int(p.seats!), "seats_used": .int(seatsUsed(id))]
            }
        case "groups":
            return groups.sorted { $0.value.seq < $1.value.seq }.map { id, g in
                ["id": .string(id), "name": .string(g.name), "created": .string(ts(g.created)),
                 "member_count": .int(Int64(memberships.values.filter { $0.group == id }.count))]
            }
        case "memberships":
            return memberships.sorted { $0.value.seq < $1.value.seq }.map(memberRow)
        case "recent_memberships":
            return memberships.sorted {
                $0.value.joined != $1.value.joined ? $0.value.joined > $1.value.joined : $0.key < $1.key
            }.map(memberRow)
        case "subscriptions":
            return subscriptions.sorted { $0.value.seq < $1.value.seq }.map(subRow)
        case "active_subscriptions":
            return subscriptions.filter { $0.value.cancelled == nil }.sorted {
                $0.value.created != $1.value.created ? $0.value.created < $1.value.created : $0.key < $1.key
            }.map(subRow)
        case "paying_subscriptions":
            return subscriptions.filter { $0.value.cancelled == nil && (plans[$0.value.plan]?.price ?? 0) > 0 }
                .sorted { $0.value.seq < $1.value.seq }.map(subRow)
        default:
            return []
        }
    }
}

// MARK: - Time (microseconds since 1970-01-01T00:00:00Z)

enum RefTime {
    /// RFC 3339 `YYYY-MM-DD(T|t)HH:MM:SS[.frac](Z|z|±HH:MM)`; the fraction is truncated to
    /// microseconds. Seconds 00..59 (no leap second). nil when not valid.
    static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ count: Int) -> Int64? {
            guard i + count <= b.count else { return nil }
            var v: Int64 = 0
            for _ in 0..<count {
                let c = b[i]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
                i += 1
            }
            return v
        }
        func expect(_ chars: String) -> Bool {
            guard i < b.count, chars.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
              expect("Tt"), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"),
              let second = digits(2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year, month),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        var micros: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if count < 6 { micros = micros * 10 + Int64(b[i] - 0x30) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in min(count, 6)..<6 { micros *= 10 }
        }
        guard i < b.count else { return nil }
        var offsetSeconds: Int64 = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else {
            let sign: Int64
            if b[i] == UInt8(ascii: "+") { sign = 1 } else if b[i] == UInt8(ascii: "-") { sign = -1 } else { return nil }
            i += 1
            guard let oh = digits(2), expect(":"), let om = digits(2), oh <= 23, om <= 59 else { return nil }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return seconds * 1_000_000 + micros
    }

    /// `YYYY-MM-DDTHH:MM:SS[.mmm|.uuuuuu]Z`.
    static func format(_ t: Int64) -> String {
        let perDay: Int64 = 86_400_000_000
        var days = t / perDay
        var rem = t % perDay
        if rem < 0 { rem += perDay; days -= 1 }
        let (y, m, d) = civilFromDays(days)
        let secs = rem / 1_000_000, micros = rem % 1_000_000
        var out = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
            + pad(secs / 3600, 2) + ":" + pad(secs / 60 % 60, 2) + ":" + pad(secs % 60, 2)
        if micros != 0 {
            out += micros % 1000 == 0 ? "." + pad(micros / 1000, 3) : "." + pad(micros, 6)
        }
        return out + "Z"
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    private static func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    private static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        switch m {
        case 2: return isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func daysFromCivil(_ year: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

// MARK: - A tiny strict JSON parser (RFC 8259)

/// JSON value as the model sees it: integers that fit Int64 are `.int`; every other number
/// (fraction, exponent, out of range) is `.number`; booleans are never numbers.
enum RefJSON: Equatable {
    case object([String: RefJSON]), array([RefJSON]), string(String), int(Int64), number, bool(Bool), null
}

struct RefJSONParser {
    private let b: [UInt8]
    private var i = 0
    private var depth = 0
    private static let maxDepth = 256

    init(_ bytes: [UInt8]) { b = bytes }

    /// The document, or nil when it is not exactly one JSON value (surrounded by whitespace).
    /// Duplicate object keys: the last one wins.
    mutating func parseDocument() -> RefJSON? {
        skipWhitespace()
        guard let v = value() else { return nil }
        skipWhitespace()
        return i == b.count ? v : nil
    }

    private mutating func skipWhitespace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
    }

    private mutating func literal(_ word: String, _ v: RefJSON) -> RefJSON? {
        let w = Array(word.utf8)
        guard i + w.count <= b.count, Array(b[i..<i + w.count]) == w else { return nil }
        i += w.count
        return v
    }

    private mutating func value() -> RefJSON? {
        guard i < b.count else { return nil }
        switch b[i] {
        case UInt8(ascii: "{"): return object()
        case UInt8(ascii: "["): return array()
        case UInt8(ascii: "\""): return string().map(RefJSON.string)
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        case UInt8(ascii: "-"), 0x30...0x39: return number()
        default: return nil
        }
    }

    private mutating func object() -> RefJSON? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { return nil }
        i += 1
        var members: [String: RefJSON] = [:]
        skipWhitespace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard i < b.count, b[i] == UInt8(ascii: "\""), let key = string() else { return nil }
            skipWhitespace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            skipWhitespace()
            guard let v = value() else { return nil }
            members[key] = v
            skipWhitespace()
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            return nil
        }
    }

    private mutating func array() -> RefJSON? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { return nil }
        i += 1
        var items: [RefJSON] = []
        skipWhitespace()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            guard let v = value() else { return nil }
            items.append(v)
            skipWhitespace()
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            return nil
        }
    }

    private mutating func hex4() -> UInt32? {
        guard i + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: return nil
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    /// A string starting at the opening quote. Lone surrogate escapes are malformed.
    private mutating func string() -> String? {
        i += 1
        var out: [UInt8] = []
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { return nil }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { return nil }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4() else { return nil }
                if (0xD800...0xDBFF).contains(code) {
                    guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { return nil }
                    i += 2
                    guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    return nil
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                return nil
            }
        }
        return nil
    }

    private mutating func number() -> RefJSON? {
        let start = i
        if b[i] == UInt8(ascii: "-") { i += 1 }
        func isDigit(_ k: Int) -> Bool { k < b.count && b[k] >= 0x30 && b[k] <= 0x39 }
        guard isDigit(i) else { return nil }
        if b[i] == 0x30 {
            i += 1
        } else {
            while isDigit(i) { i += 1 }
        }
        var integral = true
        if i < b.count, b[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard isDigit(i) else { return nil }
            while isDigit(i) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { return nil }
            while isDigit(i) { i += 1 }
        }
        guard integral else { return .number }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if let v = Int64(text) { return .int(v) }
        return .number // an integer literal outside Int64
    }
}
