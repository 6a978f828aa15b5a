#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain mutex; `lock` and `unlock` may be called from different scopes (the writer lock is held across a
/// caller's closure).
final class Lock: @unchecked Sendable {
    private let raw: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        raw = .allocate(capacity: 1)
        raw.initialize(to: pthread_mutex_t())
        pthread_mutex_init(raw, nil)
    }

    deinit {
        pthread_mutex_destroy(raw)
        raw.deallocate()
    }

    func lock() { pthread_mutex_lock(raw) }
    func unlock() { pthread_mutex_unlock(raw) }

    func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// What the current thread holds in one environment, kept in a thread-specific slot.
struct ThreadState {
    var bits: Int

    /// Live transactions of this environment on this thread (reads, writes, copies).
    var depth: Int {
        get { bits >> 2 }
        set { bits = (newValue << 2) | (bits & 3) }
    }
    /// This thread is inside `write`.
    var isWriting: Bool {
        get { bits & 1 != 0 }
        set { bits = newValue ? bits | 1 : bits & ~1 }
    }
    /// `close()` was called inside a transaction on this thread: close when the outermost one ends.
    var closeWhenIdle: Bool {
        get { bits & 2 != 0 }
        set { bits = newValue ? bits | 2 : bits & ~2 }
    }
}

/// Guards the memory map: every thread with a live transaction holds the gate shared; changing the map size takes
/// it exclusively, since `mdb_env_set_mapsize` may run only while no transaction of this process is open.
///
/// A thread takes the lock once, for its outermost transaction; nested ones only count. So the rwlock can prefer
/// writers (a pending resize is not starved by a stream of readers) without a nested read waiting behind it.
final class TransactionGate: @unchecked Sendable {
    private let rwlock: UnsafeMutablePointer<pthread_rwlock_t>
    private var key = pthread_key_t()

    init() {
        rwlock = .allocate(capacity: 1)
        rwlock.initialize(to: pthread_rwlock_t())
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        #if canImport(Glibc)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        pthread_rwlock_init(rwlock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
        pthread_key_create(&key, nil)
    }

    deinit {
        pthread_key_delete(key)
        pthread_rwlock_destroy(rwlock)
        rwlock.deallocate()
    }

    var thread: ThreadState {
        get { ThreadState(bits: Int(bitPattern: pthread_getspecific(key))) }
        set { pthread_setspecific(key, UnsafeRawPointer(bitPattern: newValue.bits)) }
    }

    /// Takes the gate shared and counts a live transaction on this thread.
    func enter() {
        var state = thread
        if state.depth == 0 { pthread_rwlock_rdlock(rwlock) }
        state.depth += 1
        thread = state
    }

    /// `enter` if it needs no wait: false while the gate is held or awaited exclusively.
    func tryEnter() -> Bool {
        var state = thread
        if state.depth == 0, pthread_rwlock_tryrdlock(rwlock) != 0 { return false }
        state.depth += 1
        thread = state
        return true
    }

    /// Releases what `enter` took; returns true when this ended the thread's outermost transaction and a close
    /// was requested inside it.
    func leave() -> Bool {
        var state = thread
        state.depth -= 1
        let close = state.depth == 0 && state.closeWhenIdle
        if close { state.closeWhenIdle = false }
        thread = state
        if state.depth == 0 { pthread_rwlock_unlock(rwlock) }
        return close
    }

    /// Runs `body` while no transaction of this process is open. The caller makes sure this thread holds none.
    func exclusively<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_wrlock(rwlock)
        defer { pthread_rwlock_unlock(rwlock) }
        return try body()
    }
}
