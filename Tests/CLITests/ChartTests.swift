import Foundation
import Testing

/// Debian's chromium, when installed.
enum Chromium {
    static let path: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}

/// `metrics --chart` rendered in a real headless browser (Debian's chromium, which
/// tools/ensure-chromium installs and tools/test runs first): a page embeds the SVG the CLI
/// wrote, with a small script that measures what the browser drew (bars of non-zero height,
/// MRR points, labels and their boxes) into the DOM; chromium dumps the DOM and the test reads
/// the measurements back.
@Suite(.enabled(if: Chromium.path != nil, "chromium is not installed: run tools/ensure-chromium (tools/test does)"))
struct ChartTests {

    static let story = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/golden/metrics_story/commands.jsonl").path

    /// What the page's script measured.
    struct Drawn: Decodable {
        struct Box: Decodable { var x: Double; var y: Double; var width: Double; var height: Double }
        var bars: Int
        var barKinds: [String]
        var points: Int
        var line: Int
        var xLabels: [String]
        var yLabels: [String]
        var legend: [String]
        var xLabelBoxes: [Box]
        var legendBoxes: [Box]
        var outside: Int
    }

    /// Runs the page through chromium and returns the measurements.
    static func render(svg: String, in dir: String) throws -> Drawn {
        let page = """
        <!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
        \(svg)
        <pre id="result"></pre>
        <script>
        const svg = document.querySelector('svg');
        const w = svg.viewBox.baseVal.width, h = svg.viewBox.baseVal.height;
        const box = e => { const b = e.getBBox(); return {x: b.x, y: b.y, width: b.width, height: b.height}; };
        const drawn = [...svg.querySelectorAll('rect.bar')].filter(e => e.getBBox().height > 0 && e.getBBox().width > 0);
        const texts = sel => [...svg.querySelectorAll(sel)].filter(e => e.getBBox().width > 0);
        let outside = 0;
        for (const e of svg.querySelectorAll('rect.bar, circle.point, text')) {
            const b = e.getBBox();
            if (b.x < 0 || b.y < 0 || b.x + b.width > w || b.y + b.height > h) outside++;
        }
        document.getElementById('result').textContent = JSON.stringify({
            bars: drawn.length,
            barKinds: drawn.map(e => e.dataset.kind),
            points: [...svg.querySelectorAll('circle.point')].filter(e => e.getBBox().width > 0).length,
            line: svg.querySelectorAll('polyline.mrr-line').length,
            xLabels: texts('text.x-label').map(e => e.textContent),
            yLabels: texts('text.y-label').map(e => e.textContent),
            legend: texts('g.legend text').map(e => e.textContent),
            xLabelBoxes: texts('text.x-label').map(box),
            legendBoxes: texts('g.legend text').map(box),
            outside: outside,
        });
        </script></body></html>
        """
        let path = dir + "/page.html"
        try page.write(toFile: path, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Chromium.path!)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir)/profile",
                       "--dump-dom", "file://\(path)"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        // A browser that hangs must not hang the suite: a minute is 50 times what it takes.
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        watchdog.cancel()
        guard let start = dom.range(of: "<pre id=\"result\">"), let end = dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex) else {
            throw ChartError.noResult(String(dom.prefix(500)))
        }
        let json = String(dom[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
        return try JSONDecoder().decode(Drawn.self, from: Data(json.utf8))
    }

    enum ChartError: Error { case noResult(String) }

    static func overlapping(_ boxes: [Drawn.Box]) -> Bool {
        for (i, a) in boxes.enumerated() {
            for b in boxes[(i + 1)...] where a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height {
                return true
            }
        }
        return false
    }

    @Test(arguments: ["month", "week", "day"])
    func theBrowserDrawsABarPerMovementAndAPointPerPeriod(every: String) throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec", ChartTests.story]).status == 0)
        let chart = cli.dir + "/mrr.svg"
        let r = try cli.run(["metrics", "--every", every, "--json", "--chart", chart])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        let kinds = ["new", "reactivation", "expansion", "contraction", "churn"]
        let expectedBars = rows.flatMap { row in kinds.filter { (row["\($0)_mrr_cents"] as! Int) > 0 } }

        let drawn = try ChartTests.render(svg: try String(contentsOfFile: chart, encoding: .utf8), in: cli.dir)
        #expect(drawn.bars == expectedBars.count)
        #expect(drawn.barKinds.sorted() == expectedBars.sorted())
        #expect(drawn.points == rows.count)
        #expect(drawn.line == 1)
        #expect(drawn.outside == 0, "elements drawn outside the SVG's box")
        #expect(!ChartTests.overlapping(drawn.xLabelBoxes), "date labels overlap: \(drawn.xLabels)")
        #expect(!ChartTests.overlapping(drawn.legendBoxes), "legend entries overlap: \(drawn.legend)")
        // Dates: the first period's, and as many as fit, each a period's.
        let starts = rows.map { String(($0["period_start"] as! String).prefix(every == "month" ? 7 : 10)) }
        #expect(drawn.xLabels.first == starts.first)
        #expect(Set(drawn.xLabels).isSubset(of: Set(starts)))
        #expect(drawn.xLabels.count >= min(rows.count, 6))
        // Amounts in currency units, with thousands separators: MRR peaks at 180.00 in this story.
        #expect(drawn.yLabels.contains("0"))
        #expect(drawn.yLabels.allSatisfy { $0.wholeMatch(of: /-?\d{1,3}(,\d{3})*(\.\d\d)?/) != nil }, "\(drawn.yLabels)")
        #expect(drawn.yLabels.contains("200"), "\(drawn.yLabels)")
        #expect(drawn.legend.starts(with: ["MRR", "New (gain)", "Reactivation (gain)", "Expansion (gain)",
                                           "Contraction (loss)", "Churn (loss)"]), "\(drawn.legend)")
    }

    /// `--chart FILE.html` writes a page for a browser that holds the same SVG.
    @Test func anHTMLChartHoldsTheSVG() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec", ChartTests.story]).status == 0)
        #expect(try cli.run(["metrics", "--chart", cli.dir + "/mrr.svg"]).status == 0)
        let r = try cli.run(["metrics", "--chart", cli.dir + "/mrr.html"])
        #expect(r.status == 0)
        #expect(r.stderr == "chart: 6 periods drawn into \(cli.dir)/mrr.html\n")
        let svg = try String(contentsOfFile: cli.dir + "/mrr.svg", encoding: .utf8)
        let html = try String(contentsOfFile: cli.dir + "/mrr.html", encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains(svg))
        // Self-contained: nothing fetched from elsewhere.
        #expect(!html.contains("<script") && !html.contains("href=") && !svg.contains("@import") && !svg.contains("url("))
        let drawn = try ChartTests.render(svg: svg, in: cli.dir)
        #expect(drawn.points == 6)
        #expect(drawn.bars == 12)  // Jan 1, Feb 4, Mar 3, Apr 2, May 2
    }
}
