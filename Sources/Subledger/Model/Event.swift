/// The kind of entity a stream belongs to: one stream per entity, named `<kind>-<uuid>`.
public enum EntityKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case user = 1, plan, group, subscription, membership

    public var description: String {
        switch self {
        case .user: "user"
        case .plan: "plan"
        case .group: "group"
        case .subscription: "subscription"
        case .membership: "membership"
        }
    }

    public init?(name: some StringProtocol) {
        guard let kind = EntityKind.allCases.first(where: { $0.description == name }) else { return nil }
        self = kind
    }
}

/// A stream: the events of one entity.
public struct StreamID: Hashable, Sendable, CustomStringConvertible {
    public var kind: EntityKind
    public var id: EntityID

    public init(_ kind: EntityKind, _ id: EntityID) {
        self.kind = kind
        self.id = id
    }

    /// Parses `user-<uuid>` and the like.
    public init?(_ text: String) {
        guard let dash = text.firstIndex(of: "-"), let kind = EntityKind(name: text[..<dash]),
              let id = EntityID(text[text.index(after: dash)...]) else { return nil }
        self.init(kind, id)
    }

    public var description: String { "\(kind)-\(id)" }

    /// The longest `description`: `subscription-` and the 36 characters of the id.
    static var maxTextLength: Int { 13 + 36 }
}

/// What an event says, as stored: today's schemas plus the older ones still readable.
///
/// Projectors read `upcast`, which maps every old schema to today's.
public enum EventData: Equatable, Sendable {
    case userRegistered(id: EntityID, email: String, fullName: String)
    /// Schema 1 of `UserRegistered`: the name was an optional `fullname`.
    case userRegisteredV1(id: EntityID, email: String, fullname: String?)
    case userRenamed(user: EntityID, fullName: String)
    case userLoggedIn(user: EntityID)
    case userDeleted(user: EntityID)
    case planCreated(id: EntityID, name: String, priceCents: Int64, seats: Int64?)
    case planDeleted(plan: EntityID)
    case groupCreated(id: EntityID, name: String)
    case groupDeleted(group: EntityID)
    case subscribed(id: EntityID, user: EntityID, plan: EntityID)
    case planChanged(subscription: EntityID, from: EntityID, to: EntityID)
    case subscriptionCancelled(subscription: EntityID)
    case memberJoined(id: EntityID, user: EntityID, group: EntityID)
    case memberLeft(membership: EntityID, user: EntityID, group: EntityID)

    /// The event type's name, as in the log (`UserRegistered`).
    public var typeName: String { type.name }

    public var type: EventType {
        switch self {
        case .userRegistered, .userRegisteredV1: .userRegistered
        case .userRenamed: .userRenamed
        case .userLoggedIn: .userLoggedIn
        case .userDeleted: .userDeleted
        case .planCreated: .planCreated
        case .planDeleted: .planDeleted
        case .groupCreated: .groupCreated
        case .groupDeleted: .groupDeleted
        case .subscribed: .subscribed
        case .planChanged: .planChanged
        case .subscriptionCancelled: .subscriptionCancelled
        case .memberJoined: .memberJoined
        case .memberLeft: .memberLeft
        }
    }

    /// The schema version these bytes are in.
    public var schemaVersion: UInt8 {
        if case .userRegisteredV1 = self { return 1 }
        return type.currentSchema
    }

    /// The same event in today's schema.
    public var upcast: EventData {
        if case .userRegisteredV1(let id, let email, let fullname) = self {
            return .userRegistered(id: id, email: email, fullName: fullname ?? "")
        }
        return self
    }

    /// The stream the event belongs to.
    public var stream: StreamID {
        switch self {
        case .userRegistered(let id, _, _), .userRegisteredV1(let id, _, _), .userRenamed(let id, _),
             .userLoggedIn(let id), .userDeleted(let id):
            StreamID(.user, id)
        case .planCreated(let id, _, _, _), .planDeleted(let id): StreamID(.plan, id)
        case .groupCreated(let id, _), .groupDeleted(let id): StreamID(.group, id)
        case .subscribed(let id, _, _), .planChanged(let id, _, _), .subscriptionCancelled(let id):
            StreamID(.subscription, id)
        case .memberJoined(let id, _, _), .memberLeft(let id, _, _): StreamID(.membership, id)
        }
    }

    /// Whether this event creates its stream's entity.
    public var createsEntity: Bool {
        switch self {
        case .userRegistered, .userRegisteredV1, .planCreated, .groupCreated, .subscribed, .memberJoined: true
        default: false
        }
    }
}

/// The 13 event types, with their codes in the binary log.
public enum EventType: UInt8, CaseIterable, Sendable {
    case userRegistered = 1, userRenamed, userLoggedIn, userDeleted, planCreated, planDeleted,
         groupCreated, groupDeleted, subscribed, planChanged, subscriptionCancelled, memberJoined, memberLeft

    public var name: String {
        switch self {
        case .userRegistered: "UserRegistered"
        case .userRenamed: "UserRenamed"
        case .userLoggedIn: "UserLoggedIn"
        case .userDeleted: "UserDeleted"
        case .planCreated: "PlanCreated"
        case .planDeleted: "PlanDeleted"
        case .groupCreated: "GroupCreated"
        case .groupDeleted: "GroupDeleted"
        case .subscribed: "Subscribed"
        case .planChanged: "PlanChanged"
        case .subscriptionCancelled: "SubscriptionCancelled"
        case .memberJoined: "MemberJoined"
        case .memberLeft: "MemberLeft"
        }
    }

    public init?(name: String) {
        guard let t = EventType.allCases.first(where: { $0.name == name }) else { return nil }
        self = t
    }

    /// The schema new events of this type are written in.
    public var currentSchema: UInt8 { self == .userRegistered ? 2 : 1 }
}
