import PropertyBased
import Testing
@testable import Subledger

/// The rules on their own: the decider and the command handler over state held in memory
/// (`MemoryLedger`), with no storage below them.
@Suite struct DeciderTests {
    func seeded() throws -> MemoryLedger {
        let ledger = MemoryLedger()
        let outcomes = try ledger.execute(RulesTests.setup)
        #expect(outcomes.allSatisfy { $0.isApplied }, "setup: \(outcomes)")
        return ledger
    }

    static let ann = EntityID("00000000-0000-4000-8000-000000000001")!
    static let bob = EntityID("00000000-0000-4000-8000-000000000002")!
    static let pro = EntityID("00000000-0000-4000-8000-0000000000a1")!
    static let team = EntityID("00000000-0000-4000-8000-0000000000a2")!
    static let free = EntityID("00000000-0000-4000-8000-0000000000a3")!
    static let admins = EntityID("00000000-0000-4000-8000-0000000000b1")!
    static let annOnPro = EntityID("00000000-0000-4000-8000-0000000000c1")!
    static let annInAdmins = EntityID("00000000-0000-4000-8000-0000000000d1")!

    /// Each rule of the rule table rejects its failing line and lets the close one pass, decided
    /// in memory exactly as on a store.
    @Test(arguments: RulesTests.cases.indices)
    func everyRuleHoldsInMemory(_ i: Int) throws {
        let (rule, failing, passing) = RulesTests.cases[i]
        let ledger = try seeded()
        if rule == "team_plan_full" { try ledger.execute([#"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#]) }
        if rule == "already_subscribed", failing.contains("ChangePlan") {
            try ledger.execute([#"{"command":"CreatePlan","name":"x"}"#, #"{"command":"Subscribe","user":"ann@example.com","plan":"x"}"#])
        }
        let before = ledger.log.count
        guard case .rejected(let rejection) = try ledger.execute([failing])[0] else {
            Issue.record("\(failing) was not rejected")
            return
        }
        #expect(rejection.rule == rule)
        #expect(ledger.log.count == before, "a rejection appends nothing")
        if rule == "team_plan_full" { try ledger.execute([#"{"command":"Cancel","user":"bob@example.com","plan":"team"}"#]) }
        #expect(try ledger.execute([passing])[0].isApplied, "line: \(passing)")
    }

    @Test func referencesResolveByIdEmailOrName() throws {
        let ledger = try seeded()
        #expect(try ledger.decide(#"{"command":"RecordLogin","user":"  ANN@example.com "}"#).get() == .userLoggedIn(user: Self.ann))
        #expect(try ledger.decide(#"{"command":"RecordLogin","user":"00000000-0000-4000-8000-000000000002"}"#).get()
                == .userLoggedIn(user: Self.bob))
        #expect(try ledger.decide(#"{"command":"DeletePlan","plan":"team"}"#).get() == .planDeleted(plan: Self.team))
        #expect(try ledger.decide(#"{"command":"DeleteGroup","group":"admins"}"#).get() == .groupDeleted(group: Self.admins))
        // A UUID-shaped reference is an id only, never an email or a name.
        #expect(throws: Rejection.unknownUser("00000000-0000-4000-8000-00000000ffff")) {
            try ledger.decide(#"{"command":"RecordLogin","user":"00000000-0000-4000-8000-00000000ffff"}"#).get()
        }
    }

    @Test func changePlanAndCancelNameTheSubscriptionTheyTake() throws {
        let ledger = try seeded()
        #expect(try ledger.decide(#"{"command":"ChangePlan","user":"ann@example.com","plan":"pro","to":"free"}"#).get()
                == .planChanged(subscription: Self.annOnPro, from: Self.pro, to: Self.free))
        #expect(try ledger.decide(#"{"command":"Cancel","subscription":"00000000-0000-4000-8000-0000000000c1"}"#).get()
                == .subscriptionCancelled(subscription: Self.annOnPro))
        #expect(try ledger.decide(#"{"command":"LeaveGroup","user":"ann@example.com","group":"admins"}"#).get()
                == .memberLeft(membership: Self.annInAdmins, user: Self.ann, group: Self.admins))
    }

    @Test func aCascadeFreesTheSeatAndTheRowsGo() throws {
        let ledger = try seeded()
        try ledger.execute([#"{"command":"Subscribe","user":"bob@example.com","plan":"team"}"#,
                            #"{"command":"JoinGroup","user":"bob@example.com","group":"admins"}"#])
        #expect(throws: Rejection.teamPlanFull(plan: Self.team, seats: 1)) {
            try ledger.decide(#"{"command":"Subscribe","user":"ann@example.com","plan":"team"}"#).get()
        }
        try ledger.execute([#"{"command":"DeleteUser","user":"bob@example.com"}"#])
        #expect(try ledger.rows(of: .subscriptions).count == 1)
        #expect(try ledger.rows(of: .memberships).count == 1)
        guard case .subscribed(_, Self.ann, Self.team) = try ledger.decide(#"{"command":"Subscribe","user":"ann@example.com","plan":"team"}"#).get() else {
            Issue.record("the freed seat is not taken")
            return
        }
    }

    /// The same command streams give the same outcomes, the same events (hashes too) and the same
    /// base views through the handler in memory as through a store of each backend: the
    /// storage below the boundary changes nothing the domain decides.
    @Test(arguments: Backend.all)
    func memoryAndStoreAgree(_ backend: Backend) async {
        await propertyCheck(count: CommandStreams.cases, input: CommandStreams.steps) { steps in
            failOnThrow {
                let lines = CommandStreams.lines(steps)
                let ledger = MemoryLedger()
                let temp = try TempStore(backend: backend)
                let inMemory = try ledger.execute(lines)
                let stored = try temp.store.execute(batch: lines.map { CommandDecoder.decode(line: $0) })
                #expect(inMemory == stored, "lines: \(lines)")
                #expect(ledger.log == (try temp.store.events()))
                for view in BaseView.allCases {
                    #expect(try ledger.rows(of: view).map { $0.viewRow() } == temp.store.rows(of: view.rawValue), "view \(view)")
                }
            }
        }
    }
}
