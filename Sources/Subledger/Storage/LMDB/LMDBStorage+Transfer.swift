import LMDB

extension LMDBStorage {
    func backup(to directory: String) throws(StoreError) -> UInt64 {
        if StoreFiles.exists(directory) { throw StoreError.invalidArgument("\(directory) already holds a store; back up into a new directory") }
        do {
            try env.copy(to: directory, compact: true)
            let copy = try Environment.open(path: directory)
            defer { copy.close() }
            let meta = try copy.database("meta", create: false)
            return try copy.read { txn in try txn.get(meta, LogTables.headKey).map { try LogHead(decoding: $0).position } ?? 0 }
        } catch {
            throw StoreError.wrap(error)
        }
    }

    func importLog(from reader: LineReader,
                   progress: ((_ done: UInt64) -> Void)?) throws(StoreError) -> UInt64 {
        do {
            let imported: UInt64 = try env.write { txn in
                var appender = try LogAppender(LMDBLedgerTransaction(txn, log: log, viewTables: try viewTables(txn)))
                let imported = try appender.importLines(from: reader, progress: progress)
                // The views follow once the whole log is in (a rebuild, below).
                try appender.finish()
                return imported
            }
            progress?(imported)
            if imported > 0 {
                _ = try rebuild(progress: nil)
                try rebuildSnapshots()
            }
            return imported
        } catch {
            throw StoreError.wrap(error)
        }
    }
}

