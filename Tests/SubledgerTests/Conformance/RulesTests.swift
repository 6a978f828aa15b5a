import Testing
@testable import Subledger

/// Every rule and rejection of docs/commands.md: each with an example that passes and one that fails.
@Suite struct RulesTests {
    static let setup = [
        #"{"command":"RegisterUser","email":" Ann@Example.com ","full_name":"Ann","id":"00000000-0000-4000-8000-000000000001"}"#,
        #"{"command":"RegisterUser","email":"bob@example.com","id":"00000000-0000-4000-8000-000000000002"}"#,
        #"{"command":"CreatePlan","name":"pro","price_cents":900,"id":"00000000-0000-4000-8000-0000000000a1"}"#,
        #"{"command":"CreatePlan","name":"team","price_cents":100,"seats":1,"id":"00000000-0000-4000-8000-0000000000a2"}"#,
        #"{"command":"CreatePlan","id":"00000000-0000-4000-8000-0000000000a3"}"#,
        #"{"command":"CreateGroup","name":"admins","id":"00000000-0000-4000-8000-0000000000b1"}"#,
        #"{"command":"Subscribe","user":"ann@example.com","plan":"pro","id":"00000000-0000-4000-8000-0000000000c1"}"#,
        #"{"command":"JoinGroup","user":"ann@example.com","group":"admins","id":"00000000-0000-4000-8000-0000000000d1"}"#,
    ]

    func seeded(_ backend: Backend) throws -> TempStore {
        let t = try TempStore(backend: backend)
        let outcomes = try t.store.execute(batch: RulesTests.setup.map { CommandDecoder.decode(line: $0) })
        #expect(outcomes.allSatisfy { $0.isApplied }, "setup: \(outcomes)")
        return t
    }

