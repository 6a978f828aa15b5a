#if canImport(Glibc)
import Glibc
#endif
import Subledger

/// A live progress line on stderr, only when stderr is a terminal.
final class Progress {
    let enabled: Bool
    let unit: String
    var total: Int?
    let started = Timestamp.now()
    var done = 0
    var lastDrawn = Timestamp(microseconds: 0)

    init(enabled: Bool, unit: String, total: Int? = nil) {
        self.enabled = enabled
        self.unit = unit
        self.total = total
    }

    func advance(by n: Int) {
        done += n
        guard enabled else { return }
        let now = Timestamp.now()
        guard now.microseconds - lastDrawn.microseconds > 200_000 else { return }
        lastDrawn = now
        draw(now)
    }

    func draw(_ now: Timestamp) {
        let seconds = max(Double(now.microseconds - started.microseconds) / 1e6, 0.001)
        let rate = Double(done) / seconds
        var line = "\r\u{1B}[K\(done) \(unit), \(Int(rate))/s"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * 30)
            let left = rate > 0 ? Double(total - done) / rate : 0
            line = "\r\u{1B}[K[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
                + "] \(Int(fraction * 100))% \(done)/\(total) \(unit), \(Int(rate))/s, \(Int(left.rounded()))s left"
        }
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
    }

    /// Sets the count reached (for work that reports its own progress).
    func update(done: UInt64, total: UInt64) {
        self.total = Int(total)
        advance(by: Int(done) - self.done)
    }

    func finish() {
        guard enabled, done > 0 else { return }
        draw(Timestamp.now())
        _ = write(2, "\n", 1)
    }
}
