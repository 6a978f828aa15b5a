import Foundation
import Testing

@Suite struct ExecAndShowTests {
    @Test func execJSONFollowsTheSpec() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        let input = """
        {"command":"CreatePlan","name":"pro","price_cents":900,"command_id":"a","at":"2026-01-01T00:00:00Z"}
        {"command":"RegisterUser","email":"ann@example.com","command_id":"b","at":"2026-01-01T00:01:00Z"}
        not json

        {"command":"Subscribe","user":"ann@example.com","plan":"pro","command_id":"c","at":"2026-01-01T00:02:00Z"}
        {"command":"CreatePlan","name":"pro","price_cents":900,"command_id":"a","at":"2026-01-01T00:00:00Z"}
        {"command":"Subscribe","user":"ann@example.com","plan":"pro"}
        """
        let r = try cli.run(["exec", "--json"], input: input)
        #expect(r.status == 1, "a rejection makes exit 1")
        let lines = r.lines.map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.map { $0["line"] as! Int } == [1, 2, 3, 5, 6, 7])
        #expect(lines.map { $0["status"] as! String } == ["ok", "ok", "rejected", "ok", "duplicate", "rejected"])
        #expect(lines.map { $0["positions"] as! [Int] } == [[1], [2], [], [3], [1], []])
        #expect((lines[2]["error"] as! String).hasPrefix("malformed_json"))
        #expect((lines[5]["error"] as! String).hasPrefix("already_subscribed"))
        #expect(r.stderr.contains("6 commands: 3 ok, 1 duplicate, 2 rejected"))

        let show = try cli.json("show", "subscriptions", "--json") as! [[String: Any]]
        #expect(show.count == 1)
        #expect(Array(show[0].keys).sorted() == ["cancelled", "created", "id", "plan", "updated", "user"])
        #expect(show[0]["created"] as? String == "2026-01-01T00:02:00Z")
        #expect(show[0]["cancelled"] is NSNull)
    }

    /// Each line is answered before the next is written: a client may wait for its result
    /// (exec decodes on one thread and applies on another, and must not hold a result back).
    @Test(.timeLimit(.minutes(1))) func execAnswersEachLineOfInteractiveInputAtOnce() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = CLI.postgresServer == nil ? ["--store", cli.store, "exec", "--json"] : ["exec", "--json"]
        var env = ProcessInfo.processInfo.environment
        env["SUBLEDGER_STORE"] = CLI.postgresServer == nil ? nil : cli.store
        p.environment = env
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        try p.run()
        let reader = output.fileHandleForReading
        var pending = Data()
        func nextLine() -> String? {
            while true {
                if let nl = pending.firstIndex(of: 0x0A) {
                    defer { pending = pending[(nl + 1)...] }
                    return String(decoding: pending[..<nl], as: UTF8.self)
                }
                let chunk = reader.availableData
                if chunk.isEmpty { return nil }
                pending += chunk
            }
        }
        for i in 1...5 {
            let line = #"{"command":"CreatePlan","name":"p\#(i)","price_cents":100,"command_id":"i\#(i)"}"#
            try input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
            // Blocks until the answer comes: with the input still open, a held-back result hangs here.
            let answer = try #require(nextLine())
            #expect(answer.hasPrefix(#"{"line":\#(i),"status":"ok","positions":[\#(i)]"#), "\(answer)")
        }
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(nextLine() == nil)
    }

    @Test func execExitsZeroWhenNothingIsRejected() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        let r = try cli.run(["exec"], input: #"{"command":"CreateGroup","name":"g"}"# + "\n")
        #expect(r.status == 0)
        #expect(r.stdout.contains("line 1: ok, position 1"))
    }

    @Test func showAlignsWideAndControlCellsAndStreamsLargeJSON() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        // A name with non-ASCII letters and an escape sequence, then enough rows that the JSON
        // array crosses the 64 KiB output buffer many times.
        var input = #"{"command":"RegisterUser","email":"zoe@example.com","full_name":"Zoë Ünal\u001b[31m"}"# + "\n"
        input += #"{"command":"RegisterUser","email":"ulla@example.com","full_name":"Ülla Öztürk-Çelik"}"# + "\n"
        for i in 0..<1499 { input += #"{"command":"RegisterUser","email":"u\#(i)@example.com","full_name":"User \#(i)"}"# + "\n" }
        #expect(try cli.run(["exec"], input: input).status == 0)

        let table = try cli.run("show", "users")
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 1502)
        #expect(lines[1].contains("Zoë Ünal\\u{1b}[31m"), "control characters are shown escaped: \(lines[1])")
        // The registered column starts at the same character on every line: widths count
        // characters (not bytes), and the escaped name as shown.
        let offset = lines[0].distance(from: lines[0].startIndex, to: lines[0].range(of: "registered")!.lowerBound)
        for line in lines.dropFirst() {
            let chars = Array(line)
            #expect(chars.count > offset && chars[offset - 2] == " " && chars[offset - 1] == " " && chars[offset] == "2", "misaligned: \(line)")
        }

        let json = try cli.json("show", "users", "--json") as! [[String: Any]]
        #expect(json.count == 1501)
        #expect(json[0]["full_name"] as? String == "Zoë Ünal\u{1b}[31m")
        #expect(Set(json.map { $0["email"] as! String }).count == 1501)
    }

    @Test func commandsOtherThanInitAndExecNeedAStore() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        let r = try cli.run("show", "users")
        #expect(r.status == 1)
        #expect(r.stderr.contains("subledger init"))
        #expect(!FileManager.default.fileExists(atPath: cli.store), "it never creates an empty store")
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("init").status == 0, "init on an existing store is fine")
        #expect(try cli.run("show", "users").status == 0)
    }

    @Test func unknownViewAndBadFlagsAreOneLineErrors() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        try cli.run("init")
        let r = try cli.run("show", "nope")
        #expect(r.status == 1)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains("unknown view"))
        let bad = try cli.run("show", "users", "--limit", "x")
        #expect(bad.status == 64, "the argument parser's usage code")
    }

    @Test func singleCommandSubcommandsGoThroughTheSamePath() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        try cli.run("init")
        let created = try cli.run("create-plan", "--name", "team", "--price-cents", "100", "--seats", "1", "--json", "--at", "2026-01-01T00:00:00Z")
        #expect(created.status == 0)
        let line = try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as! [String: Any]
        #expect(line["status"] as? String == "ok")
        #expect(line["positions"] as? [Int] == [1])
        #expect(line["id"] is String)
        #expect(try cli.run("register-user", "--email", "a@b.c", "--fullname", "A").status == 0)
        #expect(try cli.run("register-user", "--email", "b@b.c", "--full-name", "B").status == 0)
        #expect(try cli.run("subscribe", "--user", "a@b.c", "--plan", "team").status == 0)
        let full = try cli.run("subscribe", "--user", "b@b.c", "--plan", "team")
        #expect(full.status == 1)
        #expect(full.stderr.contains("team_plan_full"))
        let teams = try cli.json("show", "team_plans", "--json") as! [[String: Any]]
        #expect(teams.first?["seats_used"] as? Int == 1)
        let dup = try cli.run("create-group", "--name", "g", "--command-id", "k")
        let again = try cli.run("create-group", "--name", "g", "--command-id", "k")
        #expect(dup.status == 0 && again.status == 0)
        #expect(again.stdout.contains("duplicate"))
    }

    @Test func seenAndForgetSeenAppendNothing() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        try cli.run("init")
        try cli.run("register-user", "--email", "a@b.c")
        try cli.run("login", "--user", "a@b.c", "--at", "2030-01-01T00:00:00Z")
        #expect(try cli.run("seen", "--user", "a@b.c", "--at", "2030-02-01T00:00:00+01:00").status == 0)
        var users = try cli.json("show", "users", "--json") as! [[String: Any]]
        #expect(users[0]["last_seen"] as? String == "2030-01-31T23:00:00Z")
        #expect(try cli.run("forget-seen", "--user", "a@b.c").status == 0)
        users = try cli.json("show", "users", "--json") as! [[String: Any]]
        #expect(users[0]["last_seen"] as? String == "2030-01-01T00:00:00Z")
        let stats = try cli.json("stats", "--json") as! [String: Any]
        #expect(stats["events"] as? Int == 2)
    }

    @Test func replayEndsQuietlyOnABrokenPipe() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        let many = (0..<3000).map { #"{"command":"CreateGroup","name":"g\#($0)"}"# }.joined(separator: "\n")
        #expect(try cli.run(["exec"], input: many).status == 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "'\(CLI.binary)' --store '\(cli.store)' replay --json | head -3; exit ${PIPESTATUS:-0}"]
        let err = Pipe(), out = Pipe()
        p.standardError = err
        p.standardOutput = out
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(String(decoding: o, as: UTF8.self).split(separator: "\n").count == 3)
        #expect(e.isEmpty, "no error on a closed pipe: \(String(decoding: e, as: UTF8.self))")
    }
}
