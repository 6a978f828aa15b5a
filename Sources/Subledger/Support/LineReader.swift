#if canImport(Glibc)
import Glibc
#endif

/// Reads lines from a file descriptor in chunks, with bounded memory: a line longer than
/// `maxLineBytes` is skipped to its end and reported as too long, never held whole.
public final class LineReader {
    /// One line of input: its 1-based number and bytes (without the newline), or `nil` bytes
    /// when it was longer than the limit.
    public struct Line {
        public var number: Int
        public var bytes: [UInt8]?
    }

    let fd: Int32
    let maxLineBytes: Int
    /// The longest line a reader takes whole by default: a command line's limit.
    public static let defaultMaxLineBytes = 64 * 1024
    var buffer: [UInt8] = []
    var start = 0
    var eof = false
    var lineNumber = 0
    var skippingLongLine = false

    public init(fd: Int32, maxLineBytes: Int = LineReader.defaultMaxLineBytes) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
        buffer.reserveCapacity(1 << 16)
    }

    /// Whether a whole line is buffered, or the input has more bytes ready without blocking.
    public var hasReadyInput: Bool {
        if buffer[start...].contains(0x0A) || eof { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// The next line, or nil at the end of input. Blocks until a line is complete.
    public func next() throws -> Line? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                defer { start = nl + 1 }
                return takeLine(endingAt: nl)
            }
            if eof {
                guard start < buffer.count || skippingLongLine else { return nil }
                defer { start = buffer.count }
                return takeLine(endingAt: buffer.count)
            }
            // Keep memory bounded: drop a line that has grown past the limit (and a final CR),
            // remembering it.
            if buffer.count - start > maxLineBytes + 1 {
                skippingLongLine = true
                start = buffer.count
            }
            if start > 0 {
                buffer.removeSubrange(0..<start)
                start = 0
            }
            try fill()
        }
    }

    /// The line from `start` to `end` (a newline, or the end of input), without a final CR.
    private func takeLine(endingAt end: Int) -> Line {
        lineNumber += 1
        var end = end
        if end > start, buffer[end - 1] == 0x0D { end -= 1 }
        let tooLong = skippingLongLine || end - start > maxLineBytes
        skippingLongLine = false
        return Line(number: lineNumber, bytes: tooLong ? nil : Array(buffer[start..<end]))
    }

    func fill() throws {
        let chunk = 1 << 16
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + old, chunk) }
        if n < 0 {
            buffer.removeLast(chunk)
            if errno == EINTR { return }
            throw InputError(description: "cannot read input: \(String(cString: strerror(errno)))")
        }
        buffer.removeLast(chunk - n)
        if n == 0 { eof = true }
    }
}

/// Input that could not be read, in one line.
struct InputError: Error, CustomStringConvertible {
    let description: String
}
