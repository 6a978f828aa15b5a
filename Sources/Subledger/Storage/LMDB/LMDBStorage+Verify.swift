import LMDB

extension LMDBStorage {
    func verify(progress: ((_ done: UInt64, _ total: UInt64) -> Void)?) throws(StoreError) -> VerifyReport {
        do {
            return try env.read { txn in try verify(txn, progress: progress) }
        } catch let error as StoreError {
            throw error
        } catch let error as LMDBError {
            // A damaged page that LMDB noticed is a finding, not a failure of verify itself.
            return VerifyReport(events: 0, tables: 0, fault: VerifyFault(area: "storage", message: error.description))
        } catch {
            throw StoreError.wrap(error)
        }
    }

    private func verify(_ txn: ReadTransaction, progress: ((UInt64, UInt64) -> Void)?) throws -> VerifyReport {
        let head = try log.head(txn)
        var report = VerifyReport(events: 0, tables: 0, fault: nil)
        func fault(_ position: UInt64?, _ area: String, _ message: String) -> VerifyReport {
            report.fault = VerifyFault(position: position, area: area, message: message)
            return report
        }
        var fold = ViewFold(proxies: proxies)
        // Snapshots marked stale by a writer with other proxies are taken again on open, not checked.
        let snapshots = try log.snapshotState(txn).flatMap { $0.version == SnapshotKeys.version && $0.proxies == proxiesSignature ? $0 : nil }
        let folded = MemoryViews(proxies: proxies, tracksChanges: snapshots != nil)
        let counts = log.sizingCounts(txn)
        if let counts { folded.reserve(for: counts) }
        var expectedSnapshots: [UInt64: SnapshotDigest] = [:]
        var chain = ChainCheck(reserving: counts?.streams ?? 0)
        var indexes = try LogIndexCheck(head: head.position, log, txn)
        var release = PageRelease(env)
        var storedSnapshots = try snapshots.map { try StoredSnapshots($0, tables: fold.tableCount, log, txn) }
        let events = try txn.scan(log.events, from: nil, to: nil, reverse: false)
        var expected: UInt64 = 1
        // The fresh fold runs on a second core, behind the checks of the log on this one.
        let logFault = try Pipeline<FoldBatch>.run(consume: { batch in
            try folded.forEachEvent(in: batch) { event in
                try fold.apply(event, to: folded)
                if let snapshots, event.position % snapshots.interval == 0 {
                    // Each entry is written into the same two buffers and digested, not collected.
                    var digest = SnapshotDigest(), key: [UInt8] = [], value: [UInt8] = []
                    folded.forEachChange { table, position, row in
                        key.removeAll(keepingCapacity: true)
                        value.removeAll(keepingCapacity: true)
                        SnapshotKeys.appendKey(table, position: position, at: event.position, to: &key)
                        SnapshotKeys.appendValue(row, to: &value)
                        digest.add(key, value)
                    }
                    if event.position <= snapshots.checkpoint { expectedSnapshots[event.position] = digest }
                }
            }
        }) { send -> VerifyReport? in
            // The indexes and the stored snapshots are read while the fold is busy with batches sent.
            func sendWhenRoom(_ batch: FoldBatch) throws -> Bool {
                while true {
                    if let sent = send.trySend(batch) { return sent }
                    if try !indexes.step(1024, &release), try !(storedSnapshots?.step(1024, &release) ?? false) { return send(batch) }
                }
            }
            var batch = FoldBatch(capacity: 1024)
            while let (key, value) = try events.nextEntry() {
                guard key.count == 8 else { return fault(nil, "log", "a key of \(key.count) bytes is not a position") }
                let p = Keys.readPosition(key)
                guard p == expected else {
                    return fault(expected, "log", "position \(expected) is missing (the next stored event is at \(p))")
                }
                let event: RecordedEvent
                do { event = try chain.check(value, at: p) } catch let f as ChainCheck.Fault { return fault(f.position, f.area, f.message) }
                indexes.record(event)
                batch.append(event)
                if batch.count == 1024 {
                    guard try sendWhenRoom(batch) else { return nil }
                    batch = FoldBatch(capacity: 1024)
                }
                report.events = p
                try release.read()
                if p % 65_536 == 0 { progress?(p, head.position) }
                expected += 1
            }
            if let error = events.error { throw error }
            _ = send(batch)
            // While the fold finishes on the other core.
            if let f = try indexes.finish(log, txn, &release) { return fault(f.position, f.area, f.message) }
            while try storedSnapshots?.step(4096, &release) ?? false {}
            return nil
        }
        if let logFault { return logFault }
        guard report.events == head.position else {
            return fault(nil, "head", "the head record says position \(head.position), the log ends at \(report.events)")
        }
        guard head.hash == chain.previous.bytes else { return fault(head.position, "head", "the head record's hash is not the last event's") }
        progress?(head.position, head.position)
        // Every view table against the fresh fold, entry by entry: each table is packed here
        // (rows encoded, index entries derived and sorted) while the one before it is compared
        // on a second core. The read transaction is used by one thread at a time (MDB_NOTLS).
        let names = BaseTable.allCases.map(\.name) + proxies.map { "proxy \($0.name)" }
        let tables = try viewTables(txn)
        var viewFault: VerifyReport?
        do {
            try Pipeline<(slot: Int, want: PackedTable)>.run(depth: 1, consume: { job in
                let (t, want) = job
                let stored = try tables[t].scan(txn)
                func found(_ message: String) throws -> Never {
                    viewFault = fault(nil, "view \(names[t])", message)
                    throw VerifyStop()
                }
                var i = 0
                do {
                    while let (key, value) = try stored.nextEntry() {
                        guard i < want.count else { try found("stored entry \(hex(Array(key))) is not in a fresh fold of the log") }
                        let (sameKey, sameValue) = want.withEntry(i) { k, v in (key.sameBytes(as: k), value.sameBytes(as: v)) }
                        guard sameKey else {
                            let (a, b) = (Array(key), want.entry(i).key)
                            try found(a.lexicographicallyPrecedes(b) ? "stored entry \(hex(a)) is not in a fresh fold of the log"
                                                                     : "entry \(hex(b)) of a fresh fold is missing")
                        }
                        guard sameValue else { try found("entry \(hex(Array(key))) differs from a fresh fold of the log") }
                        i += 1
                        try release.read()
                    }
                } catch StoreError.corrupt(let message) {
                    try found(message)
                }
                guard i == want.count else { try found("entry \(hex(want.entry(i).key)) of a fresh fold is missing") }
                report.tables += 1
            }) { send in
                for t in tables.indices where !send((t, folded.packed(ViewTable(slot: t)))) { return }
            }
        } catch is VerifyStop {}
        if let viewFault { return viewFault }
        if let snapshots {
            if let (area, message) = storedSnapshots?.fault { return fault(nil, area, message) }
            if let (at, message) = compareSnapshots(snapshots, expected: expectedSnapshots, stored: storedSnapshots?.windows ?? [:]) { return fault(at, "snapshot", message) }
            // The rows changed after the newest snapshot position wait for the next one.
            let pending = Set(folded.takeChanges().map { LogTables.pendingKey($0.table, $0.position) })
            let stored = Set(try txn.scan(log.pendingSnapshot).map { Array($0.key) })
            if pending != stored {
                return fault(nil, "snapshot", "\(stored.count) rows wait for the next snapshot, a fresh fold of the log gives \(pending.count)"
                                             + (stored.count == pending.count ? ", and they differ" : ""))
            }
            let expectedLinks = folded.sortedLinks()
            var links = SnapshotDigest()
            for i in 0..<expectedLinks.count { expectedLinks.withEntry(i) { key, value in links.add(key, value) } }
            if links != storedSnapshots?.links { return fault(nil, "snapshot links", try findLinkFault(expectedLinks, snapshots, txn)) }
        }
        return report
    }

