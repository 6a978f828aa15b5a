/// Draws `metrics` rows as a self-contained SVG (no scripts, no external fonts or files): MRR
/// over the periods as a line with a point a period, and below it the movements as stacked
/// bars, gains (new, reactivation, expansion) up from zero and losses (contraction, churn) down,
/// each panel with its axis in currency units, the periods' dates beneath, and a legend.
///
/// ```swift
/// let svg = MetricsChart.svg(try store.metrics(MetricsQuery()), every: .month, title: "MRR by month")
/// ```
/// Elements carry classes a test or a stylesheet can find: `point` (one circle a period),
/// `mrr-line`, `bar` (one rect a non-zero movement, with `data-kind`), `x-label`, `y-label`,
/// `legend`.
public enum MetricsChart {
    static let width = 1000.0, height = 620.0
    static let left = 96.0, right = 24.0
    static let mrrTop = 96.0, mrrBottom = 320.0
    static let barsTop = 368.0, barsBottom = 556.0

    /// The movements in drawing order (gains up, then losses down), with their colours.
    static let kinds: [(kind: MovementKind, label: String, colour: String, gain: Bool)] = [
        (.new, "New", "#2e9e4f", true), (.reactivation, "Reactivation", "#7bc86c", true),
        (.expansion, "Expansion", "#2b7bb9", true), (.contraction, "Contraction", "#f0a030", false),
        (.churn, "Churn", "#d8402b", false),
    ]

    /// Cents as the chart computes them: in floating point, so that no sum of absurd prices traps.
    static func cents(_ row: MetricsRow, _ kind: MovementKind) -> Double {
        Double(centsValue(row, kind))
    }

    static func centsValue(_ row: MetricsRow, _ kind: MovementKind) -> Int64 {
        switch kind {
        case .new: row.newMRRCents
        case .reactivation: row.reactivationMRRCents
        case .expansion: row.expansionMRRCents
        case .contraction: row.contractionMRRCents
        case .churn: row.churnMRRCents
        }
    }

