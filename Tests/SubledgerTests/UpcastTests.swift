import Foundation
import Testing
@testable import Subledger

/// An old schema stays readable: `fixtures/upcast/user_registered_v1.bin` holds the stored bytes
/// of a schema-1 `UserRegistered` event (whose data had an optional `fullname`), written once and
/// committed. Today's code must decode those bytes, verify their hash, and upcast them to
/// today's `UserRegistered` (schema 2, `full_name`).
///
/// To regenerate the file (only if the fixture itself must change; old bytes are the point):
///
///     SUBLEDGER_WRITE_UPCAST_FIXTURE=1 swift test --filter UpcastTests/writeFixture
@Suite struct UpcastTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/upcast/user_registered_v1.bin").path

    static let userID = EntityID("a0000000-0000-4000-8000-0000000000f1")!

    /// The event the fixture holds: the first event of a log (it chains from the genesis hash).
    static let event = RecordedEvent(
        position: 1, stream: StreamID(.user, userID), version: 1,
        eventID: EntityID("f0000000-0000-4000-8000-000000000001")!,
        at: Timestamp(rfc3339: "2019-06-01T12:00:00Z")!,
        recordedAt: Timestamp(rfc3339: "2019-06-01T12:00:00.123456Z")!,
        commandID: "legacy-signup-1",
        data: .userRegisteredV1(id: userID, email: "ann@example.com", fullname: "Ann Lee"))

    static func storedBytes() throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FixtureMissing(path: path)
        }
        return Array(data)
    }

    struct FixtureMissing: Error, CustomStringConvertible {
        var path: String
        var description: String { "no fixture at \(path) (see UpcastTests on how to write it)" }
    }

    static func decode(_ bytes: [UInt8]) throws -> RecordedEvent {
        try bytes.withUnsafeBytes { try EventCodec.decode($0) }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SUBLEDGER_WRITE_UPCAST_FIXTURE"] == "1"))
    func writeFixture() throws {
        var e = UpcastTests.event
        let bytes = EventCodec.seal(&e, previousHash: EventCodec.genesisHash)
        try FileManager.default.createDirectory(atPath: (UpcastTests.path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: UpcastTests.path))
    }

    @Test func theFixtureIsASchemaOneUserRegistered() throws {
        let bytes = try UpcastTests.storedBytes()
        #expect(bytes[0] == EventCodec.recordFormat, "record format byte")
        #expect(bytes[1] == EventType.userRegistered.rawValue, "type byte")
        #expect(bytes[2] == 1, "schema byte: the fixture must stay an old-schema event")
        let e = try UpcastTests.decode(bytes)
        #expect(e.type == .userRegistered)
        #expect(e.schemaVersion == 1)
        #expect(e.data == .userRegisteredV1(id: UpcastTests.userID, email: "ann@example.com", fullname: "Ann Lee"))
        #expect(e.position == 1)
        #expect(e.stream == StreamID(.user, UpcastTests.userID))
        #expect(e.version == 1)
        #expect(e.eventID == UpcastTests.event.eventID)
        #expect(e.at.rfc3339 == "2019-06-01T12:00:00Z")
        #expect(e.recordedAt.rfc3339 == "2019-06-01T12:00:00.123456Z")
        #expect(e.commandID == "legacy-signup-1")
    }

    @Test func itUpcastsToTodaysUserRegistered() throws {
        let e = try UpcastTests.decode(UpcastTests.storedBytes())
        let today = e.data.upcast
        #expect(today == .userRegistered(id: UpcastTests.userID, email: "ann@example.com", fullName: "Ann Lee"))
        #expect(today.schemaVersion == EventType.userRegistered.currentSchema)
        #expect(today.schemaVersion == 2)
        #expect(today.stream == e.stream)
        // The recorded event keeps the schema it was stored in: the upcast happens on read.
        #expect(e.schemaVersion == 1)
        let json = String(decoding: e.json, as: UTF8.self)
        #expect(json.contains(#""schema_version":1"#), "\(json)")
        #expect(json.contains(#""data":{"id":"a0000000-0000-4000-8000-0000000000f1","email":"ann@example.com","fullname":"Ann Lee"}"#), "\(json)")
    }

    @Test func itsHashVerifies() throws {
        let bytes = try UpcastTests.storedBytes()
        let e = try UpcastTests.decode(bytes)
        let body = Array(bytes.dropLast(EventCodec.hashSize))
        #expect(e.hash == Array(bytes.suffix(EventCodec.hashSize)))
        #expect(EventCodec.chainHash(previous: EventCodec.genesisHash, body: body) == e.hash,
                "the stored hash is SHA-256 over the genesis hash and the stored body")
        // Re-encoding the decoded event gives the stored body back: an old event keeps its bytes.
        #expect(EventCodec.encodeBody(e) == body)
    }

    @Test func aChangedByteBreaksTheHash() throws {
        var bytes = try UpcastTests.storedBytes()
        let name = Array("Ann Lee".utf8)
        let at = try #require((0...(bytes.count - name.count)).first { Array(bytes[$0..<($0 + name.count)]) == name })
        bytes[at] = UInt8(ascii: "D")
        let e = try UpcastTests.decode(bytes)
        #expect(e.data == .userRegisteredV1(id: UpcastTests.userID, email: "ann@example.com", fullname: "Dnn Lee"))
        let body = Array(bytes.dropLast(EventCodec.hashSize))
        #expect(EventCodec.chainHash(previous: EventCodec.genesisHash, body: body) != e.hash)
    }

    @Test func theViewsFoldTheUpcastEvent() throws {
        let t = try TempStore()
        let e = try UpcastTests.decode(UpcastTests.storedBytes())
        let appended = try t.store.append(e.data, expectedVersion: .noStream, at: e.at, commandID: e.commandID)
        #expect(appended.schemaVersion == 1, "an old-schema event is stored as given")
        let noName = EntityID("a0000000-0000-4000-8000-0000000000f2")!
        _ = try t.store.append(.userRegisteredV1(id: noName, email: "bob@example.com", fullname: nil), expectedVersion: .noStream,
                           at: e.at)
        #expect(try t.column("users", "full_name") == ["Ann Lee", ""])
        #expect(try t.column("users", "email") == ["ann@example.com", "bob@example.com"])
        #expect(try t.column("users", "registered") == ["2019-06-01T12:00:00Z", "2019-06-01T12:00:00Z"])
        // Replay gives the event back in the schema it was stored in.
        let replayed = try t.store.events()
        #expect(replayed.map(\.schemaVersion) == [1, 1])
        #expect(replayed[0].data == e.data)
        // Today's rules see the upcast user: the email is taken, the name can be changed.
        #expect(try t.rule(#"{"command":"RegisterUser","email":"ANN@example.com"}"#) == "email_taken")
        #expect(try t.outcome(#"{"command":"RenameUser","user":"ann@example.com","full_name":"Ann Smith"}"#).isApplied)
        #expect(try t.column("users", "full_name") == ["Ann Smith", ""])
    }
}
