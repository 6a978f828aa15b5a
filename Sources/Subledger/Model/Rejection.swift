/// Why a command was not applied: one case per rule of docs/commands.md, each with a one-line message.
///
/// `rule` is a stable snake_case name for scripts; `description` is for people:
/// `email_taken: email "ann@example.com" is already registered`.
public enum Rejection: Error, Equatable, Sendable, CustomStringConvertible {
    // Parsing and field validation.
    case malformedJSON(String)
    case notAnObject
    case lineTooLong(limit: Int)
    case unknownCommand(String)
    case unknownField(String)
    case missingField(String)
    case wrongType(field: String, expected: String)
    case invalidUUID(field: String)
    case tooLong(field: String, limit: String)
    case invalidLength(field: String, range: String)
    case invalidEmail
    case invalidAt
    case negativePrice
    case invalidSeats
    case aliasConflict
    case subscriptionReference
    // Time.
    case atBeforeNewest(at: Timestamp, newest: Timestamp)
    // Domain rules.
    case idTaken(EntityID)
    case emailTaken(String)
    case planNameTaken(String)
    case groupNameTaken(String)
    case unknownUser(String)
    case unknownPlan(String)
    case unknownGroup(String)
    case unknownSubscription(String)
    case alreadySubscribed(user: EntityID, plan: EntityID)
    case subscriptionNotActive(String)
    case samePlan
    case teamPlanFull(plan: EntityID, seats: Int64)
    case alreadyMember(user: EntityID, group: EntityID)
    case notAMember(user: EntityID, group: EntityID)

    /// The rule's stable name.
    public var rule: String {
        switch self {
        case .malformedJSON: "malformed_json"
        case .notAnObject: "not_an_object"
        case .lineTooLong: "line_too_long"
        case .unknownCommand: "unknown_command"
        case .unknownField: "unknown_field"
        case .missingField: "missing_field"
        case .wrongType: "wrong_type"
        case .invalidUUID: "invalid_uuid"
        case .tooLong: "too_long"
        case .invalidLength: "invalid_length"
        case .invalidEmail: "invalid_email"
        case .invalidAt: "invalid_at"
        case .negativePrice: "negative_price"
        case .invalidSeats: "invalid_seats"
        case .aliasConflict: "alias_conflict"
        case .subscriptionReference: "subscription_reference"
        case .atBeforeNewest: "at_before_newest"
        case .idTaken: "id_taken"
        case .emailTaken: "email_taken"
        case .planNameTaken: "plan_name_taken"
        case .groupNameTaken: "group_name_taken"
        case .unknownUser: "unknown_user"
        case .unknownPlan: "unknown_plan"
        case .unknownGroup: "unknown_group"
        case .unknownSubscription: "unknown_subscription"
        case .alreadySubscribed: "already_subscribed"
        case .subscriptionNotActive: "subscription_not_active"
        case .samePlan: "same_plan"
        case .teamPlanFull: "team_plan_full"
        case .alreadyMember: "already_member"
        case .notAMember: "not_a_member"
        }
    }

    /// Whether the command was refused before it reached the domain rules (bad input, not a bad state).
    public var isValidation: Bool {
        switch self {
        case .malformedJSON, .notAnObject, .lineTooLong, .unknownCommand, .unknownField, .missingField,
             .wrongType, .invalidUUID, .tooLong, .invalidLength, .invalidEmail, .invalidAt,
             .negativePrice, .invalidSeats, .aliasConflict, .subscriptionReference:
            true
        default:
            false
        }
    }

    public var description: String { "\(rule): \(message)" }

    /// The human half of the line.
    public var message: String {
        switch self {
        case .malformedJSON(let why): "malformed JSON: \(why)"
        case .notAnObject: "a command must be a JSON object"
        case .lineTooLong(let limit): "line longer than \(limit) bytes"
        case .unknownCommand(let name): "unknown command \(quoted(name))"
        case .unknownField(let f): "unknown field \(quoted(f))"
        case .missingField(let f): "missing field \(quoted(f))"
        case .wrongType(let f, let expected): "field \(quoted(f)) must be \(expected)"
        case .invalidUUID(let f): "field \(quoted(f)) must be a UUID"
        case .tooLong(let f, let limit): "field \(quoted(f)) is longer than \(limit)"
        case .invalidLength(let f, let range): "field \(quoted(f)) must be \(range) long"
        case .invalidEmail: "email must contain @"
        case .invalidAt: "field \"at\" must be an RFC 3339 time with Z or an offset"
        case .negativePrice: "price_cents must be 0 or more"
        case .invalidSeats: "seats must be 1 or more"
        case .aliasConflict: "full_name and fullname differ"
        case .subscriptionReference: "give either subscription, or both user and plan"
        case .atBeforeNewest(let at, let newest): "at \(at) is earlier than the newest event's at \(newest)"
        case .idTaken(let id): "id \(id) was already used"
        case .emailTaken(let e): "email \(quoted(e)) is already registered"
        case .planNameTaken(let n): "a plan named \(quoted(n)) exists"
        case .groupNameTaken(let n): "a group named \(quoted(n)) exists"
        case .unknownUser(let r): "no user \(quoted(r))"
        case .unknownPlan(let r): "no plan \(quoted(r))"
        case .unknownGroup(let r): "no group \(quoted(r))"
        case .unknownSubscription(let r): "no subscription \(quoted(r))"
        case .alreadySubscribed(let u, let p): "user \(u) already has an active subscription to plan \(p)"
        case .subscriptionNotActive(let r): "subscription \(r) is not active"
        case .samePlan: "the subscription is already on that plan"
        case .teamPlanFull(let p, let seats): "team plan \(p) is full (\(seats) of \(seats) seats taken)"
        case .alreadyMember(let u, let g): "user \(u) is already a member of group \(g)"
        case .notAMember(let u, let g): "user \(u) is not a member of group \(g)"
        }
    }
}

/// Quotes user text for a one-line message: escapes control characters and cuts it short.
func quoted(_ s: String) -> String {
    var out = "\""
    for (i, scalar) in s.unicodeScalars.enumerated() {
        if i == 80 { out += "…"; break }
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "\\u{\(String(scalar.value, radix: 16))}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
