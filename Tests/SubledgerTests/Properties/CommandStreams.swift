import Foundation
import PropertyBased
import Testing
@testable import Subledger

/// Generated command streams. Each step is one integer that decodes into a command line; the
/// generator is an array of them, so a failing stream shrinks by dropping steps and by shrinking
/// each integer toward 0 (a simpler command).
///
/// The universe is small on purpose (4 users, 4 plans, 3 groups, a few ids) so that commands
/// collide with each other and reach every rule: retries with the same command_id, `at` going
/// backwards, full team plans, cascading deletes, alias conflicts, references by email or name,
/// changes to cancelled subscriptions, names reused after a delete.
enum CommandStreams {
    /// Cases per property: `SUBLEDGER_PROPERTY_CASES` raises it for deeper local runs.
    static var cases: Int {
        ProcessInfo.processInfo.environment["SUBLEDGER_PROPERTY_CASES"].flatMap(Int.init) ?? 60
    }

    static let steps = Gen.int(in: 0...9_999_999).array(of: 0...40)

    static let emails = ["ann@example.com", "bob@example.com", "cy@example.com", "di@example.com"]
    static let planNames = ["free", "pro", "team", "biz"]
    static let groupNames = ["admins", "staff", "ops"]

    /// A fixed id: kind letter and index, so references by id hit or miss as intended.
    static func id(_ kind: Int, _ i: Int) -> String { String(format: "00000000-0000-4000-8000-%012x", kind * 16 + i) }

    /// The JSON line of step `index`, or nil when the step retries an earlier line.
    static func line(_ s: Int, index: Int) -> String? {
        var r = s
        func take(_ n: Int) -> Int { defer { r /= n }; return r % n }
        let kind = take(28), a = take(4), b = take(4), c = take(4), flavour = take(10)
        var fields: [(String, Any)] = []
        func userRef(_ i: Int) -> Any {
            switch flavour % 3 {
            case 0: emails[i]
            case 1: "  " + emails[i].uppercased()
            default: id(1, i)
            }
        }
        func planRef(_ i: Int) -> Any { flavour % 2 == 0 ? planNames[i] : id(2, i) }
        func groupRef(_ i: Int) -> Any { flavour % 2 == 0 ? groupNames[i % 3] : id(3, i % 3) }
        func createdID(_ k: Int, _ i: Int) -> [(String, Any)] {
            switch flavour {
            case 0: []                       // the store makes the id
            case 1: [("id", id(1, i))]       // maybe already used by another kind
            default: [("id", id(k, i))]
            }
        }
        switch kind {
        case 0, 1, 2:
            fields = [("command", "RegisterUser"), ("email", emails[a])] + createdID(1, a)
            if b == 1 { fields.append(("full_name", "Name \(c)")) }
            if b == 2 { fields.append(("fullname", "Name \(c)")) }
            if b == 3 { fields += [("full_name", "N\(c)"), ("fullname", flavour % 2 == 0 ? "N\(c)" : "M")] }
        case 3: fields = [("command", "RenameUser"), ("user", userRef(a)), (b % 2 == 0 ? "full_name" : "fullname", "R\(c)")]
        case 4: fields = [("command", "RecordLogin"), ("user", userRef(a))]
        case 5: fields = [("command", "DeleteUser"), ("user", userRef(a))]
        case 6, 7:
            fields = [("command", "CreatePlan")] + createdID(2, a)
            if a != 0 || flavour % 2 == 1 { fields.append(("name", planNames[a])) }
            fields.append(("price_cents", [0, 500, 900, -1][b]))
            if a == 2 { fields.append(("seats", c % 3)) }
        case 8: fields = [("command", "DeletePlan"), ("plan", planRef(a))]
        case 9: fields = [("command", "CreateGroup"), ("name", groupNames[a % 3])] + createdID(3, a % 3)
        case 10: fields = [("command", "DeleteGroup"), ("group", groupRef(a))]
        // Subscriptions and memberships use 3 users and 3 plans (the team plan, 1 seat, among
        // them, half of the subscribes go to it so that it fills) or 2 groups, so that plan
        // changes, cancels and leaves find what they name.
        case 11, 12, 13: fields = [("command", "Subscribe"), ("user", userRef(a % 3)), ("plan", planRef([0, 1, 2, 2][b]))] + createdID(4, c)
        case 14, 15, 24, 25:
            fields = [("command", "ChangePlan"), ("to", planRef(c))]
            fields += flavour % 3 == 0 ? [("subscription", id(4, a))] : [("user", userRef(a % 3)), ("plan", planRef(b % 3))]
        case 16, 26:
            fields = [("command", "Cancel")]
            fields += flavour % 3 == 0 ? [("subscription", id(4, a))] : [("user", userRef(a % 3)), ("plan", planRef(b % 3))]
        case 17, 18: fields = [("command", "JoinGroup"), ("user", userRef(a % 3)), ("group", groupRef(b % 2))] + createdID(5, c)
        case 19, 27: fields = [("command", "LeaveGroup"), ("user", userRef(a % 3)), ("group", groupRef(b % 2))]
        case 20: return invalid(a * 4 + b, index: index)
        default:  // 21, 22, 23
            return nil   // a retry: see `lines`
        }
        fields.append(("command_id", "c\(index)"))
        // Business time moves forward a minute per step; sometimes it is omitted (now, clamped)
        // and sometimes it runs backwards.
        switch c {
        case 0 where flavour > 6: break
        case 1 where flavour == 9: fields.append(("at", time(index - 3)))
        default: fields.append(("at", flavour == 8 ? timeWithOffset(index) : time(index)))
        }
        return json(fields)
    }