    /// The stored snapshots, read into a digest per window, and the stored links into one
    /// digest, a slice at a time; or what is wrong with a stored key. It needs no fold, so it
    /// runs while the fold does.
    fileprivate struct StoredSnapshots {
        let state: SnapshotState
        let tables: Int
        var windows: [UInt64: SnapshotDigest] = [:]
        var links = SnapshotDigest()
        var fault: (area: String, message: String)?
        /// Every snapshot slot, each with the snapshots its entries may belong to (none for a
        /// slot no run lists); then every link slot, with whether a run is listed there.
        private var entries: SlotReader<ClosedRange<UInt64>?>
        private var linkEntries: SlotReader<Bool>

        init(_ state: SnapshotState, tables: Int, _ log: LogTables, _ txn: ReadTransaction) throws {
            self.state = state
            self.tables = tables
            var after: UInt64 = 0
            var listed: [Int: ClosedRange<UInt64>] = [:]
            for run in state.runs {
                listed[run.slot] = (after + 1)...run.through
                after = run.through
            }
            entries = SlotReader(log.snapshotSlots, txn) { listed[$0] }
            let linked = Set(state.linkRuns.map(\.slot))
            linkEntries = SlotReader(log.linkSlots, txn) { linked.contains($0) }
        }

        /// Reads up to `count` more entries; false once all are read (or a fault is found).
        mutating func step(_ count: Int, _ release: inout PageRelease) throws -> Bool {
            guard fault == nil else { return false }
            for _ in 0..<count {
                if let (slot, held, (key, value)) = try entries.next() {
                    guard let held else {
                        fault = ("snapshot", "\(SnapshotRuns.name(ofSlot: slot)) holds entry \(hex(Array(key))), and the snapshot record lists no run there")
                        return false
                    }
                    guard SnapshotKeys.table(of: key) != nil else {
                        fault = ("snapshot", "stored entry \(hex(Array(key))) is not a snapshot key")
                        return false
                    }
                    let at = SnapshotKeys.snapshot(of: key)
                    guard at > 0, at % state.interval == 0, at <= state.checkpoint, held.contains(at) else {
                        fault = ("snapshot", "stored entry \(hex(Array(key))) belongs to no snapshot its run holds (every \(state.interval) events in \(held.lowerBound)...\(held.upperBound), taken through \(state.checkpoint))")
                        return false
                    }
                    windows[at, default: SnapshotDigest()].add(key, value)
                } else if let (slot, listed, (key, _)) = try linkEntries.next() {
                    guard listed else {
                        fault = ("snapshot links", "\(SnapshotRuns.name(ofLinkSlot: slot)) holds link \(hex(Array(key))), and the snapshot record lists no run there")
                        return false
                    }
                    guard SnapshotLinks.isLink(key, tables: tables) else {
                        fault = ("snapshot links", "stored entry \(hex(Array(key))) is not a link")
                        return false
                    }
                    links.add(key, UnsafeRawBufferPointer(start: nil, count: 0))
                } else {
                    return false
                }
                try release.read()
            }
            return true
        }
    }

