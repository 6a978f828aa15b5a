import CLMDB
import FoundationEssentials

/// A read-only snapshot of the environment, handed to the closure of `Environment.read` and valid only inside
/// it: it ends when the closure returns, and any use afterwards throws `LMDBError.badTransaction`. Not for sharing
/// between threads.
///
/// ```swift
/// let value = try env.read { txn in try txn.getBytes(db, key) }
/// ```
public final class ReadTransaction: Transaction {
    deinit {
        finish()
    }

    /// Ends the transaction: closes its cursors, releases its snapshot and reader slot.
    func finish() {
        guard let handle = core.handle else { return }
        core.closeCursors()
        mdb_txn_abort(handle)
        core.handle = nil
        environment.endTransaction()
    }
}