    static func time(_ minutes: Int) -> String {
        let d = Date(timeIntervalSince1970: 1_769_904_000 + Double(minutes) * 60)   // 2026-02-01
        let f = ISO8601DateFormatter()
        return f.string(from: d)
    }

    static func timeWithOffset(_ minutes: Int) -> String {
        let d = Date(timeIntervalSince1970: 1_769_904_000 + Double(minutes) * 60)
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(secondsFromGMT: 3600)
        return f.string(from: d)
    }

    static func invalid(_ n: Int, index: Int) -> String {
        switch n % 8 {
        case 0: #"{"command":"RegisterUser","email":"x@y""#
        case 1: #"{"command":"RegisterUser","email":"z\#(index)@y","nick":"z"}"#
        case 2: #"{"command":"CreatePlan","name":"p\#(index)","price_cents":"9"}"#
        case 3: #"{"command":"CreatePlan","name":"p\#(index)","seats":null}"#
        case 4: #"{"command":"Cancel","subscription":"not-a-uuid"}"#
        case 5: #"{"command":"CreateGroup","name":""}"#
        case 6: #"{"command":"RegisterUser","email":"z\#(index)@y","at":"yesterday"}"#
        default: #"{"command":"Frobnicate"}"#
        }
    }

    static func json(_ fields: [(String, Any)]) -> String {
        "{" + fields.map { key, value in
            let v: String = switch value {
            case let s as String: "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\""
            case let i as Int: String(i)
            default: "null"
            }
            return "\"\(key)\":\(v)"
        }.joined(separator: ",") + "}"
    }

    /// Most streams start from a store that has every user, plan (the team plan with 1 seat)
    /// and group, so that their steps reach subscriptions, seats, plan changes and cascades;
    /// a stream whose first step is a multiple of 4 starts empty (and a shrunk one does).
    static let setup: [String] = emails.indices.map { i in
        json([("command", "RegisterUser"), ("email", emails[i]), ("id", id(1, i)), ("command_id", "s-u\(i)"), ("at", time(-100 + i))])
    } + planNames.indices.map { i in
        json([("command", "CreatePlan"), ("name", planNames[i]), ("price_cents", [0, 900, 4000, 100][i]), ("id", id(2, i))]
             + (i == 2 ? [("seats", 1)] : []) + [("command_id", "s-p\(i)"), ("at", time(-90 + i))])
    } + groupNames.indices.map { i in
        json([("command", "CreateGroup"), ("name", groupNames[i]), ("id", id(3, i)), ("command_id", "s-g\(i)"), ("at", time(-80 + i))])
    }

