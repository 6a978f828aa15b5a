import Foundation

/// A value shared between threads, behind a lock.
public final class Shared<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    public var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Runs `body` on a new thread; `join` waits for it and rethrows what it threw.
public final class Worker: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let failure = Shared<(any Error)?>(nil)

    public init(_ body: @escaping @Sendable () throws -> Void) {
        let thread = Thread { [done, failure] in
            do { try body() } catch { failure.value = error }
            done.signal()
        }
        thread.start()
    }

    public func join() throws {
        done.wait()
        if let error = failure.value { throw error }
    }
}
