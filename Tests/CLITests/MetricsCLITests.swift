import Foundation
import Testing

/// `subledger metrics` end to end (the goldens hold the full transcripts), and the names that
/// `show` and `replay` tables print for people.
@Suite struct MetricsCLITests {
    static let story = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/golden/metrics_story/commands.jsonl").path

    static func withStory(_ body: (CLI) throws -> Void) throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec", story]).status == 0)
        try body(cli)
    }

    @Test func jsonRowsHoldTheSpecsKeysInOrderAndTheBridge() throws {
        try MetricsCLITests.withStory { cli in
            let r = try cli.run(["metrics", "--json"])
            #expect(r.status == 0)
            let keys = ["period_start", "period_end", "subscribers", "paying_subscribers", "active_subscriptions", "mrr_cents",
                        "team_seats", "team_seats_used", "new_mrr_cents", "reactivation_mrr_cents", "expansion_mrr_cents",
                        "contraction_mrr_cents", "churn_mrr_cents", "new_paying_subscribers", "churned_paying_subscribers",
                        "subscriber_churn_rate"]
            // Key order as printed: the first row's keys in the text.
            let firstRow = r.stdout.dropFirst(2).prefix { $0 != "}" }
            let printed = firstRow.split(separator: ",").map { $0.split(separator: ":")[0].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            #expect(printed == keys)
            let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
            var previous = 0
            for row in rows {
                func n(_ k: String) -> Int { row[k] as! Int }
                #expect(previous + n("new_mrr_cents") + n("reactivation_mrr_cents") + n("expansion_mrr_cents")
                        - n("contraction_mrr_cents") - n("churn_mrr_cents") == n("mrr_cents"))
                previous = n("mrr_cents")
            }
            #expect(rows[0]["subscriber_churn_rate"] is NSNull)
            #expect(rows[1]["subscriber_churn_rate"] as? Double == 0.25)

            let csv = try cli.run(["metrics", "--csv"]).lines
            #expect(csv.first == keys.joined(separator: ","))
            #expect(csv.count == rows.count + 1)
        }
    }

    @Test func badOptionsAreOneLineThatNamesTheOptionAndExitOne() throws {
        try MetricsCLITests.withStory { cli in
            let cases: [([String], String)] = [
                (["--from", "nope"], "--from"), (["--to", "2026-02-30T00:00:00Z"], "--to"), (["--every", "year"], "--every"),
                (["--plan", "nope"], "--plan"), (["--from", "2026-03-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"], "--from"),
                (["--json", "--csv"], "--json"), (["--chart", "x.png"], "--chart"),
            ]
            for (args, option) in cases {
                let r = try cli.run(["metrics"] + args)
                #expect(r.status == 1, "\(args)")
                #expect(r.stdout.isEmpty)
                #expect(r.stderr.hasPrefix("subledger: \(option)") && r.stderr.filter { $0 == "\n" }.count == 1, "\(args): \(r.stderr)")
            }
        }
    }

    @Test func anEmptyStoreHasNoRows() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["init"]).status == 0)
        #expect(try cli.run(["metrics", "--json"]).stdout == "[]\n")
        let r = try cli.run(["metrics"])
        #expect(r.status == 0 && r.stdout.isEmpty && r.stderr.contains("no rows"))
        #expect(try cli.run(["metrics", "--from", "2026-01-01T00:00:00Z", "--to", "2026-03-01T00:00:00Z", "--csv"]).lines.count == 4)
    }

    @Test func tablesNameRelatedRowsAndJSONKeepsIds() throws {
        try MetricsCLITests.withStory { cli in
            let ann = "a0000000-0000-4000-8000-000000000001", pro = "b0000000-0000-4000-8000-000000000002"
            let table = try cli.run(["show", "subscriptions", "--user", "ann@example.com"]).stdout
            #expect(table.contains("ann@example.com  pro") && !table.contains(ann))
            let ids = try cli.run(["show", "subscriptions", "--user", "ann@example.com", "--ids"]).stdout
            #expect(ids.contains("\(ann)  \(pro)"))
            // --json is the same with or without names.
            let json = try cli.run(["show", "subscriptions", "--json"]).stdout
            #expect(json.contains(#""user":"\#(ann)""#) && !json.contains("ann@example.com"))
            #expect(try cli.run(["show", "subscriptions", "--json", "--ids"]).stdout == json)
            // replay: names in the data column; a deleted user (eve) and plan (legacy) keep their ids.
            let replay = try cli.run(["replay", "--type", "Subscribed"]).stdout
            #expect(replay.contains("user ann@example.com plan basic"))
            #expect(replay.contains("user a0000000-0000-4000-8000-000000000005 plan b0000000-0000-4000-8000-000000000004"))
            #expect(replay.contains("user fay@example.com plan b0000000-0000-4000-8000-000000000005"))
            #expect(try cli.run(["replay", "--type", "Subscribed", "--ids"]).stdout.contains("user \(ann) plan b0000000-0000-4000-8000-000000000001"))
            #expect(!(try cli.run(["replay", "--json"]).stdout.contains("ann@example.com plan")))
        }
    }
}
