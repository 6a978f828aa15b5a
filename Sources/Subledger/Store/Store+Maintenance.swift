extension Store {
    /// Rebuilds the views from the log, blue/green: the log is folded afresh, written into
    /// fresh tables, caught up with the events appended meanwhile, and switched in at once.
    /// Readers and writers, in this process or others, keep working throughout and see the old
    /// views or the new ones, never a mix. `last_seen` lives outside the views and survives.
    ///
    /// `views` names the views asked for (all when empty); they share one fold, so all are
    /// rebuilt together. Returns the number of events folded.
    ///
    /// ```swift
    /// try store.rebuild { done, total in print("\(done)/\(total)") }
    /// ```
    @discardableResult
    public func rebuild(views names: [String] = [],
                        progress: ((_ done: UInt64, _ total: UInt64) -> Void)? = nil) throws(StoreError) -> UInt64 {
        for name in names where !viewNames.contains(name) { throw StoreError.unknownView(name) }
        return try run { try storage.rebuild(progress: progress) }
    }

    /// Drops every snapshot and takes them again from the whole log.
    public func rebuildSnapshots() throws(StoreError) {
        try run { try storage.rebuildSnapshots() }
    }

    /// Checks the whole store in one consistent read: recomputes the hash chain from
    /// position 1, checks that positions are gapless, that stream versions count up and the
    /// stream and command indexes hold exactly the log's events, that the head record matches,
    /// and folds the log afresh to compare every view and snapshot with what is stored. Stops
    /// at the first fault. Corrupt bytes are a fault reported, never a crash.
    ///
    /// ```swift
    /// let report = try store.verify()
    /// if let fault = report.fault { print("fault: \(fault)") }
    /// ```
    public func verify(progress: ((_ done: UInt64, _ total: UInt64) -> Void)? = nil) throws(StoreError) -> VerifyReport {
        try run { try storage.verify(progress: progress) }
    }

    /// Events, streams, sizes and per-type counts.
    public func stats() throws(StoreError) -> StoreStats {
        try run { try storage.stats() }
    }

    /// Writes the whole log as JSON Lines, one event a line, exactly as `replay --json` prints
    /// it: every envelope field, positions, hashes in hex, and `data` in its stored schema.
    /// The bytes are deterministic, so export → import → export gives the same file.
    ///
    /// ```swift
    /// try store.export { line in output.append(contentsOf: line) }
    /// ```
    public func export(progress: ((_ done: UInt64, _ total: UInt64) -> Void)? = nil,
                       _ write: ([UInt8]) throws -> Void) throws {
        let total = try head().position
        // Every line is written straight into this one buffer: no array per event.
        var out = JSONWriter(capacity: 1 << 17)
        try forEachEvent { event in
            event.writeJSON(to: &out)
            out.endLine()
            if out.bytes.count >= 1 << 16 {
                try write(out.bytes)
                out.bytes.removeAll(keepingCapacity: true)
            }
            if event.position % 65_536 == 0 { progress?(event.position, total) }
            return true
        }
        if !out.bytes.isEmpty { try write(out.bytes) }
    }

    /// Fills an empty store with an exported log, all or nothing: every line is checked (JSON,
    /// gapless positions from 1, the hash recomputed from the bytes and equal to the one given,
    /// stream versions consecutive, command ids unique, `at` never going back, a known event
    /// schema) inside one write transaction, and the first fault names its line and leaves the
    /// store empty. Then the views and the snapshots are built. Returns the number of events imported.
    ///
    /// ```swift
    /// let count = try store.importLog(from: LineReader(fd: fileDescriptor))
    /// ```
    @discardableResult
    public func importLog(from reader: LineReader, progress: ((_ done: UInt64) -> Void)? = nil) throws(StoreError) -> UInt64 {
        try run { try storage.importLog(from: reader, progress: progress) }
    }

    /// Writes a consistent, compacted copy of the store (log, views, snapshots, `last_seen`)
    /// into `directory`, a hot backup: it reads one snapshot of the store while other
    /// processes keep reading and writing, and the copy opens as a store of its own.
    /// `directory` is created if missing and must not hold a store yet. Returns the number
    /// of events the copy holds.
    ///
    /// ```swift
    /// let events = try store.backup(to: "/backups/shop-2026-12-01.db")
    /// ```
    @discardableResult
    public func backup(to directory: String) throws(StoreError) -> UInt64 {
        try run { try storage.backup(to: directory) }
    }
}
