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
        flushIfFull()
    }

    static func line(_ bytes: [UInt8]) {
        write(bytes)
        buffer.bytes.append(0x0A)
        flushIfFull()
    }

    static func line(_ s: String) { line(Array(s.utf8)) }

    /// One JSON array on a line, each element written by `body` straight into the buffer and
    /// flushed every 64 KiB: a view of 10^5 rows never exists as one string.
    static func jsonArray<S: Sequence>(_ elements: S, _ body: (S.Element, inout JSONWriter) -> Void) {
        buffer.beginArray()
        for element in elements {
            body(element, &buffer)
            flushIfFull()
        }
        buffer.endArray()
        buffer.endLine()
        flushIfFull()
    }

    /// One JSON Lines record, which `body` writes into the buffer in place.
    static func jsonLine(_ body: (inout JSONWriter) -> Void) {
        body(&buffer)
        buffer.endLine()
        flushIfFull()
    }

    /// Writes the buffer out once it holds 64 KiB.
    private static func flushIfFull() {
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
        writeStderr("subledger: " + message + "\n")
    }

    static func info(_ message: String) { writeStderr(message + "\n") }

    /// Unbuffered: stderr carries one-line messages and progress, which must show at once.
    private static func writeStderr(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress!, $0.count) }
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Clears a progress bar another process left on the terminal's current line.
    static func clearStderrLine() {
        if stderrIsTerminal { writeStderr("\r\u{1B}[K") }
    }

    /// A cell as a terminal shows it safely, and the columns it takes: control characters (a
    /// newline, an escape sequence) written as `\u{..}`, as `replay` and the error messages
    /// write them. One scan of the bytes answers both for most cells (ASCII, no control).
    static func shown(_ cell: String) -> (text: String, width: Int) {
        var bytes = cell
        let (control, ascii) = bytes.withUTF8 { utf8 in
            var control = false, high: UInt8 = 0
            for b in utf8 {
                control = control || b < 0x20 || b == 0x7F
                high |= b
            }
            return (control, high < 0x80)
        }
        guard control else { return (cell, ascii ? cell.utf8.count : cell.count) }
        var out = ""
        for scalar in cell.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
        }
        return (out, out.count)
    }

    /// An aligned table with a header, for people. Each line is written straight into the
    /// buffer, cell by cell: a view of 10^5 rows is printed without a string per line.
    static func table(_ header: [String], _ rows: [[String]]) {
        var widths = header.map { shown($0).width }
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], shown(cell).width) }
        }
        func write(_ cells: [String]) {
            for (i, cell) in cells.enumerated() {
                let (text, width) = shown(cell)
                buffer.bytes.append(contentsOf: text.utf8)
                guard i < cells.count - 1 else { break }
                let pad = (i < widths.count ? widths[i] - width : 0) + 2
                buffer.bytes.append(contentsOf: repeatElement(0x20, count: pad))
            }
            buffer.bytes.append(0x0A)
            flushIfFull()
        }
        write(header)
        for row in rows { write(row) }
    }
}
