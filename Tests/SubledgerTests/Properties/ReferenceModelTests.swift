// Tests of the reference model itself (the oracle of the property-based tests).

import Testing

@Suite("ReferenceModel")
struct ReferenceModelTests {
    /// Drives a model with a fixed `now` and generated ids `00000000-0000-4000-8000-00000000000N`.
    struct Driver {
        var model = ReferenceModel()
        var now = "2024-01-01T00:00:00Z"
        var counter = 0

        mutating func run(_ line: String) -> RefOutcome {
            counter += 1
            let hex = String(counter, radix: 16)
            let id = "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
            return model.execute(line: line, now: now, newID: id)
        }

        /// Runs a command that must apply; returns its created id (or "").
        @discardableResult
        mutating func ok(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
            let outcome = run(line)
            guard case .ok(_, let id) = outcome else {
                Issue.record("expected ok, got \(outcome) for \(line)", sourceLocation: sourceLocation)
                return ""
            }
            return id ?? ""
        }

        mutating func rule(_ line: String) -> String? {
            if case .rejected(let rule) = run(line) { return rule }
            return nil
        }

        func ids(_ view: String) -> [String] {
            model.view(view).map { row in
                if case .string(let s)? = row["id"] { return s }
                return "?"
            }
        }

        func row(_ view: String, _ id: String) -> RefRow? {
            model.view(view).first { $0["id"] == .string(id) }
        }
    }

    // MARK: Parsing and types

