import Foundation
import Synchronization
import Testing
@testable import Subledger

/// The thread that reads a batch's look-ups ahead of the writer: never more than its window
/// ahead, never behind (it skips to the writer), and stopped when told. That it changes no
/// outcome, id or byte is Property 8 (`anySplitIntoBatchesGivesTheSameLogAndViews`): the tests'
/// batches of two or more commands run beside one, batches of one do not.
@Suite struct ReadAheadTests {
    static func email(_ i: Int) -> String { "u\(i)@example.com" }

    @Test func readsWithinItsWindowAheadOfTheWriterAndSkipsToIt() throws {
        let commands = (0..<200).map { CommandDecoder.decode(line: #"{"command":"RegisterUser","email":"\#(Self.email($0))"}"#) }
        let state = RecordingState(MemoryViews(proxies: []))
        let ahead = try #require(ReadAhead.start(commands[...], minimumBatch: 1) { body in try body(state) })
        defer { ahead.stop() }
        let window = ReadAhead.window

        // The writer is on command 0: the commands after it, up to the window, are read.
        try waitUntil { state.emails.count >= window }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(state.emails == Set((1...window).map(Self.email)), "no further than \(window) ahead")

        // The writer jumps ahead: what it passed is not read, the window after it is.
        ahead.writerReached(150)
        try waitUntil { state.emails.count >= 2 * window }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(state.emails == Set((1...window).map(Self.email)).union((151...150 + window).map(Self.email)))
    }

    @Test func aSmallBatchGetsNoThread() {
        let commands = [CommandDecoder.decode(line: #"{"command":"RegisterUser","email":"a@example.com"}"#)]
        let state = RecordingState(MemoryViews(proxies: []))
        #expect(ReadAhead.start(commands[...], minimumBatch: 2) { body in try body(state) } == nil)
    }

    private func waitUntil(_ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            guard Date() < deadline else { throw TimedOut() }
            Thread.sleep(forTimeInterval: 0.001)
        }
    }

    struct TimedOut: Error {}
}

/// A state that records the emails looked up in it and answers from `base`.
private final class RecordingState: ViewState, @unchecked Sendable {
    let base: any ViewState
    private let seen = Mutex<Set<String>>([])
    var emails: Set<String> { seen.withLock { $0 } }

    init(_ base: any ViewState) { self.base = base }

    func position(of name: UniqueName) throws -> UInt64? {
        if case .email(let email) = name { seen.withLock { _ = $0.insert(email) } }
        return try base.position(of: name)
    }

    func creationPosition(of id: EntityID) throws -> UInt64? { try base.creationPosition(of: id) }
    func row<R: StoredRow>(_ type: R.Type, _ table: BaseTable, at position: UInt64) throws -> R? {
        try base.row(type, table, at: position)
    }
    func forEachRow<R: StoredRow>(_ type: R.Type, _ table: BaseTable, _ body: (UInt64, R) throws -> Bool) throws {
        try base.forEachRow(type, table, body)
    }
    func membership(user: EntityID, group: EntityID) throws -> UInt64? { try base.membership(user: user, group: group) }
    func subscriptions(user: EntityID, plan: EntityID) throws -> [(position: UInt64, isActive: Bool)] {
        try base.subscriptions(user: user, plan: plan)
    }
    func positions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] { try base.positions(relation, of: entity) }
    func forEachProxyEntry(_ proxy: Int, _ body: (UInt64) throws -> Bool) throws { try base.forEachProxyEntry(proxy, body) }
    func candidatePositions(_ relation: Relation, of entity: EntityID) throws -> [UInt64] {
        try base.candidatePositions(relation, of: entity)
    }
    func hasProxyEntry(_ proxy: Int, key: [UInt8]) throws -> Bool? { try base.hasProxyEntry(proxy, key: key) }
    func plan(_ id: EntityID) throws -> PlanRow? { try base.plan(id) }
    func user(_ id: EntityID) throws -> UserRow? { try base.user(id) }
    func group(_ id: EntityID) throws -> GroupRow? { try base.group(id) }
}
