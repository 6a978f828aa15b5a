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

    @Test("the probe executable is found next to the test binary")
    func probeExists() throws {
        #expect(FileManager.default.isExecutableFile(atPath: try probeURL().path))
    }
}
