// A second process for LMDBTests: acts on an environment the test process has open.
//
//   lmdb-probe write <path> <prefix> <count>            puts <prefix>-00000000… into "shared", one txn each
//   lmdb-probe grow <path> <mapBytes> <dataBytes>       opens with a larger map and fills "probe" past the old one
//   lmdb-probe scan <path> <db> [<line>]                reads all of <db>; with <line>, a damaged page ends the
//                                                       process with that line and exit code 3
import LMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func fail(_ message: String) -> Never {
    let line = "lmdb-probe: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func key(_ prefix: String, _ index: Int) -> [UInt8] {
    let digits = String(index)
    return Array((prefix + "-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits).utf8)
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else { fail("usage: lmdb-probe write|grow|scan <path> …") }
let path = arguments[2]

do {
    switch arguments[1] {
    case "write" where arguments.count == 5:
        guard let count = Int(arguments[4]) else { fail("bad count") }
        let env = try Environment.open(path: path, options: .init(mapSize: 1 << 20))
        let db = try env.database("shared")
        for index in 0..<count {
            try env.write { txn in try txn.put(db, key(arguments[3], index), Array("probe \(index)".utf8)) }
        }
    case "grow" where arguments.count == 5:
        guard let mapBytes = Int(arguments[3]), let dataBytes = Int(arguments[4]) else { fail("bad sizes") }
        let env = try Environment.open(path: path, options: .init(mapSize: mapBytes))
        let db = try env.database("probe")
        let chunk = [UInt8](repeating: 0xab, count: 64 << 10)
        try env.write { txn in
            for index in 0..<(dataBytes / chunk.count) {
                try txn.put(db, key("grow", index), chunk)
            }
        }
        if try env.info.mapSize != mapBytes { fail("map size \(try env.info.mapSize), wanted \(mapBytes)") }
    case "scan" where arguments.count == 4 || arguments.count == 5:
        if arguments.count == 5 { Environment.setDamagedPageExit(line: arguments[4] + "\n", code: 3) }
        let env = try Environment.open(path: path)
        let db = try env.database(arguments[3])
        let count = try env.read { txn in try txn.scan(db, from: nil, to: nil).reduce(0) { n, _ in n + 1 } }
        print("scanned \(count)")
    default:
        fail("unknown command \(arguments[1...].joined(separator: " "))")
    }
    print("ok")
} catch {
    fail("\(error)")
}