    /// The entries of every database of a list of slots, slot after slot, each with what the
    /// snapshot record says of its slot.
    fileprivate struct SlotReader<Listing> {
        private let databases: [Database]
        private let txn: ReadTransaction
        private let listing: (Int) -> Listing
        private var nextSlot = 0
        private var reading: (slot: Int, listing: Listing, entries: CursorSequence)?

        init(_ databases: [Database], _ txn: ReadTransaction, listing: @escaping (Int) -> Listing) {
            self.databases = databases
            self.txn = txn
            self.listing = listing
        }

        /// The next entry with its slot and that slot's listing; nil once every slot is read.
        mutating func next() throws -> (slot: Int, listing: Listing, entry: Cursor.Entry)? {
            while true {
                if let (slot, listed, entries) = reading {
                    if let entry = try entries.nextEntry() { return (slot, listed, entry) }
                    if let error = entries.error { throw error }
                    reading = nil
                }
                guard nextSlot < databases.count else { return nil }
                reading = (nextSlot, listing(nextSlot), try txn.scan(databases[nextSlot], from: nil, to: nil, reverse: false))
                nextSlot += 1
            }
        }
    }

    /// The first window (by position) whose stored entries differ from the fresh fold's, with
    /// what is wrong, or nil.
    private func compareSnapshots(_ state: SnapshotState, expected: [UInt64: SnapshotDigest],
                                  stored: [UInt64: SnapshotDigest]) -> (UInt64?, String)? {
        for at in stride(from: state.interval, through: state.checkpoint, by: Int(state.interval)) {
            let want = expected[at] ?? SnapshotDigest(), have = stored[at] ?? SnapshotDigest()
            guard want == have else {
                return (at, "the snapshot holds \(have.count) entries, a fresh fold of the log gives \(want.count)"
                            + (want.count == have.count ? ", and they differ" : ""))
            }
        }
        return nil
    }
}