    @Test func integerTypesAreStrict() {
        var d = Driver()
        for bad in ["true", "false", "1.0", "1e3", "\"5\"", "null", "9223372036854775808", "-9223372036854775809", "[1]", "{}"] {
            #expect(d.rule(#"{"command":"CreatePlan","name":"p","price_cents":\#(bad)}"#) == "wrong_type", "price_cents \(bad)")
            #expect(d.rule(#"{"command":"CreatePlan","name":"p","seats":\#(bad)}"#) == "wrong_type", "seats \(bad)")
        }
        let id = d.ok(#"{"command":"CreatePlan","name":"max","price_cents":9223372036854775807,"seats":9223372036854775807}"#)
        #expect(d.row("plans", id)?["price_cents"] == .int(Int64.max))
        let zero = d.ok(#"{"command":"CreatePlan","name":"z","price_cents":-0}"#)
        #expect(d.row("plans", zero)?["price_cents"] == .int(0))
        #expect(d.model.head == 2)
    }

    @Test func stringTypesAreStrict() {
        var d = Driver()
        #expect(d.rule(#"{"command":"RegisterUser","email":true}"#) == "wrong_type")
        #expect(d.rule(#"{"command":"RegisterUser","email":5}"#) == "wrong_type")
        #expect(d.rule(#"{"command":"RegisterUser","email":"a@x","full_name":null}"#) == "wrong_type")
        #expect(d.rule(#"{"command":"RegisterUser","email":"a@x","command_id":null}"#) == "wrong_type")
        #expect(d.rule(#"{"command":"RegisterUser","email":"a@x","at":1}"#) == "wrong_type")
        #expect(d.rule(#"{"command":"RegisterUser","email":["a@x"]}"#) == "wrong_type")
        #expect(d.model.head == 0)
    }

    @Test func parseAndShapeRejections() {
        var d = Driver()
        #expect(d.rule("") == "malformed_json")
        #expect(d.rule("{") == "malformed_json")
        #expect(d.rule(#"{"command":"RegisterUser","email":"a@x",}"#) == "malformed_json")
        #expect(d.rule(#"{"command":"RegisterUser","email":"a@x"} x"#) == "malformed_json")
        #expect(d.rule(#"{"command":"RegisterUser","email":"\ud800"}"#) == "malformed_json")
        #expect(d.rule(#"{"command":"CreatePlan","price_cents":01}"#) == "malformed_json")
        #expect(d.rule(#"[{"command":"CreatePlan"}]"#) == "not_an_object")
        #expect(d.rule(#""CreatePlan""#) == "not_an_object")
        #expect(d.rule(#"{"name":"p"}"#) == "missing_field")
        #expect(d.rule(#"{"command":null}"#) == "wrong_type")
        #expect(d.rule(#"{"command":"createplan"}"#) == "unknown_command")
        #expect(d.rule(#"{"command":"CreatePlan","nom":"p"}"#) == "unknown_field")
        #expect(d.rule(#"{"command":"CreatePlan","user":"a@x"}"#) == "unknown_field")
        // unknown keys come before missing fields, missing before types, types before values
        #expect(d.rule(#"{"command":"RegisterUser","x":1}"#) == "unknown_field")
        #expect(d.rule(#"{"command":"RegisterUser","id":5}"#) == "missing_field")
        #expect(d.rule(#"{"command":"RegisterUser","email":"nope","id":5}"#) == "wrong_type")
        #expect(d.rule(#"{"command":"RegisterUser","email":"nope","id":"x"}"#) == "invalid_uuid")
        #expect(d.rule(#"{"command":"RegisterUser","email":"nope"}"#) == "invalid_email")
        #expect(d.rule(#"{"command":"RegisterUser","email":"   "}"#) == "invalid_email")
        #expect(d.rule(#"{"command":"RegisterUser","email":"a@x","at":"2024-01-01 00:00:00Z"}"#) == "invalid_at")
        #expect(d.rule(#"{"command":"RegisterUser","email":"a@x","at":"2023-02-29T00:00:00Z"}"#) == "invalid_at")
        #expect(d.rule(#"{"command":"CreatePlan","price_cents":-1}"#) == "negative_price")
        #expect(d.rule(#"{"command":"CreatePlan","seats":0}"#) == "invalid_seats")
        #expect(d.rule(#"{"command":"Cancel","subscription":"not-a-uuid"}"#) == "invalid_uuid")
        // escapes decode
        let u = d.ok(#"{"command":"RegisterUser","email":"\u0041@x","full_name":"\ud83d\ude00\n"}"#)
        #expect(d.row("users", u)?["email"] == .string("A@x"))
        #expect(d.row("users", u)?["full_name"] == .string("😀\n"))
    }

    @Test func lengths() {
        var d = Driver()
        let n80 = String(repeating: "é", count: 80)
        d.ok(#"{"command":"CreatePlan","name":"\#(n80)"}"#)
        #expect(d.rule(#"{"command":"CreatePlan","name":"\#(n80)x"}"#) == "too_long")
        #expect(d.rule(#"{"command":"CreatePlan","name":""}"#) == "invalid_length")
        #expect(d.rule(#"{"command":"CreateGroup","name":""}"#) == "invalid_length")
        // 80 scalars even though 160 UTF-8 bytes; a flag emoji is 2 scalars
        let flags = String(repeating: "🇫🇷", count: 40)
        d.ok(#"{"command":"CreateGroup","name":"\#(flags)"}"#)
        #expect(d.rule(#"{"command":"CreateGroup","name":"\#(flags)a"}"#) == "too_long")
        let c128 = String(repeating: "c", count: 128)
        d.ok(#"{"command":"CreatePlan","name":"a","command_id":"\#(c128)"}"#)
        #expect(d.rule(#"{"command":"CreatePlan","name":"b","command_id":"\#(c128)c"}"#) == "too_long")
        #expect(d.rule(#"{"command":"CreatePlan","name":"b","command_id":"\#(String(repeating: "é", count: 65))"}"#) == "too_long")
        #expect(d.rule(#"{"command":"CreatePlan","name":"b","command_id":""}"#) == "invalid_length")
        let kib = String(repeating: "x", count: 1022)
        d.ok(#"{"command":"RegisterUser","email":"\#(kib)@y"}"#) // 1024 bytes
        #expect(d.rule(#"{"command":"RegisterUser","email":"\#(kib)@yy"}"#) == "too_long")
        #expect(d.rule(#"{"command":"RegisterUser","email":"a@b","full_name":"\#(String(repeating: "é", count: 513))"}"#) == "too_long")
        #expect(d.model.head == 4)
    }

    // MARK: Outcomes, duplicates, time

    @Test func duplicateCommandID() {
        var d = Driver()
        #expect(d.run(#"{"command":"CreatePlan","name":"p","command_id":"k1","at":"2024-01-01T00:00:00Z"}"#)
                == .ok(position: 1, createdID: "00000000-0000-4000-8000-000000000001"))
        d.ok(#"{"command":"CreatePlan","name":"q","at":"2024-06-01T00:00:00Z"}"#)
        // exact retry with an old `at`, and a different command with the same id: duplicate
        #expect(d.run(#"{"command":"CreatePlan","name":"p","command_id":"k1","at":"2024-01-01T00:00:00Z"}"#) == .duplicate(positions: [1]))
        #expect(d.run(#"{"command":"CreateGroup","name":"g","command_id":"k1"}"#) == .duplicate(positions: [1]))
        // but field validation comes first
        #expect(d.rule(#"{"command":"CreateGroup","command_id":"k1"}"#) == "missing_field")
        // a rejected command does not claim its command_id
        #expect(d.rule(#"{"command":"CreatePlan","name":"p","command_id":"k2"}"#) == "plan_name_taken")
        #expect(d.run(#"{"command":"CreatePlan","name":"r","command_id":"k2"}"#) == .ok(position: 3, createdID: "00000000-0000-4000-8000-000000000007"))
        #expect(d.run(#"{"command":"CreatePlan","name":"s","command_id":"k2"}"#) == .duplicate(positions: [3]))
        #expect(d.model.head == 3)
        #expect(d.model.view("plans").count == 3)
    }

    @Test func atMonotonicAndClamp() {
        var d = Driver()
        d.now = "2024-01-01T00:00:00Z"
        let p = d.ok(#"{"command":"CreatePlan","name":"p","at":"2024-03-01T10:00:00.5+02:00"}"#)
        #expect(d.row("plans", p)?["created"] == .string("2024-03-01T08:00:00.500Z"))
        // explicit earlier at: rejected; equal (other notation) is fine
        #expect(d.rule(#"{"command":"CreatePlan","name":"q","at":"2024-03-01T08:00:00.499999Z"}"#) == "at_before_newest")
        let q = d.ok(#"{"command":"CreatePlan","name":"q","at":"2024-03-01t03:00:00.5000009-05:00"}"#)
        #expect(d.row("plans", q)?["created"] == .string("2024-03-01T08:00:00.500Z"))
        // default now (earlier) is clamped to the newest at
        let r = d.ok(#"{"command":"CreatePlan","name":"r"}"#)
        #expect(d.row("plans", r)?["created"] == .string("2024-03-01T08:00:00.500Z"))
        d.now = "2025-01-01T00:00:00.000001Z"
        let s = d.ok(#"{"command":"CreatePlan","name":"s"}"#)
        #expect(d.row("plans", s)?["created"] == .string("2025-01-01T00:00:00.000001Z"))
        let t = d.ok(#"{"command":"CreatePlan","name":"t","at":"2025-01-01T00:00:01.120z"}"#)
        #expect(d.row("plans", t)?["created"] == .string("2025-01-01T00:00:01.120Z"))
        let u = d.ok(#"{"command":"CreatePlan","name":"u","at":"2025-01-01T00:00:02.000000Z"}"#)
        #expect(d.row("plans", u)?["created"] == .string("2025-01-01T00:00:02Z"))
        #expect(RefTime.format(RefTime.parse("1969-12-31T23:59:59.25Z")!) == "1969-12-31T23:59:59.250Z")
        #expect(RefTime.parse("2024-01-01T00:00:00+24:00") == nil)
        #expect(RefTime.parse("2024-01-01T00:00:00.Z") == nil)
        #expect(RefTime.parse("2024-01-01T00:00:60Z") == nil)
        #expect(RefTime.parse("2024-02-29T23:59:59-00:00") != nil)
    }

    // MARK: Users

    @Test func emailCaseAndTrim() {
        var d = Driver()
        let u = d.ok(#"{"command":"RegisterUser","email":"  Ann@Example.COM\n\t"}"#)
        #expect(d.row("users", u) == [
            "id": .string(u), "email": .string("Ann@Example.COM"), "full_name": .string(""),
            "registered": .string("2024-01-01T00:00:00Z"), "last_login": .null, "last_seen": .null,
        ])
        #expect(d.rule(#"{"command":"RegisterUser","email":"ann@example.com"}"#) == "email_taken")
        #expect(d.rule(#"{"command":"RegisterUser","email":" ANN@EXAMPLE.COM "}"#) == "email_taken")
        d.ok(#"{"command":"RenameUser","user":" ann@EXAMPLE.com ","fullname":"Ann"}"#)
        #expect(d.row("users", u)?["full_name"] == .string("Ann"))
        d.ok(#"{"command":"RecordLogin","user":"\#(u.uppercased())","at":"2024-02-01T00:00:00Z"}"#)
        #expect(d.row("users", u)?["last_login"] == .string("2024-02-01T00:00:00Z"))
        #expect(d.row("users", u)?["last_seen"] == .string("2024-02-01T00:00:00Z"))
        d.model.setSeen(user: u, at: "2024-02-02T00:00:00Z")
        #expect(d.row("users", u)?["last_seen"] == .string("2024-02-02T00:00:00Z"))
        d.model.forgetSeen(user: u)
        #expect(d.row("users", u)?["last_seen"] == .string("2024-02-01T00:00:00Z"))
        #expect(d.model.head == 3)
        // a UUID-shaped reference is looked up by id only
        #expect(d.rule(#"{"command":"RecordLogin","user":"aaaaaaaa-0000-4000-8000-000000000000"}"#) == "unknown_user")
        #expect(d.rule(#"{"command":"RecordLogin","user":"bob@example.com"}"#) == "unknown_user")
        d.ok(#"{"command":"DeleteUser","user":"ann@example.com"}"#)
        #expect(d.model.view("users").isEmpty)
        #expect(d.rule(#"{"command":"RecordLogin","user":"ann@example.com"}"#) == "unknown_user")
        // the email is free again, the id is not
        #expect(d.rule(#"{"command":"RegisterUser","email":"ann@example.com","id":"\#(u)"}"#) == "id_taken")
        let v = d.ok(#"{"command":"RegisterUser","email":"ann@example.com"}"#)
        #expect(v != u)
    }

    @Test func aliases() {
        var d = Driver()
        let a = d.ok(#"{"command":"RegisterUser","email":"a@x","full_name":"Al","fullname":"Al"}"#)
        #expect(d.row("users", a)?["full_name"] == .string("Al"))
        #expect(d.rule(#"{"command":"RegisterUser","email":"b@x","full_name":"Al","fullname":"Bo"}"#) == "alias_conflict")
        let b = d.ok(#"{"command":"RegisterUser","email":"b@x","fullname":" Bo "}"#)
        #expect(d.row("users", b)?["full_name"] == .string(" Bo "))
        #expect(d.rule(#"{"command":"RenameUser","user":"b@x"}"#) == "missing_field")
        #expect(d.rule(#"{"command":"RenameUser","user":"b@x","full_name":"x","fullname":"y"}"#) == "alias_conflict")
        d.ok(#"{"command":"RenameUser","user":"b@x","full_name":" Bo "}"#) // same name is fine
        d.ok(#"{"command":"RenameUser","user":"b@x","full_name":""}"#)
        #expect(d.row("users", b)?["full_name"] == .string(""))
        #expect(d.rule(#"{"command":"CreatePlan","fullname":"x"}"#) == "unknown_field")
    }

    // MARK: Ids

    @Test func idsAreNeverReused() {
        var d = Driver()
        let fixed = "ABCDEF01-2345-4678-9ABC-DEF012345678"
        let p = d.ok(#"{"command":"CreatePlan","name":"p","id":"\#(fixed)"}"#)
        #expect(p == fixed.lowercased())
        #expect(d.ids("plans") == [fixed.lowercased()])
        #expect(d.rule(#"{"command":"CreateGroup","name":"g","id":"\#(fixed.lowercased())"}"#) == "id_taken")
        d.ok(#"{"command":"DeletePlan","plan":"\#(fixed)"}"#)
        #expect(d.rule(#"{"command":"CreatePlan","name":"p","id":"\#(fixed)"}"#) == "id_taken")
        d.ok(#"{"command":"CreatePlan","name":"p"}"#) // the name is free again
        // generated ids are claimed too
        let g = d.ok(#"{"command":"CreateGroup","name":"g"}"#)
        #expect(d.rule(#"{"command":"RegisterUser","email":"a@x","id":"\#(g)"}"#) == "id_taken")
        // a membership id and a subscription id count
        let u = d.ok(#"{"command":"RegisterUser","email":"a@x"}"#)
        let m = d.ok(#"{"command":"JoinGroup","user":"a@x","group":"g"}"#)
        let s = d.ok(#"{"command":"Subscribe","user":"a@x","plan":"p"}"#)
        #expect(d.rule(#"{"command":"CreatePlan","name":"q","id":"\#(m)"}"#) == "id_taken")
        #expect(d.rule(#"{"command":"CreatePlan","name":"q","id":"\#(s)"}"#) == "id_taken")
        #expect(d.rule(#"{"command":"CreatePlan","name":"q","id":"\#(u)"}"#) == "id_taken")
        // existence checks come before id_taken; id_taken before uniqueness
        #expect(d.rule(#"{"command":"Subscribe","user":"zz@x","plan":"p","id":"\#(u)"}"#) == "unknown_user")
        #expect(d.rule(#"{"command":"Subscribe","user":"a@x","plan":"nope","id":"\#(u)"}"#) == "unknown_plan")
        #expect(d.rule(#"{"command":"Subscribe","user":"a@x","plan":"p","id":"\#(u)"}"#) == "id_taken")
        #expect(d.rule(#"{"command":"CreatePlan","name":"p","id":"\#(u)"}"#) == "id_taken")
        #expect(d.rule(#"{"command":"JoinGroup","user":"a@x","group":"g","id":"\#(u)"}"#) == "id_taken")
        #expect(d.rule(#"{"command":"JoinGroup","user":"a@x","group":"g"}"#) == "already_member")
    }

    // MARK: Subscriptions

    @Test func seats() {
        var d = Driver()
        let team = d.ok(#"{"command":"CreatePlan","name":"team","price_cents":500,"seats":2}"#)
        let solo = d.ok(#"{"command":"CreatePlan","name":"solo"}"#)
        #expect(d.row("plans", team)?["kind"] == .string("team"))
        #expect(d.row("plans", solo)?["kind"] == .string("plan"))
        #expect(d.ids("team_plans") == [team])
        for e in ["a@x", "b@x", "c@x"] { d.ok(#"{"command":"RegisterUser","email":"\#(e)"}"#) }
        let sa = d.ok(#"{"command":"Subscribe","user":"a@x","plan":"team"}"#)
        #expect(d.rule(#"{"command":"Subscribe","user":"a@x","plan":"team"}"#) == "already_subscribed")
        d.ok(#"{"command":"Subscribe","user":"b@x","plan":"\#(team)"}"#)
        #expect(d.row("team_plans", team)?["seats_used"] == .int(2))
        #expect(d.rule(#"{"command":"Subscribe","user":"c@x","plan":"team"}"#) == "team_plan_full")
        let sc = d.ok(#"{"command":"Subscribe","user":"c@x","plan":"solo"}"#)
        #expect(d.rule(#"{"command":"ChangePlan","subscription":"\#(sc)","to":"team"}"#) == "team_plan_full")
        #expect(d.ids("paying_subscriptions").count == 2)
        d.ok(#"{"command":"Cancel","subscription":"\#(sa)"}"#)
        #expect(d.row("team_plans", team)?["seats_used"] == .int(1))
        #expect(d.ids("paying_subscriptions").count == 1)
        d.ok(#"{"command":"ChangePlan","subscription":"\#(sc.uppercased())","to":"\#(team)"}"#)
        #expect(d.row("team_plans", team)?["seats_used"] == .int(2))
        #expect(d.row("team_plans", team) == [
            "id": .string(team), "name": .string("team"), "price_cents": .int(500),
            "created": .string("2024-01-01T00:00:00Z"), "seats": .int(2), "seats_used": .int(2),
        ])
        // a cancelled subscription no longer blocks a new one on the same plan
        d.ok(#"{"command":"Subscribe","user":"a@x","plan":"solo"}"#)
        #expect(d.rule(#"{"command":"Subscribe","user":"a@x","plan":"team"}"#) == "team_plan_full")
    }

    @Test func changePlanAndCancelForms() {
        var d = Driver()
        d.ok(#"{"command":"CreatePlan","name":"p","at":"2024-01-01T00:00:00Z"}"#)
        let q = d.ok(#"{"command":"CreatePlan","name":"q","price_cents":1}"#)
        d.ok(#"{"command":"CreatePlan","name":"r"}"#)
        let u = d.ok(#"{"command":"RegisterUser","email":"a@x"}"#)
        let s = d.ok(#"{"command":"Subscribe","user":"a@x","plan":"p"}"#)
        d.ok(#"{"command":"Subscribe","user":"a@x","plan":"r"}"#)
        for bad in [#""subscription":"\#(s)","user":"a@x","plan":"p""#, #""subscription":"\#(s)","plan":"p""#,
                    #""user":"a@x""#, #""plan":"p""#, ""] {
            let sep = bad.isEmpty ? "" : ","
            #expect(d.rule(#"{"command":"ChangePlan",\#(bad)\#(sep)"to":"q"}"#) == "subscription_reference")
            #expect(d.rule(#"{"command":"Cancel"\#(sep)\#(bad)}"#) == "subscription_reference")
        }
        #expect(d.rule(#"{"command":"ChangePlan","subscription":"\#(s)"}"#) == "missing_field")
        #expect(d.rule(#"{"command":"ChangePlan","subscription":"\#(s)","to":"nope"}"#) == "unknown_plan")
        #expect(d.rule(#"{"command":"ChangePlan","subscription":"00000000-0000-4000-8000-0000000000ff","to":"nope"}"#) == "unknown_subscription")
        #expect(d.rule(#"{"command":"ChangePlan","subscription":"\#(s)","to":"p"}"#) == "same_plan")
        #expect(d.rule(#"{"command":"ChangePlan","subscription":"\#(s)","to":"r"}"#) == "already_subscribed")
        #expect(d.rule(#"{"command":"ChangePlan","user":"a@x","plan":"q","to":"p"}"#) == "subscription_not_active")
        #expect(d.rule(#"{"command":"ChangePlan","user":"a@x","plan":"p","to":"p"}"#) == "same_plan")
        #expect(d.rule(#"{"command":"ChangePlan","user":"b@x","plan":"p","to":"q"}"#) == "unknown_user")
        d.now = "2024-05-05T05:05:05Z"
        #expect(d.run(#"{"command":"ChangePlan","user":"A@X","plan":"p","to":"q"}"#) == .ok(position: 7, createdID: nil))
        #expect(d.row("subscriptions", s) == [
            "id": .string(s), "user": .string(u), "plan": .string(q), "created": .string("2024-01-01T00:00:00Z"),
            "updated": .string("2024-05-05T05:05:05Z"), "cancelled": .null,
        ])
        #expect(d.ids("paying_subscriptions") == [s])
        d.now = "2024-06-06T00:00:00Z"
        d.ok(#"{"command":"Cancel","user":"a@x","plan":"q"}"#)
        #expect(d.row("subscriptions", s)?["cancelled"] == .string("2024-06-06T00:00:00Z"))
        #expect(d.row("subscriptions", s)?["updated"] == .string("2024-06-06T00:00:00Z"))
        #expect(d.rule(#"{"command":"Cancel","subscription":"\#(s)"}"#) == "subscription_not_active")
        #expect(d.rule(#"{"command":"Cancel","user":"a@x","plan":"q"}"#) == "subscription_not_active")
        #expect(d.rule(#"{"command":"ChangePlan","subscription":"\#(s)","to":"p"}"#) == "subscription_not_active")
        #expect(d.ids("subscriptions").count == 2)
        #expect(d.ids("active_subscriptions").count == 1)
        #expect(d.ids("paying_subscriptions").isEmpty)
    }

    // MARK: Cascades and orders

    @Test func cascades() {
        var d = Driver()
        d.ok(#"{"command":"CreatePlan","name":"p","price_cents":100}"#)
        d.ok(#"{"command":"CreatePlan","name":"t","seats":5}"#)
        let g = d.ok(#"{"command":"CreateGroup","name":"g"}"#)
        d.ok(#"{"command":"CreateGroup","name":"h"}"#)
        let a = d.ok(#"{"command":"RegisterUser","email":"a@x"}"#)
        let b = d.ok(#"{"command":"RegisterUser","email":"b@x"}"#)
        for u in ["a@x", "b@x"] {
            for grp in ["g", "h"] { d.ok(#"{"command":"JoinGroup","user":"\#(u)","group":"\#(grp)"}"#) }
            for pl in ["p", "t"] { d.ok(#"{"command":"Subscribe","user":"\#(u)","plan":"\#(pl)"}"#) }
        }
        d.ok(#"{"command":"Cancel","user":"b@x","plan":"p"}"#)
        #expect(d.row("groups", g)?["member_count"] == .int(2))
        #expect(d.model.view("subscriptions").count == 4)
        // DeleteUser: memberships and subscriptions go
        d.ok(#"{"command":"DeleteUser","user":"\#(a)"}"#)
        #expect(d.ids("users") == [b])
        #expect(d.row("groups", g)?["member_count"] == .int(1))
        #expect(d.model.view("memberships").allSatisfy { $0["user"] == .string(b) })
        #expect(d.model.view("subscriptions").allSatisfy { $0["user"] == .string(b) })
        #expect(d.model.view("team_plans").first?["seats_used"] == .int(1))
        // DeletePlan takes cancelled subscriptions too
        d.ok(#"{"command":"DeletePlan","plan":"p"}"#)
        #expect(d.model.view("subscriptions").count == 1)
        #expect(d.model.view("paying_subscriptions").isEmpty)
        #expect(d.rule(#"{"command":"Subscribe","user":"b@x","plan":"p"}"#) == "unknown_plan")
        // DeleteGroup takes its memberships
        d.ok(#"{"command":"DeleteGroup","group":"g"}"#)
        #expect(d.model.view("memberships").count == 1)
        #expect(d.rule(#"{"command":"LeaveGroup","user":"b@x","group":"g"}"#) == "unknown_group")
        d.ok(#"{"command":"LeaveGroup","user":"b@x","group":"h"}"#)
        #expect(d.rule(#"{"command":"LeaveGroup","user":"b@x","group":"h"}"#) == "not_a_member")
        #expect(d.model.view("memberships").isEmpty)
        #expect(d.model.view("groups").first?["member_count"] == .int(0))
        // joining again makes a new row
        let m = d.ok(#"{"command":"JoinGroup","user":"b@x","group":"h"}"#)
        #expect(d.ids("memberships") == [m])
        // names are free again
        d.ok(#"{"command":"CreateGroup","name":"g"}"#)
        d.ok(#"{"command":"CreatePlan","name":"p"}"#)
        #expect(d.rule(#"{"command":"CreatePlan","name":"p"}"#) == "plan_name_taken")
        #expect(d.rule(#"{"command":"CreateGroup","name":"g"}"#) == "group_name_taken")
        #expect(d.rule(#"{"command":"CreateGroup","name":"G"}"#) == nil) // names are case-sensitive
    }

    @Test func proxyOrders() {
        var d = Driver()
        d.ok(#"{"command":"CreatePlan","name":"p","at":"2024-01-01T00:00:00Z"}"#)
        d.ok(#"{"command":"CreatePlan","name":"q"}"#)
        d.ok(#"{"command":"CreateGroup","name":"g"}"#)
        d.ok(#"{"command":"CreateGroup","name":"h"}"#)
        d.ok(#"{"command":"RegisterUser","email":"a@x"}"#)
        let s1 = "ffffffff-0000-4000-8000-000000000000", s2 = "00000000-ffff-4000-8000-000000000000"
        let m1 = "EEEEEEEE-0000-4000-8000-000000000000", m2 = "11111111-0000-4000-8000-000000000000"
        d.ok(#"{"command":"Subscribe","user":"a@x","plan":"p","id":"\#(s1)"}"#)
        d.ok(#"{"command":"Subscribe","user":"a@x","plan":"q","id":"\#(s2)"}"#)
        d.ok(#"{"command":"JoinGroup","user":"a@x","group":"g","id":"\#(m1)"}"#)
        d.ok(#"{"command":"JoinGroup","user":"a@x","group":"h","id":"\#(m2)"}"#)
        #expect(d.ids("subscriptions") == [s1, s2])
        #expect(d.ids("active_subscriptions") == [s2, s1]) // same created: by id
        #expect(d.ids("memberships") == [m1.lowercased(), m2])
        #expect(d.ids("recent_memberships") == [m2, m1.lowercased()])
        d.ok(#"{"command":"LeaveGroup","user":"a@x","group":"g"}"#)
        let m3 = d.ok(#"{"command":"JoinGroup","user":"a@x","group":"g","at":"2024-01-02T00:00:00Z"}"#)
        #expect(d.ids("recent_memberships") == [m3, m2])
        #expect(d.ids("memberships") == [m2, m3])
        #expect(Set(d.model.view("recent_memberships").first!.keys) == ["id", "user", "group", "joined"])
        #expect(Set(d.model.view("active_subscriptions").first!.keys) == ["id", "user", "plan", "created", "updated", "cancelled"])
        #expect(d.model.view("nope").isEmpty)
    }
}
