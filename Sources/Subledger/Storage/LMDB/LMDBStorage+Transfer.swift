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
                let head = try log.head(txn)
                guard head.position == 0 else {
                    throw StoreError.invalidArgument("import fills an empty store only; this one holds \(head.position) events")
                }
                var appender = try LogAppender(LMDBLedgerTransaction(txn, log: log, viewTables: try viewTables(txn)))
                var lastLine = 0
                while let line = try reader.next() {
                    lastLine = line.number
                    guard let bytes = line.bytes else {
                        throw StoreError.importFault(line: line.number, message: "line longer than \(reader.maxLineBytes) bytes")
                    }
                    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                    do {
                        try appender.appendImported(try ImportedEvent.parse(bytes))
                    } catch let fault as ImportFault {
                        throw StoreError.importFault(line: line.number, message: fault.message)
                    }
                    if line.number % 65_536 == 0 { progress?(appender.head.position) }
                }
                _ = lastLine
                // The views follow once the whole log is in (a rebuild, below).
                try appender.finish()
                return appender.head.position
            }
            progress?(imported)
            if imported > 0 {
                try rebuild(progress: nil)
                try rebuildSnapshots()
            }
            return imported
        } catch {
            throw StoreError.wrap(error)
        }
    }
}

