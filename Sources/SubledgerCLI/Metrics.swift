import ArgumentParser
import Subledger
#if canImport(Glibc)
import Glibc
#endif

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Subscription metrics: MRR and its movements, subscribers and seats, per period.",
        discussion: """
        One row per UTC calendar period (--every day, week or month; weeks are ISO weeks,
        Monday to Sunday), from the period of the first event to that of the newest, or the
        periods containing --from and --to. Amounts are in cents in --json and --csv, in
        currency units in the table. See docs/metrics.md for every definition.

        Examples:
          subledger metrics
          subledger metrics --every week --from 2026-01-01T00:00:00Z --json
          subledger metrics --plan pro --csv > pro.csv
          subledger metrics --chart mrr.svg
        """)

    @OptionGroup var location: StoreLocation
    @Option(help: "The first row is the period containing this time (RFC 3339).") var from: String?
    @Option(help: "The last row is the period containing this time (RFC 3339).") var to: String?
    @Option(help: "The period of a row: day, week (ISO, from Monday) or month.") var every: String?
    @Option(help: "Only subscriptions on this plan: an id, or the name of a plan that exists now.") var plan: String?
    @Flag(help: "Machine output: one JSON array of rows, amounts in cents.") var json = false
    @Flag(help: "Machine output: CSV, a header and one line a row, amounts in cents.") var csv = false
    @Option(help: "Also draw MRR and its movements into FILE (.svg, or .html for a page holding the SVG).")
    var chart: String?

    func run() throws {
        if json && csv { throw Failure(message: "--json and --csv exclude each other") }
        if let chart, !(chart.hasSuffix(".svg") || chart.hasSuffix(".html")) {
            throw Failure(message: "--chart \(chart): the file must end in .svg or .html")
        }
        let query: MetricsQuery
        do { query = try MetricsQuery(from: from, to: to, every: every, plan: plan) } catch { throw Failure(message: error.description) }
        let store = try location.open()
        let rows: [MetricsRow]
        do { rows = try store.metrics(query) } catch { throw Failure(message: error.description) }

        // The chart first: a file that cannot be written fails the command before anything is printed.
        if let chart {
            let title = "MRR by \(query.every)" + (plan.map { " on plan \($0)" } ?? "")
            let text = chart.hasSuffix(".html") ? MetricsChart.html(rows, every: query.every, title: title)
                                                : MetricsChart.svg(rows, every: query.every, title: title)
            guard let file = fopen(chart, "w") else {
                throw Failure(message: "--chart \(chart): cannot write it (\(String(cString: strerror(errno))))")
            }
            let written = fputs(text, file) >= 0
            guard fclose(file) == 0, written else { throw Failure(message: "--chart \(chart): the write failed") }
            Output.info("chart: \(rows.count) periods drawn into \(chart)")
        }

        if json {
            Output.jsonArray(rows) { row, w in row.writeJSON(to: &w) }
        } else if csv {
            Output.line(MetricsRow.keys.joined(separator: ","))
            for row in rows { Output.line(row.cells.joined(separator: ",")) }
        } else if rows.isEmpty {
            Output.info("(no rows: the log is empty)")
        } else {
            let (head, body) = Self.rightAligned([Self.header] + rows.map { Self.cells($0, query.every) })
            Output.table(head, body)
        }
        Output.flush()
    }

    static let header = ["period", "subscribers", "paying", "subscriptions", "mrr", "seats used", "new", "reactivation",
                         "expansion", "contraction", "churn", "net", "new paying", "churned paying", "churn rate"]

    /// The header and rows with every column but the period padded on the left, so that the
    /// table's numbers line up on their last digit.
    static func rightAligned(_ lines: [[String]]) -> (header: [String], rows: [[String]]) {
        var widths = Array(repeating: 0, count: header.count)
        for line in lines { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
        let padded = lines.map { line in
            line.enumerated().map { i, cell in i == 0 ? cell : String(repeating: " ", count: widths[i] - cell.count) + cell }
        }
        return (padded[0], Array(padded.dropFirst()))
    }

    /// A row for people: amounts in currency units, the rate in percent.
    static func cells(_ r: MetricsRow, _ every: MetricsPeriod) -> [String] {
        let net = r.netMRRChangeCents
        let rate = r.subscriberChurnRate.map { rate -> String in
            let tenths = Int((rate * 1000).rounded())
            return "\(tenths / 10).\(tenths % 10)%"
        } ?? "-"
        return [r.periodLabel(every), String(r.subscribers), String(r.payingSubscribers), String(r.activeSubscriptions),
                MetricsRow.amount(r.mrrCents), "\(r.teamSeatsUsed)/\(r.teamSeats)", MetricsRow.amount(r.newMRRCents),
                MetricsRow.amount(r.reactivationMRRCents), MetricsRow.amount(r.expansionMRRCents),
                MetricsRow.amount(r.contractionMRRCents), MetricsRow.amount(r.churnMRRCents),
                (net > 0 ? "+" : "") + MetricsRow.amount(net), String(r.newPayingSubscribers),
                String(r.churnedPayingSubscribers), rate]
    }
}