    /// An HTML page holding the chart, for a browser.
    public static func html(_ rows: [MetricsRow], every: MetricsPeriod, title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body { margin: 16px; background: #fff; }</style></head>
        <body>
        \(svg(rows, every: every, title: title))
        </body></html>

        """
    }

    /// The chart as one SVG document.
    public static func svg(_ rows: [MetricsRow], every: MetricsPeriod, title: String) -> String {
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
        viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="#ffffff"/>
        <text x="\(left)" y="28" font-size="18" font-weight="bold" fill="#222">\(escape(title))</text>

        """
        legend(&out)
        guard !rows.isEmpty else {
            out += ##"<text x="\##(width / 2)" y="\##(height / 2)" text-anchor="middle" fill="#666">no periods to show: the log is empty</text>"## + "\n</svg>\n"
            return out
        }
        let plotWidth = width - left - right
        let band = plotWidth / Double(rows.count)
        func x(_ i: Int) -> Double { left + band * (Double(i) + 0.5) }

        // MRR: 0 up to a round maximum.
        let mrrScale = Scale(low: 0, high: Double(rows.map(\.mrrCents).max() ?? 0))
        func yMRR(_ c: Double) -> Double { mrrBottom - (mrrBottom - mrrTop) * mrrScale.fraction(c) }
        out += panelTitle("MRR at the end of each period", y: mrrTop - 12)
        axis(&out, mrrScale, y: yMRR)

        // Movements: losses below zero, gains above.
        let gains = rows.map { r in kinds.filter(\.gain).reduce(0.0) { $0 + cents(r, $1.kind) } }
        let losses = rows.map { r in kinds.filter { !$0.gain }.reduce(0.0) { $0 + cents(r, $1.kind) } }
        let barScale = Scale(low: -(losses.max() ?? 0), high: gains.max() ?? 0)
        func yBar(_ c: Double) -> Double { barsBottom - (barsBottom - barsTop) * barScale.fraction(c) }
        out += panelTitle("MRR movements in each period (gains up, losses down)", y: barsTop - 12)
        axis(&out, barScale, y: yBar)

        let barWidth = min(band * 0.6, 48)
        for (i, row) in rows.enumerated() {
            var up = 0.0, down = 0.0
            for k in kinds {
                let c = cents(row, k.kind)
                guard c > 0 else { continue }
                let (from, to) = k.gain ? (up, up + c) : (-down, -down - c)
                if k.gain { up += c } else { down += c }
                let top = yBar(max(from, to)), bottom = yBar(min(from, to))
                out += """
                <rect class="bar" data-kind="\(k.kind.rawValue)" x="\(fmt(x(i) - barWidth / 2))" y="\(fmt(top))" \
                width="\(fmt(barWidth))" height="\(fmt(max(bottom - top, 1)))" fill="\(k.colour)">\
                <title>\(row.periodLabel(every)) \(k.label.lowercased()) \(k.gain ? "+" : "-")\(MetricsRow.amount(centsValue(row, k.kind)))</title></rect>

                """
            }
        }
        out += ##"<line x1="\##(left)" x2="\##(width - right)" y1="\##(fmt(yBar(0)))" y2="\##(fmt(yBar(0)))" stroke="#555" stroke-width="1"/>"## + "\n"

        // The MRR line over the bars' periods, a point a period.
        let points = rows.indices.map { "\(fmt(x($0))),\(fmt(yMRR(Double(rows[$0].mrrCents))))" }.joined(separator: " ")
        out += ##"<polyline class="mrr-line" points="\##(points)" fill="none" stroke="#5b3fa8" stroke-width="2.5" stroke-linejoin="round"/>"## + "\n"
        for (i, row) in rows.enumerated() {
            out += """
            <circle class="point" cx="\(fmt(x(i)))" cy="\(fmt(yMRR(Double(row.mrrCents))))" r="\(band >= 8 ? 4 : 2)" fill="#5b3fa8">\
            <title>\(row.periodLabel(every)) MRR \(MetricsRow.amount(row.mrrCents))</title></circle>

            """
        }

        // Dates beneath, as many as fit side by side (about 7 px a character).
        let labelWidth = Double(rows[0].periodLabel(every).count) * 7.5 + 12
        let step = max(1, Int((labelWidth / band).rounded(.up)))
        for i in stride(from: 0, to: rows.count, by: step) {
            out += ##"<text class="x-label" x="\##(fmt(x(i)))" y="\##(fmt(barsBottom + 22))" text-anchor="middle" fill="#333">\##(rows[i].periodLabel(every))</text>"## + "\n"
            out += ##"<line x1="\##(fmt(x(i)))" x2="\##(fmt(x(i)))" y1="\##(fmt(barsBottom))" y2="\##(fmt(barsBottom + 6))" stroke="#555"/>"## + "\n"
        }
        out += ##"<text x="\##(left + plotWidth / 2)" y="\##(fmt(height - 12))" text-anchor="middle" fill="#555">\##(every == .week ? "week (starting Monday, UTC)" : every == .day ? "day (UTC)" : "month (UTC)")</text>"## + "\n"
        out += "</svg>\n"
        return out
    }

    static func legend(_ out: inout String) {
        out += "<g class=\"legend\">\n"
        var x = left
        let y = 56.0
        out += ##"<line x1="\##(x)" x2="\##(x + 24)" y1="\##(y - 4)" y2="\##(y - 4)" stroke="#5b3fa8" stroke-width="2.5"/><circle cx="\##(x + 12)" cy="\##(y - 4)" r="4" fill="#5b3fa8"/>"##
        out += ##"<text x="\##(x + 30)" y="\##(y)" fill="#222">MRR</text>"## + "\n"
        x += 80
        for k in kinds {
            out += ##"<rect x="\##(x)" y="\##(y - 10)" width="12" height="12" fill="\##(k.colour)"/>"##
            let label = "\(k.label) (\(k.gain ? "gain" : "loss"))"
            out += ##"<text x="\##(x + 18)" y="\##(y)" fill="#222">\##(label)</text>"## + "\n"
            x += Double(label.count) * 7 + 40
        }
        out += ##"<text x="\##(width - right)" y="28" text-anchor="end" fill="#666">amounts in currency units (cents / 100)</text>"## + "\n"
        out += "</g>\n"
    }

    static func panelTitle(_ text: String, y: Double) -> String {
        ##"<text x="\##(left)" y="\##(fmt(y))" font-size="13" font-weight="bold" fill="#444">\##(text)</text>"## + "\n"
    }

    /// Grid lines and labels of a panel's vertical axis.
    static func axis(_ out: inout String, _ scale: Scale, y: (Double) -> Double) {
        out += ##"<line x1="\##(left)" x2="\##(left)" y1="\##(fmt(y(scale.high)))" y2="\##(fmt(y(scale.low)))" stroke="#555"/>"## + "\n"
        for tick in scale.ticks {
            let ty = y(tick)
            out += ##"<line x1="\##(left)" x2="\##(width - right)" y1="\##(fmt(ty))" y2="\##(fmt(ty))" stroke="#e3e3e3"/>"##
            out += ##"<text class="y-label" x="\##(left - 8)" y="\##(fmt(ty + 4))" text-anchor="end" fill="#333">\##(scale.label(tick))</text>"## + "\n"
        }
    }

    /// A vertical scale in cents from a round low to a round high, with ticks between.
    struct Scale {
        var low: Double, high: Double, step: Double

        init(low: Double, high: Double) {
            // Steps of 1, 2 or 5 times a power of ten, at least a cent, about 4 to a panel.
            let span = max(high - low, 100)
            var unit = 1.0
            while unit * 10 <= span / 4 { unit *= 10 }
            let step = [1.0, 2, 5, 10].map { unit * $0 }.first { span / $0 <= 5 } ?? unit * 10
            self.step = step
            self.low = low < 0 ? -(-low / step).rounded(.up) * step : 0
            self.high = max((high / step).rounded(.up) * step, low < 0 ? 0 : step)
        }

        var ticks: [Double] {
            let n = Int(((high - low) / step).rounded())
            return (0...n).map { low + Double($0) * step }
        }

        func fraction(_ c: Double) -> Double { (c - low) / (high - low) }

        /// Whole currency units when the step is, else with cents.
        func label(_ c: Double) -> String {
            // Beyond 2^53 cents the figure is not exact anyway (and past Int64 it would not convert).
            guard abs(c) < 9e15 else { return String(c / 100) }
            return MetricsRow.amount(Int64(c.rounded()), cents: step.truncatingRemainder(dividingBy: 100) != 0)
        }
    }

    static func fmt(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(abs(tenths % 10))"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
