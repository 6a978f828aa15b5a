import Foundation

/// LMDB's page format, as far as the tests that damage a store on purpose need it.
public enum LMDBPages {
    public struct ValueNotFound: Error {}

    /// Marks as a branch (`P_BRANCH`) the second leaf page of a table: the first page, after the
    /// one holding `values[0]`, that holds one of `values` (the table's values in key order). A
    /// scan that steps onto it fails liblmdb's own check that it is a leaf. Returns the flags the
    /// page had (`P_LEAF`, 0x02, when the page was found as it should be).
    public static func markSecondLeafAsBranch(file: String, values: [[UInt8]]) throws -> UInt8 {
        let url = URL(fileURLWithPath: file)
        var data = try Data(contentsOf: url)
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        func page(_ value: [UInt8]) throws -> Int {
            guard let range = data.range(of: Data(value)) else { throw ValueNotFound() }
            return range.lowerBound / pageSize
        }
        let first = try page(values[0])
        guard let second = try values.dropFirst().lazy.map(page).first(where: { $0 != first }) else { throw ValueNotFound() }
        // The page header: a page number (8 bytes), padding (2), then the flags (2, little-endian).
        let flags = second * pageSize + 10
        let old = data[flags]
        data[flags] = 0x01
        try data.write(to: url)
        return old
    }
}
