#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Reads, on the second core, what the next commands of a batch will read, a little ahead of
/// the writer: the rules' look-ups (an email, a plan, a user's subscriptions) and the creation of
/// each entity the event names. On a large store most of those reads land on leaves no recent
/// command touched, and the writer waited for each one from memory; read shortly before, they
/// are in the cache the two cores share (tools/benchmark/RESULTS.md, 2026-12-07).
///
/// It reads a snapshot taken when the batch began and changes nothing: what it decides is thrown
/// away, and any error it meets only ends it. It never runs behind the writer: it skips to the
/// writer's command, and waits once it is `window` commands ahead.
final class ReadAhead: Sendable {
    /// The fewest commands a batch has for a read-ahead to pay for its thread.
    static let defaultMinimumBatch = 512
    /// How far ahead of the writer it reads, in commands: far enough to stay ahead, near enough
    /// that what it read is still in the shared cache when the writer comes to it (16, 40, 64
    /// and 256 were measured; 40 ran fastest on a store of 10^7 events).
    static let window = 40

    /// What the two threads share: the writer's place (the index of the command it is on), and
    /// whether to stop.
    private final class Progress: Sendable {
        let writerAt = Atomic<Int>(0)
        let stopped = Atomic<Bool>(false)
    }

    private let progress = Progress()
    private let thread: JoinableThread<Void>

    private init?(_ commands: [Result<CommandEnvelope, Rejection>],
                  withState: @escaping (_ body: (any ViewState) throws -> Void) throws -> Void) {
        let progress = progress
        guard let thread = JoinableThread.start({ _ = try? withState { Self.run(commands, on: $0, progress) } }) else { return nil }
        self.thread = thread
    }

    /// Starts reading ahead through `commands` on a thread of its own. `withState` opens a
    /// read-only state of the store as of the batch's start and runs its body on it, or does
    /// nothing when it cannot begin without waiting. Nil for a batch of fewer than
    /// `minimumBatch` commands, or when no thread can be had.
    static func start(_ commands: ArraySlice<Result<CommandEnvelope, Rejection>>, minimumBatch: Int = defaultMinimumBatch,
                      withState: @escaping (_ body: (any ViewState) throws -> Void) throws -> Void) -> ReadAhead? {
        guard commands.count >= minimumBatch else { return nil }
        return ReadAhead(Array(commands), withState: withState)
    }

    /// The writer is on the command at `index` of the batch.
    func writerReached(_ index: Int) { progress.writerAt.store(index, ordering: .relaxed) }

    /// Stops reading and waits for the thread: before the batch commits, so that its snapshot
    /// does not hold back pages the next transactions could reuse.
    func stop() {
        progress.stopped.store(true, ordering: .relaxed)
        _ = try? thread.join()
    }

    deinit { stop() }

    private static func run(_ commands: [Result<CommandEnvelope, Rejection>], on state: any ViewState, _ progress: Progress) {
        let decider = Decider(state: state, newID: { EntityID.random() })
        var i = 0
        while i < commands.count, !progress.stopped.load(ordering: .relaxed) {
            let writer = progress.writerAt.load(ordering: .relaxed)
            if i <= writer {
                i = writer + 1
                continue
            }
            if i > writer + window {
                var pause = timespec(tv_sec: 0, tv_nsec: 20_000)
                nanosleep(&pause, nil)
                continue
            }
            if case .success(let envelope) = commands[i],
               case .success(let data)? = try? decider.decide(envelope.command) {
                for id in data.entityIDs { _ = try? state.creationPosition(of: id) }
            }
            i += 1
        }
    }
}

private extension EventData {
    /// Every entity the event names: its stream's and the ones it relates.
    var entityIDs: [EntityID] {
        switch self {
        case .subscribed(let id, let user, let plan): [id, user, plan]
        case .planChanged(let subscription, let from, let to): [subscription, from, to]
        case .memberJoined(let id, let user, let group), .memberLeft(let id, let user, let group): [id, user, group]
        default: [stream.id]
        }
    }
}
