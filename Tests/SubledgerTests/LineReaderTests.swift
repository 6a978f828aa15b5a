import Foundation
import Testing
@testable import Subledger

/// How input bytes become lines: LF or CRLF ends, a final line without one, the length limit.
@Suite struct LineReaderTests {
    /// The lines `bytes` read as, with a small limit: the text, or nil for a line over it.
    func lines(_ bytes: [UInt8], limit: Int = 8) throws -> [String?] {
        let path = FileManager.default.temporaryDirectory.path + "/lines-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let reader = LineReader(fd: fd, maxLineBytes: limit)
        var out: [String?] = []
        while let line = try reader.next() { out.append(line.bytes.map { String(decoding: $0, as: UTF8.self) }) }
        return out
    }

    @Test func endsOfLines() throws {
        #expect(try lines(Array("a\nb\r\nc".utf8)) == ["a", "b", "c"])
        #expect(try lines(Array("a\n\n".utf8)) == ["a", ""])
    }

    // Regressions found by the fuzz harness: a final CR without a newline was kept in the line,
    // and counted against the limit.
    @Test func aFinalCRWithoutNewlineEndsTheLineToo() throws {
        #expect(try lines(Array("a\n\r".utf8)) == ["a", ""])
        #expect(try lines(Array("a\n \t\r".utf8)) == ["a", " \t"])
        #expect(try lines(Array("12345678\r".utf8)) == ["12345678"])
        #expect(try lines(Array("12345678\r\n".utf8)) == ["12345678"])
        #expect(try lines(Array("123456789\r".utf8)) == [nil])
        #expect(try lines(Array("123456789\nx".utf8)) == [nil, "x"])
    }
}
