#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A body run on a thread of its own, joined later for its result: how a read or a fold puts
/// its second half on the second core. A thread of its own, not a pool's: a pool whose threads
/// all wait on each other could starve.
///
/// The body's captures are handed to the thread until `join` returns: the caller must not
/// touch what the body mutates meanwhile, which is what makes the unchecked sendability sound.
final class JoinableThread<T>: @unchecked Sendable {
    private final class Box {
        let body: () throws -> T
        var result: Result<T, any Error>?
        init(_ body: @escaping () throws -> T) { self.body = body }
    }

    #if canImport(Glibc)
    private typealias Handle = pthread_t
    #else
    private typealias Handle = pthread_t?
    #endif

    private let box: Box
    private let thread: Handle
    private var joined = false

    private init(_ box: Box, _ thread: Handle) {
        self.box = box
        self.thread = thread
    }

    /// Starts `body` on a new thread; nil when no thread can be had (the caller then does the
    /// work itself, on one core).
    static func start(_ body: @escaping () throws -> T) -> JoinableThread<T>? {
        let box = Box(body)
        // The thread's entry is a C function: it can name no generic type, so it gets the work
        // as a plain closure.
        let arg = Unmanaged.passRetained(ThreadEntry { box.result = Result { try box.body() } })
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        guard pthread_create(&thread, nil, { arg in
            Unmanaged<ThreadEntry>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, arg.toOpaque()) == 0 else {
            arg.release()
            return nil
        }
        return JoinableThread(box, thread)
    }

    /// Waits for the body to end (once; later calls return at once) and returns its result or
    /// throws its error.
    func join() throws -> T {
        if !joined {
            #if canImport(Glibc)
            pthread_join(thread, nil)
            #else
            pthread_join(thread!, nil)
            #endif
            joined = true
        }
        // The join orders the thread's write of `result` before this read.
        return try box.result!.get()
    }

    deinit {
        // Never leave a thread running on what its creator is about to free.
        _ = try? join()
    }
}

/// What a new thread runs.
private final class ThreadEntry {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
