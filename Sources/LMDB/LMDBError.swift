import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by LMDB or by the layer around it, with a one-line message a user understands.
///
/// ```swift
/// do {
///     try env.write { txn in try txn.put(db, key, value, flags: .noOverwrite) }
/// } catch LMDBError.keyExists {
///     print("already recorded")
/// }
/// ```
public enum LMDBError: Error, Equatable, Hashable, CustomStringConvertible {
    /// The key (or key/value pair) is already present and the put asked not to overwrite it (`MDB_KEYEXIST`).
    case keyExists
    /// The key or data item was not found (`MDB_NOTFOUND`). Lookups return `nil` instead of throwing this.
    case notFound
    /// The map is full (`MDB_MAP_FULL`). `Environment.write` grows the map and retries, so callers rarely see it.
    case mapFull
    /// Another process grew the map beyond this one (`MDB_MAP_RESIZED`). Handled when a transaction begins; seen only
    /// when the size cannot be adopted because this thread still has a transaction open.
    case mapResized
    /// Every reader slot is taken (`MDB_READERS_FULL`): raise `EnvironmentOptions.maxReaders`.
    case readersFull
    /// The transaction has too many dirty pages (`MDB_TXN_FULL`): split it.
    case transactionFull
    /// A cursor stack is too deep (`MDB_CURSOR_FULL`): a database is corrupted or too deep.
    case cursorFull
    /// A page has no more space (`MDB_PAGE_FULL`).
    case pageFull
    /// More named databases than `EnvironmentOptions.maxDatabases` (`MDB_DBS_FULL`).
    case databasesFull
    /// The file is corrupted (`MDB_CORRUPTED`, `MDB_PAGE_NOTFOUND`).
    case corrupted
    /// An earlier fatal error left the environment unusable (`MDB_PANIC`): close it and open it again.
    case panic
    /// The file was written by an incompatible version of LMDB (`MDB_VERSION_MISMATCH`).
    case versionMismatch
    /// The file is not an LMDB file (`MDB_INVALID`).
    case invalid
    /// The transaction cannot be used: it has ended, failed, or is used on the wrong environment (`MDB_BAD_TXN`).
    case badTransaction
    /// A key or value is empty or too large (`MDB_BAD_VALSIZE`); keys hold at most 511 bytes.
    case badValueSize
    /// The database handle is not valid here (`MDB_BAD_DBI`): it was dropped, or opened in a transaction that aborted.
    case badDatabase
    /// A reader slot was used from the wrong thread (`MDB_BAD_RSLOT`).
    case badReaderSlot
    /// The database was opened with flags it was not created with, or is not a database (`MDB_INCOMPATIBLE`).
    case incompatible
    /// The disk holding the store is full or over quota (`ENOSPC`, `EDQUOT`).
    case diskFull
    /// The environment was closed with `Environment.close()`.
    case closed
    /// The operating system reported an error (an `errno` value) while reading or writing the store.
    case io(errno: Int32, message: String)
    /// Any other return code.
    case other(code: Int32, message: String)

    /// Maps an `mdb_*` return code (never `MDB_SUCCESS`) to an error.
    @usableFromInline
    init(code: Int32) {
        switch code {
        case MDB_KEYEXIST: self = .keyExists
        case MDB_NOTFOUND: self = .notFound
        case MDB_PAGE_NOTFOUND, MDB_CORRUPTED: self = .corrupted
        case MDB_PANIC: self = .panic
        case MDB_VERSION_MISMATCH: self = .versionMismatch
        case MDB_INVALID: self = .invalid
        case MDB_MAP_FULL: self = .mapFull
        case MDB_DBS_FULL: self = .databasesFull
        case MDB_READERS_FULL, MDB_TLS_FULL: self = .readersFull
        case MDB_TXN_FULL: self = .transactionFull
        case MDB_CURSOR_FULL: self = .cursorFull
        case MDB_PAGE_FULL: self = .pageFull
        case MDB_MAP_RESIZED: self = .mapResized
        case MDB_INCOMPATIBLE: self = .incompatible
        case MDB_BAD_RSLOT: self = .badReaderSlot
        case MDB_BAD_TXN: self = .badTransaction
        case MDB_BAD_VALSIZE: self = .badValueSize
        case MDB_BAD_DBI: self = .badDatabase
        case ENOSPC, EDQUOT: self = .diskFull
        // EINVAL from LMDB means a misuse (a wrong flag or operation), not a failing disk.
        case EINVAL: self = .other(code: code, message: Self.message(code))
        case let code where code > 0: self = .io(errno: code, message: Self.message(code))
        default: self = .other(code: code, message: Self.message(code))
        }
    }

    /// LMDB's words for a code, without the `MDB_NAME: ` it starts some with.
    static func message(_ code: Int32) -> String {
        guard let text = mdb_strerror(code) else { return "error \(code)" }
        let words = String(cString: text)
        guard words.hasPrefix("MDB_"), let colon = words.firstIndex(of: ":") else { return words }
        return String(words[words.index(after: colon)...].drop(while: { $0 == " " }))
    }

    /// One line saying what went wrong, for a person.
    ///
    /// ```swift
    /// print(LMDBError.diskFull) // the store's disk is full (or its quota used up)
    /// ```
    public var description: String {
        switch self {
        case .keyExists: "the key already exists"
        case .notFound: "no such key"
        case .mapFull: "the store's map is full and could not grow"
        case .mapResized: "another process grew the store's map while this thread had a transaction open"
        case .readersFull: "too many concurrent readers; raise maxReaders"
        case .transactionFull: "the transaction is too large; split it"
        case .cursorFull: "a cursor went too deep; the store may be corrupted"
        case .pageFull: "a page ran out of space"
        case .databasesFull: "too many named databases; raise maxDatabases"
        case .corrupted: "the store is corrupted"
        case .panic: "the store hit a fatal error and must be reopened"
        case .versionMismatch: "the store was written by an incompatible LMDB version"
        case .invalid: "the file is not an LMDB store"
        case .badTransaction: "the transaction has ended or failed and cannot be used"
        case .badValueSize: "a key or value is empty or too large"
        case .badDatabase: "the database handle is not valid here"
        case .badReaderSlot: "a reader slot was used from the wrong thread"
        case .incompatible: "the database exists with other flags, or is not a database"
        case .diskFull: "the store's disk is full (or its quota used up)"
        case .closed: "the environment is closed"
        case let .io(errno, message): "I/O error on the store: \(message) (errno \(errno))"
        case let .other(code, message): "unexpected storage error \(code): \(message)"
        }
    }
}
