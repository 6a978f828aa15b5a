import Dispatch
import Synchronization

/// Two stages of one pass on two cores: the caller's thread produces batches (reading and
/// checking the log) while a thread of its own consumes them in order (folding the views), at
/// most `depth` batches behind.
///
/// The consumer's state is handed to it for the run and back when `run` returns: nothing else
/// touches it meanwhile, which is what makes the unchecked sendability below sound.
final class Pipeline<Batch: Sendable>: @unchecked Sendable {
    private let queue = Mutex<[Batch?]>([])
    private let free: DispatchSemaphore
    private let ready = DispatchSemaphore(value: 0)
    /// The consumer's first error; once set, batches are dropped unconsumed.
    private let failure = Mutex<(any Error)?>(nil)

    /// Batches sent and not yet consumed, and a signal after each is.
    private let pending = Mutex(0)
    private let consumed = DispatchSemaphore(value: 0)

    private init(depth: Int) { free = DispatchSemaphore(value: depth) }

    /// What the producer hands its batches to: call it with a batch (false once the consumer
    /// failed: stop producing), or `settle()` to wait until every batch sent is consumed (false
    /// if one failed), before waiting on something slow such as interactive input.
    struct Feed {
        fileprivate let send: (Batch) -> Bool
        fileprivate let sendNow: (Batch) -> Bool?
        fileprivate let settleNow: () -> Bool

        func callAsFunction(_ batch: Batch) -> Bool { send(batch) }
        /// Sends `batch` if the consumer has room for it now; nil (not sent) if it has not, so
        /// that the producer can do other work meanwhile instead of waiting.
        func trySend(_ batch: Batch) -> Bool? { sendNow(batch) }
        func settle() -> Bool { settleNow() }
    }

    /// Runs `produce` here, handing each batch it sends to `consume` on another thread, and
    /// returns once both are done. The consumer's error is thrown first (it is at an earlier
    /// point of the input than anything the producer saw after it), then the producer's.
    static func run<T>(depth: Int = 4, consume: @escaping (Batch) throws -> Void,
                       produce: (_ send: Feed) throws -> T) throws -> T {
        let pipe = Pipeline(depth: depth)
        guard let consumer = JoinableThread.start({ pipe.drain(consume) }) else {
            // No thread to be had: one core, in order, with the same errors.
            var failed: (any Error)?
            let result = Result {
                try withoutActuallyEscaping({ (batch: Batch) -> Bool in
                    guard failed == nil else { return false }
                    do { try consume(batch) } catch { failed = error }
                    return failed == nil
                }) { send in
                    try produce(Feed(send: send, sendNow: send, settleNow: { failed == nil }))
                }
            }
            if let failed { throw failed }
            return try result.get()
        }
        let result = Result { try produce(Feed(send: pipe.send, sendNow: pipe.trySend, settleNow: pipe.settle)) }
        pipe.push(nil)
        // `drain` keeps its errors in `failure`: the join itself cannot throw.
        try? consumer.join()
        if let error = pipe.failure.withLock({ $0 }) { throw error }
        return try result.get()
    }

    /// Queues a batch; false once the consumer failed (the producer may stop early).
    private func send(_ batch: Batch) -> Bool {
        guard failure.withLock({ $0 == nil }) else { return false }
        push(batch)
        return true
    }

    /// Waits until the consumer has taken every batch sent; false if one failed.
    private func settle() -> Bool {
        // A signal may be left over from a batch consumed earlier: count again after each.
        while pending.withLock({ $0 }) > 0 { consumed.wait() }
        return failure.withLock { $0 == nil }
    }

    /// `send` without waiting: nil when the consumer is `depth` batches behind.
    private func trySend(_ batch: Batch) -> Bool? {
        guard failure.withLock({ $0 == nil }) else { return false }
        guard free.wait(timeout: .now()) == .success else { return nil }
        push(batch, hasRoom: true)
        return true
    }

    private func push(_ batch: Batch?, hasRoom: Bool = false) {
        if batch != nil { pending.withLock { $0 += 1 } }
        if !hasRoom { free.wait() }
        queue.withLock { $0.append(batch) }
        ready.signal()
    }

    private func drain(_ consume: (Batch) throws -> Void) {
        while true {
            ready.wait()
            let next = queue.withLock { $0.removeFirst() }
            free.signal()
            guard let batch = next else { break }
            if failure.withLock({ $0 == nil }) {
                do { try consume(batch) } catch { failure.withLock { $0 = error } }
            }
            pending.withLock { $0 -= 1 }
            consumed.signal()
        }
    }
}