    /// (rule, a line it rejects, a close line that passes) on the seeded store.
    static let cases: [(String, String, String)] = [
        ("malformed_json", #"{"command":"RegisterUser","email":"x@y""#, #"{"command":"RegisterUser","email":"x@y"}"#),
        ("not_an_object", #"["RegisterUser"]"#, #"{"command":"RegisterUser","email":"x@y"}"#),
        ("unknown_command", #"{"command":"Register","email":"x@y"}"#, #"{"command":"RegisterUser","email":"x@y"}"#),
        ("unknown_field", #"{"command":"RegisterUser","email":"x@y","nick":"x"}"#, #"{"command":"RegisterUser","email":"x@y"}"#),
        ("missing_field", #"{"command":"RegisterUser","full_name":"X"}"#, #"{"command":"RegisterUser","email":"x@y","full_name":"X"}"#),
        ("wrong_type", #"{"command":"CreatePlan","name":"p","price_cents":"5"}"#, #"{"command":"CreatePlan","name":"p","price_cents":5}"#),
        ("wrong_type", #"{"command":"CreatePlan","name":"p","price_cents":true}"#, #"{"command":"CreatePlan","name":"p","price_cents":0}"#),
        ("wrong_type", #"{"command":"CreatePlan","name":"p","price_cents":1.0}"#, #"{"command":"CreatePlan","name":"p","price_cents":1}"#),
        ("wrong_type", #"{"command":"CreatePlan","name":"p","price_cents":9223372036854775808}"#,
         #"{"command":"CreatePlan","name":"p","price_cents":9223372036854775807}"#),
        ("wrong_type", #"{"command":"RegisterUser","email":"x@y","full_name":null}"#, #"{"command":"RegisterUser","email":"x@y","full_name":""}"#),
        ("invalid_uuid", #"{"command":"RegisterUser","email":"x@y","id":"1234"}"#,
         #"{"command":"RegisterUser","email":"x@y","id":"ABCDEF00-0000-4000-8000-000000000001"}"#),
        ("invalid_uuid", #"{"command":"Cancel","subscription":"nope"}"#, #"{"command":"Cancel","subscription":"00000000-0000-4000-8000-0000000000c1"}"#),
        ("too_long", #"{"command":"RegisterUser","email":"x@y","full_name":"\#(String(repeating: "é", count: 513))"}"#,
         #"{"command":"RegisterUser","email":"x@y","full_name":"\#(String(repeating: "é", count: 512))"}"#),
        ("too_long", #"{"command":"CreateGroup","name":"\#(String(repeating: "g", count: 81))"}"#,
         #"{"command":"CreateGroup","name":"\#(String(repeating: "g", count: 80))"}"#),
        ("too_long", #"{"command":"CreateGroup","name":"g","command_id":"\#(String(repeating: "c", count: 129))"}"#,
         #"{"command":"CreateGroup","name":"g","command_id":"\#(String(repeating: "c", count: 128))"}"#),
        ("invalid_length", #"{"command":"CreateGroup","name":""}"#, #"{"command":"CreateGroup","name":"g"}"#),
        ("invalid_length", #"{"command":"CreateGroup","name":"g","command_id":""}"#, #"{"command":"CreateGroup","name":"g","command_id":"c"}"#),
        ("invalid_email", #"{"command":"RegisterUser","email":"no-at-sign"}"#, #"{"command":"RegisterUser","email":"at@sign"}"#),
        ("invalid_at", #"{"command":"CreateGroup","name":"g","at":"2026-01-01 10:00:00Z"}"#,
         #"{"command":"CreateGroup","name":"g","at":"2026-01-01T10:00:00+02:00"}"#),
        ("negative_price", #"{"command":"CreatePlan","name":"p","price_cents":-1}"#, #"{"command":"CreatePlan","name":"p","price_cents":0}"#),
        ("invalid_seats", #"{"command":"CreatePlan","name":"p","seats":0}"#, #"{"command":"CreatePlan","name":"p","seats":1}"#),
        ("alias_conflict", #"{"command":"RenameUser","user":"bob@example.com","full_name":"A","fullname":"B"}"#,
         #"{"command":"RenameUser","user":"bob@example.com","full_name":"A","fullname":"A"}"#),
        ("subscription_reference", #"{"command":"Cancel","subscription":"00000000-0000-4000-8000-0000000000c1","user":"ann@example.com"}"#,
         #"{"command":"Cancel","user":"ann@example.com","plan":"pro"}"#),
        ("subscription_reference", #"{"command":"ChangePlan","user":"ann@example.com","to":"free"}"#,
         #"{"command":"ChangePlan","user":"ann@example.com","plan":"pro","to":"free"}"#),
        ("id_taken", #"{"command":"CreateGroup","name":"g","id":"00000000-0000-4000-8000-000000000001"}"#,
         #"{"command":"CreateGroup","name":"g","id":"00000000-0000-4000-8000-0000000000ff"}"#),
        ("email_taken", #"{"command":"RegisterUser","email":"  ANN@example.COM"}"#, #"{"command":"RegisterUser","email":"ann2@example.com"}"#),
        ("plan_name_taken", #"{"command":"CreatePlan","name":"pro"}"#, #"{"command":"CreatePlan","name":"Pro"}"#),
        ("plan_name_taken", #"{"command":"CreatePlan"}"#, #"{"command":"CreatePlan","name":"free2"}"#),
        ("group_name_taken", #"{"command":"CreateGroup","name":"admins"}"#, #"{"command":"CreateGroup","name":"Admins"}"#),
        ("unknown_user", #"{"command":"RecordLogin","user":"zed@example.com"}"#, #"{"command":"RecordLogin","user":"ANN@example.com"}"#),
        ("unknown_user", #"{"command":"RecordLogin","user":"00000000-0000-4000-8000-0000000000a1"}"#,
         #"{"command":"RecordLogin","user":"00000000-0000-4000-8000-000000000001"}"#),
        ("unknown_plan", #"{"command":"Subscribe","user":"bob@example.com","plan":"PRO"}"#, #"{"command":"Subscribe","user":"bob@example.com","plan":"pro"}"#),
        ("unknown_group", #"{"command":"JoinGroup","user":"bob@example.com","group":"Admins"}"#,
         #"{"command":"JoinGroup","user":"bob@example.com","group":"admins"}"#),
        ("unknown_subscription", #"{"command":"Cancel","subscription":"00000000-0000-4000-8000-0000000000c9"}"#,
         #"{"command":"Cancel","subscription":"00000000-0000-4000-8000-0000000000c1"}"#),
        ("already_subscribed", #"{"command":"Subscribe","user":"ann@example.com","plan":"pro"}"#, #"{"command":"Subscribe","user":"bob@example.com","plan":"pro"}"#),
        ("already_subscribed", #"{"command":"ChangePlan","user":"ann@example.com","plan":"pro","to":"x"}"#,
         #"{"command":"ChangePlan","user":"ann@example.com","plan":"pro","to":"team"}"#),
        ("same_plan", #"{"command":"ChangePlan","subscription":"00000000-0000-4000-8000-0000000000c1","to":"pro"}"#,
         #"{"command":"ChangePlan","subscription":"00000000-0000-4000-8000-0000000000c1","to":"free"}"#),
        ("team_plan_full", #"{"command":"Subscribe","user":"ann@example.com","plan":"team"}"#, #"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#),
        ("already_member", #"{"command":"JoinGroup","user":"ann@example.com","group":"admins"}"#,
         #"{"command":"JoinGroup","user":"bob@example.com","group":"admins"}"#),
        ("not_a_member", #"{"command":"LeaveGroup","user":"bob@example.com","group":"admins"}"#,
         #"{"command":"LeaveGroup","user":"ann@example.com","group":"admins"}"#),
    ]

    @Test(arguments: Backend.all, cases.indices)
    func ruleRejectsAndAccepts(_ backend: Backend, _ i: Int) throws {
        let (rule, failing, passing) = RulesTests.cases[i]
        let t = try seeded(backend)
        if rule == "team_plan_full" { try t.run(#"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#) }
        if rule == "already_subscribed", failing.contains("ChangePlan") {
            try t.run(#"{"command":"CreatePlan","name":"x"}"#, #"{"command":"Subscribe","user":"ann@example.com","plan":"x"}"#)
        }
        let before = try t.store.head()
        #expect(try t.rule(failing) == rule, "line: \(failing)")
        #expect(try t.store.head() == before, "a rejection appends nothing")
        if rule == "team_plan_full" { try t.run(#"{"command":"Cancel","user":"bob@example.com","plan":"team"}"#) }
        let ok = try t.outcome(passing)
        #expect(ok.isApplied, "line: \(passing) gave \(ok)")
    }

    @Test(arguments: Backend.all) func cancelledSubscriptionIsNotActive(_ backend: Backend) throws {
        let t = try seeded(backend)
        #expect(try t.outcome(#"{"command":"Cancel","user":"ann@example.com","plan":"pro"}"#).isApplied)
        #expect(try t.rule(#"{"command":"Cancel","subscription":"00000000-0000-4000-8000-0000000000c1"}"#) == "subscription_not_active")
        #expect(try t.rule(#"{"command":"ChangePlan","subscription":"00000000-0000-4000-8000-0000000000c1","to":"free"}"#) == "subscription_not_active")
        #expect(try t.rule(#"{"command":"Cancel","user":"ann@example.com","plan":"pro"}"#) == "subscription_not_active")
        // A new active subscription is allowed once the old one is cancelled.
        #expect(try t.outcome(#"{"command":"Subscribe","user":"ann@example.com","plan":"pro"}"#).isApplied)
    }

    @Test(arguments: Backend.all) func atNeverRunsBackwards(_ backend: Backend) throws {
        let t = try TempStore(backend: backend)
        #expect(try t.outcome(#"{"command":"CreateGroup","name":"a","at":"2026-03-01T10:00:00Z"}"#).isApplied)
        #expect(try t.rule(#"{"command":"CreateGroup","name":"b","at":"2026-03-01T09:59:59.999999Z"}"#) == "at_before_newest")
        #expect(try t.outcome(#"{"command":"CreateGroup","name":"b","at":"2026-03-01T10:00:00Z"}"#).isApplied, "equal is fine")
        #expect(try t.outcome(#"{"command":"CreateGroup","name":"c","at":"2026-03-01T12:00:00+02:00"}"#).isApplied, "offsets compare in UTC")
        // The clock (2026-01-01) is older than the newest at: a default now is clamped to it.
        #expect(try t.outcome(#"{"command":"CreateGroup","name":"d"}"#).isApplied)
        #expect(try t.column("groups", "created") == ["2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"])
    }

    @Test(arguments: Backend.all) func duplicateCommandIDsAreRetries(_ backend: Backend) throws {
        let t = try TempStore(backend: backend)
        let first = try t.outcome(#"{"command":"CreateGroup","name":"a","command_id":"k1","at":"2026-03-01T10:00:00Z"}"#)
        try t.run(#"{"command":"CreateGroup","name":"b","at":"2026-04-01T10:00:00Z"}"#)
        // An exact retry is a duplicate even though its at is now old; nothing is appended.
        let retry = try t.outcome(#"{"command":"CreateGroup","name":"a","command_id":"k1","at":"2026-03-01T10:00:00Z"}"#)
        #expect(retry == .duplicate(positions: [first.position!], created: first.created))
        #expect(try t.store.head().position == 2)
        // A rejected command does not claim its command_id.
        #expect(try t.rule(#"{"command":"CreateGroup","name":"b","command_id":"k2"}"#) == "group_name_taken")
        #expect(try t.outcome(#"{"command":"CreateGroup","name":"c","command_id":"k2"}"#).isApplied)
        // Validation comes before the duplicate check.
        #expect(try t.rule(#"{"command":"CreateGroup","command_id":"k1"}"#) == "missing_field")
    }

    @Test(arguments: Backend.all) func emailsAreTrimmedAndComparedWithoutCase(_ backend: Backend) throws {
        let t = try seeded(backend)
        #expect(try t.column("users", "email") == ["Ann@Example.com", "bob@example.com"])
        #expect(try t.outcome(#"{"command":"RenameUser","user":" ANN@EXAMPLE.COM","fullname":"Ann B"}"#).isApplied)
        #expect(try t.column("users", "full_name") == ["Ann B", ""])
        // RenameUser to the same name is accepted.
        #expect(try t.outcome(#"{"command":"RenameUser","user":"bob@example.com","full_name":""}"#).isApplied)
    }

    @Test(arguments: Backend.all) func deletesFreeNamesButNeverIds(_ backend: Backend) throws {
        let t = try seeded(backend)
        try t.run(#"{"command":"DeleteUser","user":"ann@example.com"}"#, #"{"command":"DeletePlan","plan":"pro"}"#,
                  #"{"command":"DeleteGroup","group":"admins"}"#)
        #expect(try t.outcome(#"{"command":"RegisterUser","email":"ann@example.com"}"#).isApplied)
        #expect(try t.outcome(#"{"command":"CreatePlan","name":"pro"}"#).isApplied)
        #expect(try t.outcome(#"{"command":"CreateGroup","name":"admins"}"#).isApplied)
        #expect(try t.rule(#"{"command":"RegisterUser","email":"z@z","id":"00000000-0000-4000-8000-000000000001"}"#) == "id_taken")
        #expect(try t.rule(#"{"command":"CreateGroup","name":"z","id":"00000000-0000-4000-8000-0000000000c1"}"#) == "id_taken")
        #expect(try t.rule(#"{"command":"RecordLogin","user":"00000000-0000-4000-8000-000000000001"}"#) == "unknown_user")
    }

    @Test(arguments: Backend.all) func cascadesRemoveDependentRows(_ backend: Backend) throws {
        let t = try seeded(backend)
        try t.run(#"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#,
                  #"{"command":"JoinGroup","user":"bob@example.com","group":"admins"}"#,
                  #"{"command":"Subscribe","user":"bob@example.com","plan":"pro"}"#,
                  #"{"command":"Cancel","user":"bob@example.com","plan":"pro"}"#)
        #expect(try t.column("groups", "member_count") == ["2"])
        #expect(try t.column("team_plans", "seats_used") == ["1"])
        try t.run(#"{"command":"DeleteUser","user":"bob@example.com"}"#)
        #expect(try t.column("groups", "member_count") == ["1"])
        #expect(try t.column("team_plans", "seats_used") == ["0"])
        #expect(try t.column("subscriptions", "user") == ["00000000-0000-4000-8000-000000000001"])
        // Deleting a plan takes all its subscriptions, cancelled ones too.
        try t.run(#"{"command":"Cancel","user":"ann@example.com","plan":"pro"}"#, #"{"command":"DeletePlan","plan":"pro"}"#)
        #expect(try t.rows("subscriptions").isEmpty)
        try t.run(#"{"command":"DeleteGroup","group":"admins"}"#)
        #expect(try t.rows("memberships").isEmpty)
        // Removed rows can no longer be referenced.
        #expect(try t.rule(#"{"command":"Cancel","subscription":"00000000-0000-4000-8000-0000000000c1"}"#) == "unknown_subscription")
    }

    @Test(arguments: Backend.all) func changePlanMovesSeatsAndKeepsIdentity(_ backend: Backend) throws {
        let t = try seeded(backend)
        let outcome = try t.outcome(#"{"command":"ChangePlan","user":"ann@example.com","plan":"pro","to":"team","at":"2026-02-01T00:00:00Z"}"#)
        #expect(outcome.isApplied)
        let row = try t.rows("subscriptions")[0]
        #expect(row["id"] == .id(EntityID("00000000-0000-4000-8000-0000000000c1")!))
        #expect(row["plan"] == .id(EntityID("00000000-0000-4000-8000-0000000000a2")!))
        #expect(row["updated"]?.text == "2026-02-01T00:00:00Z")
        #expect(row["created"] != row["updated"])
        #expect(try t.column("team_plans", "seats_used") == ["1"])
        #expect(try t.rule(#"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#) == "team_plan_full")
        #expect(try t.rule(#"{"command":"ChangePlan","user":"ann@example.com","plan":"pro","to":"free"}"#) == "subscription_not_active")
    }

    @Test(arguments: Backend.all) func recordLoginAndLastSeen(_ backend: Backend) throws {
        let t = try seeded(backend)
        #expect(try t.column("users", "last_seen") == ["", ""])
        try t.run(#"{"command":"RecordLogin","user":"bob@example.com","at":"2026-05-01T08:00:00Z"}"#)
        #expect(try t.column("users", "last_login") == ["", "2026-05-01T08:00:00Z"])
        #expect(try t.column("users", "last_seen") == ["", "2026-05-01T08:00:00Z"], "falls back to last_login")
        let head = try t.store.head()
        try t.store.setLastSeen(user: Reference("bob@example.com"), at: Timestamp(rfc3339: "2026-05-02T09:00:00.5Z"))
        #expect(try t.column("users", "last_seen") == ["", "2026-05-02T09:00:00.500Z"])
        #expect(try t.store.head() == head, "seen appends nothing")
        try t.store.forgetLastSeen(user: Reference("bob@example.com"))
        #expect(try t.column("users", "last_seen") == ["", "2026-05-01T08:00:00Z"])
        #expect(try t.store.head() == head)
        #expect(throws: StoreError.self) { try t.store.setLastSeen(user: Reference("nobody@x")) }
    }

    @Test(arguments: Backend.all) func proxiesFilterAndOrder(_ backend: Backend) throws {
        let t = try seeded(backend)
        #expect(try t.outcome(#"{"command":"Subscribe","user":"bob@example.com","plan":"free","at":"2026-02-01T00:00:00Z"}"#).isApplied)
        #expect(try t.column("paying_subscriptions", "plan") == ["00000000-0000-4000-8000-0000000000a1"])
        #expect(try t.column("active_subscriptions", "user").count == 2)
        #expect(try t.outcome(#"{"command":"Cancel","user":"ann@example.com","plan":"pro"}"#).isApplied)
        #expect(try t.rows("paying_subscriptions").isEmpty)
        #expect(try t.column("active_subscriptions", "user") == ["00000000-0000-4000-8000-000000000002"])
    }

    @Test(arguments: Backend.all) func showFiltersFollowRelatedLookups(_ backend: Backend) throws {
        let t = try seeded(backend)
        let ann = ViewFilter(user: Reference("ann@example.com"))
        #expect(try t.column("groups", "name", ann) == ["admins"])
        #expect(try t.column("plans", "name", ann) == ["pro"])
        #expect(try t.column("users", "email", ViewFilter(group: Reference("admins"))) == ["Ann@Example.com"])
        #expect(try t.column("users", "email", ViewFilter(plan: Reference("pro"))) == ["Ann@Example.com"])
        #expect(try t.rows("subscriptions", ViewFilter(user: Reference("bob@example.com"))).isEmpty)
        #expect(throws: StoreError.self) { try t.rows("groups", ViewFilter(plan: Reference("pro"))) }
        #expect(throws: StoreError.self) { try t.rows("subscriptions", ViewFilter(user: Reference("nobody@x"))) }
        #expect(throws: StoreError.self) { try t.rows("nope") }
    }
}