    /// The stream's lines; a retry step repeats an earlier line exactly, command_id included.
    static func lines(_ steps: [Int]) -> [String] {
        var out: [String] = steps.first.map { $0 % 4 != 0 } == true ? setup : []
        for (i, s) in steps.enumerated() {
            if let l = line(s, index: i) { out.append(l) } else { out.append(out.isEmpty ? invalid(s, index: i) : out[out.count - 1 - (s / 28) % out.count]) }
        }
        return out
    }
}

/// Runs a property's body and records what it throws as a failure. swift-property-based 2.0.1
/// drops an error thrown by the body (`try?` around it), so a bug that throws would pass.
func failOnThrow(_ body: () throws -> Void) {
    do {
        try body()
    } catch {
        // The property's own report names the input only: say what was thrown.
        sayOnStderr("property threw: \(error)")
        Issue.record(error)
    }
}

/// `#expect` that also says what failed on stderr: while a property shrinks, the library
/// suppresses the issues its body records, and the final run may pass where an earlier one
/// failed (a flaky failure then shows only as "Issue recorded").
func expectSaying(_ condition: Bool, _ message: @autoclosure () -> String,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    guard !condition else { return }
    let text = message()
    sayOnStderr("property failed at \(sourceLocation): \(text)")
    Issue.record(Comment(rawValue: text), sourceLocation: sourceLocation)
}

/// A line on stderr, which the property library's suppression of issues does not reach.
private func sayOnStderr(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Runs lines through a real store and through the reference model, side by side.
struct Twin {
    let temp: TempStore
    var model = ReferenceModel()
    static let now = "2026-01-01T00:00:00Z"

    init(backend: Backend, snapshotInterval: Int? = nil) throws {
        temp = try TempStore(backend: backend, snapshotInterval: snapshotInterval)
    }

    /// Executes `lines` in batches of the given sizes (cycled), returning the product's outcomes
    /// and the model's.
    mutating func run(_ lines: [String], batchSizes: [Int] = [1]) throws -> (product: [Outcome], model: [RefOutcome]) {
        var product: [Outcome] = []
        var i = 0, b = 0
        while i < lines.count {
            let n = max(1, batchSizes[b % batchSizes.count])
            let chunk = Array(lines[i..<min(i + n, lines.count)])
            product += try temp.store.execute(batch: chunk.map { CommandDecoder.decode(line: $0) }, durable: false)
            i += n
            b += 1
        }
        var expected: [RefOutcome] = []
        for (line, outcome) in zip(lines, product) {
            let generated = outcome.created?.description ?? UUID().uuidString.lowercased()
            expected.append(model.execute(line: line, now: Twin.now, newID: generated))
        }
        return (product, expected)
    }

    static let views = ["users", "plans", "team_plans", "groups", "memberships", "subscriptions",
                        "active_subscriptions", "paying_subscriptions", "recent_memberships"]

    func productView(_ name: String) throws -> [RefRow] {
        try temp.store.rows(of: name).map { row in
            var out: RefRow = [:]
            for (key, value) in row.fields {
                out[key] = switch value {
                case .string(let s): .string(s)
                case .int(let i): .int(i)
                case .id(let id): .string(id.description)
                case .time(let t): .string(t.rfc3339)
                case .null: .null
                }
            }
            return out
        }
    }
}

extension Outcome {
    /// The model's reading of the same outcome, for comparison.
    func matches(_ ref: RefOutcome) -> Bool {
        switch (self, ref) {
        case (.applied(let p, let id), .ok(let q, let refID)): Int(p) == q && id?.description == refID
        case (.duplicate(let ps, _), .duplicate(let qs)): ps.map(Int.init) == qs
        case (.rejected(let r), .rejected(let rule)): r.rule == rule
        default: false
        }
    }
}
