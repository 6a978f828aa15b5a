/// What a storage backend keeps of the log, read inside one transaction: stored events by
/// position, each stream's positions, each `command_id`'s position, the head and the counts.
protocol LogReading {
    /// The newest position, hash and `at` (`LogHead.empty` for an empty log).
    func head() throws -> LogHead
    /// The event at `position`, if the log reaches it.
    func event(at position: UInt64) throws -> RecordedEvent?
    /// Up to `limit` events from `from` through `to`, in order.
    func events(from: UInt64, to: UInt64, limit: Int) throws -> [RecordedEvent]
    /// The positions of an entity's stream, oldest first.
    func positions(ofStream id: EntityID) throws -> [UInt64]
    /// How many events an entity's stream holds.
    func streamVersion(of id: EntityID) throws -> UInt32
    /// The position the command with this id appended, if one was applied.
    func commandPosition(_ commandID: String) throws -> UInt64?
    /// Streams and events per type, kept beside the head.
    func counts() throws -> LogCounts
}

/// The log's writes, inside one write transaction.
protocol LogWriting: LogReading {
    /// Stores a sealed event (its `bytes` are what the chain hashed) at its position, with its
    /// stream's and its command id's index entries.
    func record(_ event: RecordedEvent, bytes: [UInt8]) throws
    /// Moves the head, with the counts that go with it.
    func setHead(_ head: LogHead, counts: LogCounts) throws
}
