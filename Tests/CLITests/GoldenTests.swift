import Foundation
import Testing

/// The golden scenarios of `fixtures/golden`, run through the built binary: each scenario's
/// `commands.jsonl` goes through `exec --json` in a fresh store, then the steps of its `cli.txt`
/// (if any), then `show <view> --json` for every view; every output must equal its file under
/// `expected/` byte for byte. `tools/goldens` runs the same scenarios the same way, and
/// `tools/goldens --update` rewrites the expected files (see fixtures/README.md).
@Suite struct GoldenTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures/golden")

    static let views = ["users", "plans", "team_plans", "groups", "memberships", "subscriptions",
                        "active_subscriptions", "paying_subscriptions", "recent_memberships"]

    /// Every folder of fixtures/golden with a commands.jsonl, by name.
    static let scenarios: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/commands.jsonl").path) }.sorted()
    }()

    @Test func everyFeatureHasAScenario() {
        let required = ["last_seen", "fullname_alias", "through_models", "team_plans", "proxies", "cascades",
                        "idempotency_and_at", "rejections", "metrics_story", "metrics_demo"]
        for name in required {
            #expect(GoldenTests.scenarios.contains(name), "fixtures/golden/\(name) is missing")
        }
    }

    @Test(arguments: GoldenTests.scenarios)
    func scenario(_ name: String) throws {
        let dir = GoldenTests.root.appendingPathComponent(name)
        let cli = CLI()
        defer { cli.cleanUp() }
        var actual: [(file: String, text: String)] = []

        let exec = try cli.run(["exec", "--json", dir.appendingPathComponent("commands.jsonl").path])
        let rejected = exec.stdout.contains(#""status":"rejected""#)
        #expect(exec.status == (rejected ? 1 : 0),
                "\(name): exec exited \(exec.status) but printed \(rejected ? "a" : "no") rejected line; stderr: \(exec.stderr)")
        actual.append(("exec.jsonl", exec.stdout))

        let steps = dir.appendingPathComponent("cli.txt")
        if FileManager.default.fileExists(atPath: steps.path) {
            var transcript = ""
            for line in try String(contentsOf: steps, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
                let args = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                guard let first = args.first, !first.hasPrefix("#") else { continue }
                // A first word `~` runs the rest without recording its stderr (rebuild prints a timing).
                let quiet = first == "~"
                let r = try cli.run(quiet ? Array(args.dropFirst()) : args)
                transcript += "$ " + args.joined(separator: " ") + "\n"
                for l in GoldenTests.lines(r.stdout) { transcript += l + "\n" }
                if !quiet { for l in GoldenTests.lines(r.stderr) { transcript += "stderr: " + l + "\n" } }
                if r.status != 0 { transcript += "exit: \(r.status)\n" }
            }
            actual.append(("cli.out", transcript))
        }

        for view in GoldenTests.views {
            let r = try cli.run(["show", view, "--json"])
            #expect(r.status == 0, "\(name): show \(view) exited \(r.status): \(r.stderr)")
            actual.append(("\(view).json", r.stdout))
        }

        let expectedDir = dir.appendingPathComponent("expected")
        for (file, text) in actual {
            let path = expectedDir.appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: path.path) else {
                Issue.record("\(name): missing fixtures/golden/\(name)/expected/\(file); run tools/goldens --update \(name) and review it")
                continue
            }
            let expected = String(decoding: data, as: UTF8.self)
            if expected != text {
                Issue.record("""
                \(name)/expected/\(file) differs from the CLI output (- expected, + actual):
                \(GoldenTests.diff(expected, text, rows: file.hasSuffix(".json")))
                If the change is intended, run tools/goldens --update \(name) and review the diff.
                """)
            }
        }
        let produced = Set(actual.map(\.file))
        for file in (try? FileManager.default.contentsOfDirectory(atPath: expectedDir.path)) ?? [] where !produced.contains(file) {
            Issue.record("\(name): expected/\(file) has no output to compare with (a stale file, or a cli.txt went missing)")
        }
    }

    /// The lines of a text, as `awk '{ print }'` sees them: a missing final newline is no extra line.
    static func lines(_ s: String) -> [String] {
        guard !s.isEmpty else { return [] }
        var parts = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    /// A line diff (longest common subsequence) of two texts, with a little context; `rows` puts
    /// each row of a JSON array on its own line first, so a one-line view diffs by row.
    static func diff(_ a: String, _ b: String, rows: Bool) -> String {
        func split(_ s: String) -> [String] {
            lines(rows ? s.replacingOccurrences(of: "},{\"", with: "},\n{\"") : s)
        }
        let x = split(a), y = split(b)
        var lcs = Array(repeating: Array(repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in stride(from: x.count - 1, through: 0, by: -1) {
            for j in stride(from: y.count - 1, through: 0, by: -1) {
                lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [(mark: Character, text: String)] = []
        var i = 0, j = 0
        while i < x.count || j < y.count {
            if i < x.count, j < y.count, x[i] == y[j] { out.append((" ", x[i])); i += 1; j += 1 }
            else if i < x.count, j == y.count || lcs[i + 1][j] >= lcs[i][j + 1] { out.append(("-", x[i])); i += 1 }
            else { out.append(("+", y[j])); j += 1 }
        }
        let changed = out.indices.filter { out[$0].mark != " " }
        let shown = out.indices.filter { k in changed.contains { abs($0 - k) <= 2 } }
        var text = ""
        var last = -1
        for k in shown {
            if last >= 0, k != last + 1 { text += "  ...\n" }
            text += "\(out[k].mark) \(out[k].text)\n"
            last = k
        }
        if a.hasSuffix("\n") != b.hasSuffix("\n") { text += "(the final newline differs)\n" }
        return text
    }
}
