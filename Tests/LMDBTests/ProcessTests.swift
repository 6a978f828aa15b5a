import Foundation
import LMDB
import Testing

@Suite("Two processes")
struct ProcessTests {
    @Test("another process writes its keys while this one writes others; both sets are visible")
    func concurrentWriters() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("shared")
            let count = 300
            let probe = try Probe(["write", env.path, "probe", String(count)])
            for index in 0..<count {
                try env.write { txn in try txn.put(db, bytes("test-\(index)"), bytes("test \(index)")) }
            }
            let result = probe.wait()
            #expect(result.status == 0, "\(result.output)")
            try env.read { txn throws in
                let probeKeys = try txn.scan(db, from: bytes("probe-"), to: bytes("probe."))
                    .map { String(decoding: $0.key, as: UTF8.self) }
                #expect(probeKeys.count == count)
                #expect(probeKeys.first == "probe-00000000")
                #expect(text(try txn.get(db, bytes("probe-00000299"))) == "probe 299")
                let testKeys = try txn.scan(db, from: bytes("test-"), to: bytes("test.")).map { _ in 1 }
                #expect(testKeys.count == count)
                #expect(try txn.entries(db) == 2 * count)
            }
        }
    }

    @Test("a leaf page damaged so that liblmdb's own check fails ends the reading process as it was told, else silently by SIGABRT")
    func damagedPage() throws {
        try withEnvironment { env, _ throws in
            let db = try env.database("pages")
            // Values unique enough to find in the file: about 30 to a page, so a branch over many leaves.
            func value(_ n: UInt64) -> [UInt8] { bytes("value \(n) " + String(repeating: "\(n % 10)", count: 100)) }
            try env.write { txn in for n in 0..<2_000 as Range<UInt64> { try txn.put(db, key(n), value(n)) } }
            // A scan steps onto the second leaf, marked a branch, and liblmdb's assertion fails.
            let flags = try LMDBPages.markSecondLeafAsBranch(file: env.path + "/data.mdb", values: (0..<2_000).map(value))
            #expect(flags == 0x02)

            let told = try Probe(["scan", env.path, "pages", "the file is damaged"]).wait()
            #expect(told.status == 3)
            #expect(told.output == "the file is damaged\n")
            // Swift's own crash report, turned off as verify's child turns it off.
            let silent = try Probe(["scan", env.path, "pages"], environment: ["SWIFT_BACKTRACE": "enable=no"]).wait()
            #expect(silent.reason == .uncaughtSignal && silent.status == SIGABRT)
            #expect(silent.output.isEmpty, "liblmdb's assertion names its source: \(silent.output)")
        }
    }

    @Test("the probe executable is found next to the test binary")
    func probeExists() throws {
        #expect(FileManager.default.isExecutableFile(atPath: try probeURL().path))
    }
}
