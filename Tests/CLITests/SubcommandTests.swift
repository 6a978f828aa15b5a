import Foundation
import Testing

/// Every subcommand through the built binary: the 13 commands, replay (with --follow),
/// projections, stats, and the errors people meet.
@Suite struct SubcommandTests {
    func object(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test func everyCommandSubcommandAppendsItsEvent() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        let steps: [([String], String)] = [
            (["create-plan", "--name", "pro", "--price-cents", "900"], "PlanCreated"),
            (["create-plan", "--name", "basic"], "PlanCreated"),
            (["create-group", "--name", "ops"], "GroupCreated"),
            (["register-user", "--email", "ann@example.com", "--full-name", "Ann"], "UserRegistered"),
            (["rename-user", "--user", "ann@example.com", "--fullname", "Ann Lee"], "UserRenamed"),
            (["login", "--user", "ann@example.com"], "UserLoggedIn"),
            (["subscribe", "--user", "ann@example.com", "--plan", "pro"], "Subscribed"),
            (["change-plan", "--user", "ann@example.com", "--plan", "pro", "--to", "basic"], "PlanChanged"),
            (["cancel", "--user", "ann@example.com", "--plan", "basic"], "SubscriptionCancelled"),
            (["join", "--user", "ann@example.com", "--group", "ops"], "MemberJoined"),
            (["leave", "--user", "ann@example.com", "--group", "ops"], "MemberLeft"),
            (["delete-group", "--group", "ops"], "GroupDeleted"),
            (["delete-plan", "--plan", "pro"], "PlanDeleted"),
            (["delete-user", "--user", "ann@example.com"], "UserDeleted"),
        ]
        try cli.run("init")
        for (i, (args, type)) in steps.enumerated() {
            let r = try cli.run(args + ["--json", "--command-id", "step-\(i)"])
            #expect(r.status == 0, "\(args): \(r.stderr)")
            let line = object(r.stdout)
            #expect(line["status"] as? String == "ok", "\(args)")
            #expect(line["positions"] as? [Int] == [i + 1], "\(args)")
            let replayed = try cli.run("replay", "--from", "\(i + 1)", "--to", "\(i + 1)", "--json")
            #expect(object(replayed.stdout)["type"] as? String == type, "\(args)")
        }
        // Human output names the position and the id.
        let human = try cli.run("create-group", "--name", "ops")
        #expect(human.stdout.hasPrefix("ok: position 15, id "))
        // A rejection: exit 1, one line naming the rule.
        let bad = try cli.run("join", "--user", "nobody@example.com", "--group", "ops")
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("unknown_user") && bad.stderr.split(separator: "\n").count == 1)
        // Bad flags: the parser's usage code.
        #expect(try cli.run("create-plan", "--price-cents", "lots").status == 64)
        #expect(try cli.run("subscribe", "--user", "x").status == 64)
    }

    @Test func replayJSONCarriesEveryEnvelopeField() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        let input = #"{"command":"RegisterUser","email":"a@b.c","fullname":"A","command_id":"r1","at":"2026-01-01T10:00:00.5+02:00"}"# + "\n"
            + #"{"command":"RecordLogin","user":"a@b.c"}"# + "\n"
        #expect(try cli.run(["exec"], input: input).status == 0)
        let lines = try cli.run("replay", "--json").lines.map(object)
        #expect(lines.count == 2)
        #expect(Set(lines[0].keys) == ["position", "stream", "version", "type", "schema_version", "event_id", "at",
                                       "recorded_at", "command_id", "data", "hash"])
        #expect(lines[0]["at"] as? String == "2026-01-01T08:00:00.500Z")
        #expect(lines[0]["command_id"] as? String == "r1")
        #expect(lines[1]["command_id"] is NSNull)
        #expect((lines[0]["data"] as? [String: Any])?["full_name"] as? String == "A")
        #expect((lines[0]["hash"] as? String)?.count == 64)
        #expect((lines[0]["stream"] as? String)?.hasPrefix("user-") == true)
        #expect(try cli.run("replay", "--type", "UserLoggedIn", "--json").lines.count == 1)
        #expect(try cli.run("replay", "--stream", lines[0]["stream"] as! String, "--json").lines.count == 2)
        let table = try cli.run("replay")
        #expect(table.lines.first?.hasPrefix("position") == true && table.lines.count == 3)
        #expect(try cli.run("replay", "--type", "Nope").status == 1)
        #expect(try cli.run("replay", "--stream", "nope").status == 1)
    }

    @Test func replayFollowPrintsWhatOthersAppend() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec"], input: #"{"command":"CreateGroup","name":"a"}"# + "\n").status == 0)
        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: CLI.binary)
        follower.arguments = ["--store", cli.store, "replay", "--follow", "--json"]
        let out = Pipe()
        follower.standardOutput = out
        follower.standardError = FileHandle.nullDevice
        try follower.run()
        defer {
            // SIGKILL: an orphaned follower would hold the test runner's pipes open.
            kill(follower.processIdentifier, SIGKILL)
            follower.waitUntilExit()
        }
        #expect(try cli.run(["exec"], input: #"{"command":"CreateGroup","name":"b"}"# + "\n").status == 0)
        // Read until both events arrived (bounded by a deadline).
        var text = ""
        let deadline = Date().addingTimeInterval(10)
        let handle = out.fileHandleForReading
        while text.split(separator: "\n").count < 2 && Date() < deadline {
            // poll first: a follower that never prints must fail the test, not hang it.
            var fds = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&fds, 1, 200) > 0 else { continue }
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let positions = text.split(separator: "\n").map { object(String($0))["position"] as? Int }
        #expect(positions == [1, 2])
    }

    @Test func projectionsAndStatsFollowTheSpec() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        let input = #"{"command":"CreatePlan","name":"t","seats":3}"# + "\n" + #"{"command":"RegisterUser","email":"a@b.c"}"# + "\n"
            + #"{"command":"Subscribe","user":"a@b.c","plan":"t"}"# + "\n"
        #expect(try cli.run(["exec"], input: input).status == 0)
        let projections = try cli.json("projections", "--json") as! [[String: Any]]
        #expect(projections.map { $0["name"] as! String } == ["users", "plans", "team_plans", "groups", "memberships", "subscriptions",
                                                               "active_subscriptions", "paying_subscriptions", "recent_memberships"])
        #expect(projections.first { $0["name"] as? String == "team_plans" }?["kind"] as? String == "child")
        #expect(projections.first { $0["name"] as? String == "active_subscriptions" }?["kind"] as? String == "proxy")
        #expect(projections.allSatisfy { $0["checkpoint"] as? Int == 3 && $0["version"] as? Int == 1 })
        #expect(projections.first { $0["name"] as? String == "subscriptions" }?["rows"] as? Int == 1)
        let stats = try cli.json("stats", "--json") as! [String: Any]
        #expect(stats["events"] as? Int == 3 && stats["streams"] as? Int == 3)
        #expect((stats["types"] as? [String: Int])?["Subscribed"] == 1)
        #expect((stats["map_bytes"] as? Int ?? 0) >= (stats["map_used_bytes"] as? Int ?? .max))
        #expect(try cli.run("projections").lines.first?.hasPrefix("name") == true)
        #expect(try cli.run("stats").status == 0)
    }

    @Test func peopleMeetOneLineErrors() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        for args in [["show", "users"], ["replay"], ["stats"], ["verify"], ["rebuild"], ["export"], ["projections"]] {
            let r = try cli.run(args)
            #expect(r.status == 1, "\(args)")
            #expect(r.stderr.contains("subledger init") && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: cli.store), "no store was created")
        try cli.run("init")
        let unknown = try cli.run("show", "nope")
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown view"))
        let filter = try cli.run("show", "groups", "--plan", "x")
        #expect(filter.status == 1 && filter.stderr.split(separator: "\n").count == 1)
        #expect(try cli.run("show", "users", "--bogus").status == 64)
        #expect(try cli.run("--version").stdout.contains("."))
        for sub in ["init", "exec", "show", "replay", "rebuild", "verify", "export", "import", "stats", "projections", "seen",
                    "forget-seen", "register-user", "change-plan", "cancel", "join", "leave"] {
            let help = try cli.run(sub, "--help")
            #expect(help.status == 0 && help.stdout.contains("Example"), "\(sub) --help has an example")
        }
    }
}
