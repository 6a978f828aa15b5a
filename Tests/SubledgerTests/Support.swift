import Foundation
import Testing
@testable import Subledger
import LMDB
import PostgresNIO
@_exported import TestSupport

/// The storage backends the conformance suite (`Tests/SubledgerTests/Conformance`) runs every
/// test on: the rules, the properties, integrity and as-of. A new backend is one more case.
/// PostgreSQL runs when `SUBLEDGER_TEST_POSTGRES` names a server (`tools/with-postgres` starts
/// a private one; `tools/test` runs the suite inside it).
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case lmdb
    case postgres

    static var all: [Backend] { postgresServer == nil ? [.lmdb] : [.lmdb, .postgres] }

    static var postgresServer: String? { ProcessInfo.processInfo.environment["SUBLEDGER_TEST_POSTGRES"] }

    var testDescription: String { rawValue }

    /// Where this backend keeps a store made for the scratch directory `dir`: a directory in it,
    /// or a ledger (schema) of its own on the test server.
    func location(in dir: String) -> String {
        switch self {
        case .lmdb: dir + "/store"
        case .postgres:
            (Backend.postgresServer ?? "postgresql://") + "&ledger=t_" + String(dir.split(separator: "/").last ?? "x")
                .map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined().suffix(40)
        }
    }

    /// A store of this backend for `dir` (new, or the one made for it before).
    func open(in dir: String, options: StoreOptions = .init()) throws -> Store {
        try Store.open(location(in: dir), options: options)
    }

    /// Removes what the store of `dir` left on a server.
    func remove(in dir: String) {
        guard self == .postgres, let location = try? PostgresLocation(parsing: location(in: dir)),
              let session = try? PostgresSession(location) else { return }
        try? session.execute("DROP SCHEMA IF EXISTS \(location.schema) CASCADE")
        session.close()
    }
}

/// A fresh store in a temporary directory, removed when the test ends.
final class TempStore {
    let dir: String
    let store: Store
    let backend: Backend

    /// A store whose clock stands still at 2026-01-01T00:00:00Z and whose generated ids count up
    /// (`ffffffff-0000-4000-8000-<n>`), so that runs are reproducible.
    init(backend: Backend = .lmdb, proxies: [Proxy] = [],
         clock: @escaping @Sendable () -> Timestamp = { Timestamp(microseconds: 1_767_225_600_000_000) },
         snapshotInterval: Int? = nil, deltaMergeFloor: Int = 2) throws {
        dir = TempStore.makeDirectory()
        self.backend = backend
        let ids = IDCounter()
        var options = StoreOptions(proxies: proxies, clock: clock, newID: { ids.next() }, snapshotInterval: snapshotInterval)
        // On LMDB, the changes of a large stream index or view table go to deltas, merged once
        // they hold an eighth of their table: here every table's do, merged from 2 changes on,
        // so that tests read the log and views through deltas and merges throughout.
        options.deltaThreshold = 0
        options.deltaMergeFloor = deltaMergeFloor
        options.deltaMergeChunk = 3  // a merge of more than 3 changes takes several transactions
        options.readAheadBatch = 2  // batches of two or more run beside a thread reading ahead of the writer
        options.readAheadEvents = 0
        store = try backend.open(in: dir, options: options)
    }

    static func makeDirectory() -> String { Scratch("subledger-tests").path }

    deinit {
        // The process keeps an environment open until it is closed (one per path): without
        // this, every store a property shrinks through would hold its three descriptors.
        store.close()
        backend.remove(in: dir)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Executes JSON lines (one per element) and returns their outcomes.
    @discardableResult
    func run(_ lines: String...) throws -> [Outcome] {
        try store.execute(batch: lines.map { CommandDecoder.decode(line: $0) })
    }

    func outcome(_ line: String) throws -> Outcome { try run(line)[0] }

    /// The rule a line is rejected by, or nil when it was not rejected.
    func rule(_ line: String) throws -> String? {
        if case .rejected(let r) = try outcome(line) { return r.rule }
        return nil
    }

    func rows(_ view: String, _ filter: ViewFilter = .init()) throws -> [ViewRow] { try store.rows(of: view, filter: filter) }

    func column(_ view: String, _ key: String, _ filter: ViewFilter = .init()) throws -> [String] {
        try rows(view, filter).map { $0[key]?.text ?? "<missing>" }
    }
}

/// Reproducible ids for tests.
final class IDCounter: @unchecked Sendable {
    private var n: UInt64 = 0
    func next() -> EntityID {
        n += 1
        return EntityID(high: 0xFFFF_FFFF_0000_4000, low: 0x8000_0000_0000_0000 | n)
    }
}

extension Outcome {
    var position: UInt64? { if case .applied(let p, _) = self { p } else { nil } }
    var created: EntityID? { if case .applied(_, let id) = self { id } else { nil } }
    var isApplied: Bool { position != nil }
}

/// A small deterministic generator (SplitMix64), so failures can be reproduced from the seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The LMDB backend behind a store, for the tests that reach below the storage boundary
/// (corrupting a table, reading raw entries).
extension Store {
    var lmdb: LMDBStorage { storage as! LMDBStorage }
    var env: Environment { lmdb.env }
    var log: LogTables { lmdb.log }
    func viewTables(_ txn: some ReadableTransaction) throws -> [ViewDatabase] { try lmdb.viewTables(txn) }
    /// Flips the bits `mask` of one byte (`byte` modulo its length) of the stored event at
    /// `position`, below the API, as damage on disk would.
    func changeStoredEvent(at position: UInt64, byte: Int, mask: UInt8) throws {
        if let postgres = storage as? PostgresStorage {
            try postgres.read { _ in }
            let session = try PostgresSession(postgres.server)
            defer { session.close() }
            var binds = SQLBinds()
            binds.append(Int64(position))
            binds.append(Int64(byte))
            binds.append(Int64(mask))
            try session.execute("""
                UPDATE \(postgres.s).events SET record = set_byte(record, ($2::int8 % length(record))::int,
                  get_byte(record, ($2::int8 % length(record))::int) # $3::int8::int) WHERE position = $1::int8
                """, binds)
            return
        }
        try env.write { txn in
            var bytes = try txn.getBytes(log.events, Keys.position(position))!
            bytes[byte % bytes.count] ^= mask
            try txn.put(log.events, Keys.position(position), bytes)
        }
    }

    /// A digest of everything the store holds: equal digests, equal contents.
    func contentDigest() throws -> [UInt8] { try storage.contentDigest() }
}
