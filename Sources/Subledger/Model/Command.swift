/// Something that names an entity: its id, or its natural key (an email for users, a name
/// for plans and groups). A reference shaped like a UUID is looked up by id only.
public enum Reference: Equatable, Hashable, Sendable, CustomStringConvertible {
    case id(EntityID)
    case key(String)

    /// Reads a reference: UUID-shaped text is an id, anything else a natural key.
    public init(_ text: String) {
        if let id = EntityID(text) { self = .id(id) } else { self = .key(text) }
    }

    public var description: String {
        switch self {
        case .id(let id): id.description
        case .key(let k): k
        }
    }
}

/// How `ChangePlan` and `Cancel` name a subscription.
public enum SubscriptionReference: Equatable, Sendable {
    case id(EntityID)
    /// The user's active subscription on the plan.
    case userPlan(user: Reference, plan: Reference)
}

/// One of the 13 commands of the ledger, validated but not yet checked against the state.
public enum Command: Equatable, Sendable {
    case registerUser(email: String, fullName: String, id: EntityID?)
    case renameUser(user: Reference, fullName: String)
    case recordLogin(user: Reference)
    case deleteUser(user: Reference)
    case createPlan(name: String, priceCents: Int64, seats: Int64?, id: EntityID?)
    case deletePlan(plan: Reference)
    case createGroup(name: String, id: EntityID?)
    case deleteGroup(group: Reference)
    case subscribe(user: Reference, plan: Reference, id: EntityID?)
    case changePlan(SubscriptionReference, to: Reference)
    case cancel(SubscriptionReference)
    case joinGroup(user: Reference, group: Reference, id: EntityID?)
    case leaveGroup(user: Reference, group: Reference)

    /// The name used in JSON (`"command": "RegisterUser"`).
    public var name: String {
        switch self {
        case .registerUser: "RegisterUser"
        case .renameUser: "RenameUser"
        case .recordLogin: "RecordLogin"
        case .deleteUser: "DeleteUser"
        case .createPlan: "CreatePlan"
        case .deletePlan: "DeletePlan"
        case .createGroup: "CreateGroup"
        case .deleteGroup: "DeleteGroup"
        case .subscribe: "Subscribe"
        case .changePlan: "ChangePlan"
        case .cancel: "Cancel"
        case .joinGroup: "JoinGroup"
        case .leaveGroup: "LeaveGroup"
        }
    }
}

/// A command with what every command may carry: an idempotency key and a business time.
public struct CommandEnvelope: Equatable, Sendable {
    public var command: Command
    /// 1...128 bytes; a command whose id was already applied is a duplicate.
    public var commandID: String?
    /// Business time of the events; nil means now.
    public var at: Timestamp?

    public init(_ command: Command, commandID: String? = nil, at: Timestamp? = nil) {
        self.command = command
        self.commandID = commandID
        self.at = at
    }
}