extension LMDBStorage {
    /// Compares the stored links with those of a fresh fold: every row a relation or a proxy
    /// ever listed, no more, no less. Only once their digests differ: it reads the table again
    /// to say which link is wrong.
    fileprivate func findLinkFault(_ expected: PackedTable, _ state: SnapshotState, _ txn: ReadTransaction) throws -> String {
        // Both in key order: the first place they part says which link.
        var i = 0
        let stored = try SnapshotRuns.entries(of: state.linkRuns, log.linkSlots, txn)
        while let (key, _) = try stored.nextEntry() {
            guard i < expected.count, expected.withEntry(i, { k, _ in key.sameBytes(as: k) }) else {
                let have = Array(key)
                if i < expected.count, expected.entry(i).key.lexicographicallyPrecedes(have) {
                    return "link \(hex(expected.entry(i).key)) of a fresh fold of the log is missing"
                }
                return "link \(hex(have)) is not in a fresh fold of the log"
            }
            i += 1
        }
        guard i < expected.count else { return "the stored links differ from a fresh fold's" }
        return "link \(hex(expected.entry(i).key)) of a fresh fold of the log is missing"
    }
}

/// An order-free digest of a snapshot's entries: their count and the sum of their hashes.
///
/// The hash mixes eight bytes at a time (multiply, xor-shift; murmur3's finalizer at the end).
/// It guards against damage, not against someone choosing entries, and both sides are
/// digested in one pass of one process. `Hasher` (SipHash) cost half of verify's reading of
/// the stored snapshots.
struct SnapshotDigest: Equatable {
    var count = 0
    var sum: UInt64 = 0

    mutating func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        count += 1
        sum &+= Self.mix(Self.hash(value, seed: Self.hash(key, seed: UInt64(key.count))))
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var h = seed ^ 0x9E37_79B9_7F4A_7C15
        var i = 0
        while i + 8 <= bytes.count {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        while i < bytes.count {
            tail = tail << 8 | UInt64(bytes[i])
            i += 1
        }
        // The length goes in with the tail, so that trailing zero bytes count.
        return (h ^ tail ^ UInt64(bytes.count) << 56) &* 0xC4CE_B9FE_1A85_EC53
    }

    private static func mix(_ x: UInt64) -> UInt64 {
        var h = x
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        return h ^ h >> 33
    }

    mutating func add(_ key: [UInt8], _ value: [UInt8]) {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in add(k, v) } }
    }
}

/// Thrown by verify's comparison of a view table to stop the tables still to come once it
/// found a fault (kept beside it).
private struct VerifyStop: Error {}
