#if canImport(Glibc)
import Glibc
#endif
import Subledger

/// Buffered writes to stdout, and one-line messages to stderr.
enum Output {
    /// What is bound for stdout, written out once it holds 64 KiB. A JSON writer, so that JSON
    /// lines are written straight into it rather than each into an array of its own.
    nonisolated(unsafe) static var buffer = JSONWriter(capacity: 1 << 17)

    static func write(_ bytes: [UInt8]) {
        buffer.bytes.append(contentsOf: bytes)
        if buffer.bytes.count >= 1 << 16 { flush() }
    }

    static func line(_ bytes: [UInt8]) {
        write(bytes)
        buffer.bytes.append(0x0A)
        if buffer.bytes.count >= 1 << 16 { flush() }
    }

    static func line(_ s: String) { line(Array(s.utf8)) }

    /// One JSON Lines record, which `body` writes into the buffer in place.
    static func jsonLine(_ body: (inout JSONWriter) -> Void) {
        body(&buffer)
        buffer.endLine()
        if buffer.bytes.count >= 1 << 16 { flush() }
    }

    static func flush() {
        var offset = 0
        while offset < buffer.bytes.count {
            let n = buffer.bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                // stdout is gone (a closed pipe): leave quietly.
                exit(errno == EPIPE ? 0 : 1)
            }
            offset += n
        }
        buffer.bytes.removeAll(keepingCapacity: true)
    }

    static func error(_ message: String) {
        flush()
        let line = Array(("subledger: " + message + "\n").utf8)
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress!, $0.count) }
    }

    static func info(_ message: String) {
        let line = Array((message + "\n").utf8)
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress!, $0.count) }
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// A cell as a terminal shows it safely: control characters (a newline, an escape
    /// sequence) written as `\u{..}`, as `replay` and the error messages write them.
    static func printable(_ cell: String) -> String {
        guard cell.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return cell }
        var out = ""
        for scalar in cell.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    /// An aligned table with a header, for people.
    static func table(_ header: [String], _ rows: [[String]]) {
        let rows = rows.map { $0.map(printable) }
        var widths = header.map { $0.count }
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func render(_ cells: [String]) -> String {
            var s = ""
            for (i, cell) in cells.enumerated() {
                if i == cells.count - 1 { s += cell } else { s += cell + String(repeating: " ", count: widths[i] - cell.count + 2) }
            }
            return s
        }
        line(render(header))
        for row in rows { line(render(row)) }
    }
}
