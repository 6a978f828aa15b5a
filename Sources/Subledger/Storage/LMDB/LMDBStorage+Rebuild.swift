import LMDB

extension LMDBStorage {
    /// Blue/green: the log is folded in memory, written sorted into the inactive generation's
    /// fresh databases, caught up with the events appended meanwhile, and switched in by one
    /// short write transaction that also empties the old generation.
    func rebuild(progress: ((_ done: UInt64, _ total: UInt64) -> Void)?) throws(StoreError) -> UInt64 {
        do {
            let token = EntityID.random().raw
            // Claim the inactive generation and empty it.
            let (active, start, counts) = try env.write { txn in
                let active = try log.activeGeneration(txn)
                try txn.put(log.meta, LogTables.rebuildKey, token)
                for table in generations[1 - active] { try table.clear(txn) }
                return (active, try log.head(txn).position, log.sizingCounts(txn))
            }
            let target = generations[1 - active]
            let folded = try foldedViews(through: start, reserving: counts, progress: progress)
            try env.releaseMappedPages()
            // Each table is sorted and encoded here while the one before it is written, sorted,
            // with append, in bounded transactions on a second core; one sync at the end.
            try Pipeline<(table: Database, entries: PackedTable)>.run(depth: 1, consume: { job in
                var i = 0
                while i < job.entries.count {
                    let end = min(i + 50_000, job.entries.count)
                    try self.env.write(durable: false) { txn in
                        try self.checkClaim(token, txn)
                        try txn.cursor(job.table).append(job.entries, i..<end)
                    }
                    i = end
                }
            }) { send in
                // Written whole, each table goes to its main database; its delta stays empty.
                for (t, table) in target.enumerated() where !send((table.main, folded.packed(ViewTable(slot: t)))) { return }
            }
            try env.sync()
            // Catch up with what was appended meanwhile, then switch, all under the write lock.
            return try env.write { txn in
                try checkClaim(token, txn)
                guard try log.activeGeneration(txn) == active else { throw StoreError.rebuildConflict }
                let head = try log.head(txn)
                let views = CachedViews(base: LMDBViews(txn, tables: target, streams: log.streams), tableCount: target.count)
                var fold = ViewFold(proxies: proxies)
                try log.forEachEvent(from: start + 1, through: head.position, txn) { try fold.apply($0, to: views) }
                try views.writeChanges(to: target, txn)
                try log.setActiveGeneration(1 - active, txn)
                _ = try txn.delete(log.meta, LogTables.rebuildKey)
                for table in generations[active] { try table.clear(txn) }
                // Proxies this process does not declare were not rebuilt: their owners back-fill them.
                for (name, _) in try txn.scan(log.projections).map({ (String(decoding: $0.key, as: UTF8.self), 0) })
                    where name != BaseViews.name && !proxies.contains(where: { $0.name == name }) {
                    try log.setProjectionState(name, version: -1, checkpoint: 0, txn)
                }
                try log.setProjectionState(BaseViews.name, version: BaseViews.version, checkpoint: head.position, txn)
                for proxy in proxies {
                    try log.setProjectionState(proxy.name, version: proxy.version, checkpoint: head.position, txn)
                }
                return head.position
            }
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// Throws when another rebuild claimed the inactive generation after this one did.
    private func checkClaim(_ token: [UInt8], _ txn: WriteTransaction) throws {
        guard let owner = try txn.get(log.meta, LogTables.rebuildKey), owner.elementsEqual(token) else {
            throw StoreError.rebuildConflict
        }
    }
}
