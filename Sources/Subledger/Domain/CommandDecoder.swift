/// Turns one JSON command into a `CommandEnvelope`, running every field validation of docs/commands.md
/// and §5 in their order: the command name, unknown keys, missing fields, types, then values.
public enum CommandDecoder {
    /// The longest line `exec` reads; longer ones are rejected without being held whole.
    public static let maxLineBytes = LineReader.defaultMaxLineBytes

    /// Parses and validates one line of JSON Lines input.
    public static func decode(line: UnsafeRawBufferPointer) -> Result<CommandEnvelope, Rejection> {
        if line.count > maxLineBytes { return .failure(.lineTooLong(limit: maxLineBytes)) }
        let value: JSONValue
        do { value = try JSONParser.parse(line) } catch { return .failure(.malformedJSON(error.message)) }
        return decode(value)
    }

    /// Parses and validates one command given as text.
    public static func decode(line: String) -> Result<CommandEnvelope, Rejection> {
        var line = line
        return line.withUTF8 { decode(line: UnsafeRawBufferPointer($0)) }
    }

    /// Validates a parsed JSON value.
    public static func decode(_ value: JSONValue) -> Result<CommandEnvelope, Rejection> {
        do { return .success(try decodeThrowing(value)) } catch { return .failure(error) }
    }

    static func decodeThrowing(_ value: JSONValue) throws(Rejection) -> CommandEnvelope {
        guard case .object(let object) = value else { throw .notAnObject }
        guard let nameValue = object["command"] else { throw .missingField("command") }
        guard case .string(let name) = nameValue else { throw .wrongType(field: "command", expected: "a string") }
        guard let shape = CommandShape.all[name] else { throw .unknownCommand(name) }
        var fields = Fields(object: object)
        try fields.checkKeys(allowed: shape.allowed)
        for required in shape.required where object[required] == nil {
            if required == "full_name", object["fullname"] != nil { continue }
            throw .missingField(required)
        }
        try fields.checkTypes()

        let command = try shape.build(&fields)
        let commandID = try fields.string("command_id").map { (id: String) throws(Rejection) -> String in
            let n = id.utf8.count
            if n == 0 { throw .invalidLength(field: "command_id", range: "1 to 128 bytes") }
            if n > 128 { throw .tooLong(field: "command_id", limit: "128 bytes") }
            return id
        }
        let at = try fields.string("at").map { (text: String) throws(Rejection) -> Timestamp in
            guard let t = Timestamp(rfc3339: text) else { throw .invalidAt }
            return t
        }
        return CommandEnvelope(command, commandID: commandID, at: at)
    }
}

/// The keys one command takes and how to build it.
struct CommandShape {
    var allowed: Set<String>
    var required: [String]
    var build: (inout Fields) throws(Rejection) -> Command

    init(_ fields: [String], required: [String], build: @escaping (inout Fields) throws(Rejection) -> Command) {
        allowed = Set(fields + ["command", "command_id", "at"])
        self.required = required
        self.build = build
    }

    nonisolated(unsafe) static let all: [String: CommandShape] = [
        "RegisterUser": CommandShape(["email", "full_name", "fullname", "id"], required: ["email"]) { f throws(Rejection) in
            let email = trimmed(try f.requiredString("email"))
            guard email.utf8.contains(0x40) else { throw .invalidEmail }
            return .registerUser(email: email, fullName: try f.fullName() ?? "", id: try f.id("id"))
        },
        "RenameUser": CommandShape(["user", "full_name", "fullname"], required: ["user", "full_name"]) { f throws(Rejection) in
            .renameUser(user: try f.reference("user"), fullName: try f.fullName() ?? "")
        },
        "RecordLogin": CommandShape(["user"], required: ["user"]) { f throws(Rejection) in
            .recordLogin(user: try f.reference("user"))
        },
        "DeleteUser": CommandShape(["user"], required: ["user"]) { f throws(Rejection) in
            .deleteUser(user: try f.reference("user"))
        },
        "CreatePlan": CommandShape(["name", "price_cents", "seats", "id"], required: []) { f throws(Rejection) in
            let name = try f.name("name") ?? "free"
            let price = try f.int("price_cents") ?? 0
            guard price >= 0 else { throw .negativePrice }
            let seats = try f.int("seats")
            if let seats, seats < 1 { throw .invalidSeats }
            return .createPlan(name: name, priceCents: price, seats: seats, id: try f.id("id"))
        },
        "DeletePlan": CommandShape(["plan"], required: ["plan"]) { f throws(Rejection) in
            .deletePlan(plan: try f.reference("plan"))
        },
        "CreateGroup": CommandShape(["name", "id"], required: ["name"]) { f throws(Rejection) in
            .createGroup(name: try f.name("name")!, id: try f.id("id"))
        },
        "DeleteGroup": CommandShape(["group"], required: ["group"]) { f throws(Rejection) in
            .deleteGroup(group: try f.reference("group"))
        },
        "Subscribe": CommandShape(["user", "plan", "id"], required: ["user", "plan"]) { f throws(Rejection) in
            .subscribe(user: try f.reference("user"), plan: try f.reference("plan"), id: try f.id("id"))
        },
        "ChangePlan": CommandShape(["subscription", "user", "plan", "to"], required: ["to"]) { f throws(Rejection) in
            let subscription = try f.subscriptionReference()
            return .changePlan(subscription, to: try f.reference("to"))
        },
        "Cancel": CommandShape(["subscription", "user", "plan"], required: []) { f throws(Rejection) in
            .cancel(try f.subscriptionReference())
        },
        "JoinGroup": CommandShape(["user", "group", "id"], required: ["user", "group"]) { f throws(Rejection) in
            .joinGroup(user: try f.reference("user"), group: try f.reference("group"), id: try f.id("id"))
        },
        "LeaveGroup": CommandShape(["user", "group"], required: ["user", "group"]) { f throws(Rejection) in
            .leaveGroup(user: try f.reference("user"), group: try f.reference("group"))
        },
    ]
}

/// The fields of one command object, read with their validations.
struct Fields {
    let object: JSONObject
    static let maxStringBytes = 1024
    static let integerFields: Set<String> = ["price_cents", "seats"]

    func checkKeys(allowed: Set<String>) throws(Rejection) {
        for entry in object.entries where !allowed.contains(entry.key) { throw .unknownField(entry.key) }
    }

    /// Every field's JSON type, before any value is looked at.
    func checkTypes() throws(Rejection) {
        for entry in object.entries {
            if Fields.integerFields.contains(entry.key) {
                guard case .int = entry.value else { throw .wrongType(field: entry.key, expected: "an integer that fits in 64 bits") }
            } else {
                guard case .string = entry.value else { throw .wrongType(field: entry.key, expected: "a string") }
            }
        }
    }

    func string(_ key: String) throws(Rejection) -> String? {
        guard case .string(let s)? = object[key] else { return nil }
        if s.utf8.count > Fields.maxStringBytes { throw .tooLong(field: key, limit: "1 KiB") }
        return s
    }

    func requiredString(_ key: String) throws(Rejection) -> String {
        guard let s = try string(key) else { throw .missingField(key) }
        return s
    }

    func int(_ key: String) throws(Rejection) -> Int64? {
        guard case .int(let v)? = object[key] else { return nil }
        return v
    }

    func id(_ key: String) throws(Rejection) -> EntityID? {
        guard let text = try string(key) else { return nil }
        guard let id = EntityID(text) else { throw .invalidUUID(field: key) }
        return id
    }

    func reference(_ key: String) throws(Rejection) -> Reference {
        Reference(try requiredString(key))
    }

    /// A plan or group name: 1...80 characters (Unicode scalars), exact.
    func name(_ key: String) throws(Rejection) -> String? {
        guard let name = try string(key) else { return nil }
        let n = name.unicodeScalars.count
        if n == 0 { throw .invalidLength(field: key, range: "1 to 80 characters") }
        if n > 80 { throw .tooLong(field: key, limit: "80 characters") }
        return name
    }

    /// `full_name`, or its alias `fullname`; both are fine when equal.
    func fullName() throws(Rejection) -> String? {
        let a = try string("full_name"), b = try string("fullname")
        if let a, let b, a != b { throw .aliasConflict }
        return a ?? b
    }

    /// `subscription`, or both `user` and `plan`, never a mix.
    func subscriptionReference() throws(Rejection) -> SubscriptionReference {
        let hasSubscription = object["subscription"] != nil
        let hasUser = object["user"] != nil, hasPlan = object["plan"] != nil
        if hasSubscription && !hasUser && !hasPlan {
            guard let id = try self.id("subscription") else { throw .subscriptionReference }
            return .id(id)
        }
        guard !hasSubscription, hasUser, hasPlan else { throw .subscriptionReference }
        return .userPlan(user: try reference("user"), plan: try reference("plan"))
    }
}

/// Trims Unicode white space at both ends.
func trimmed(_ s: String) -> String {
    let scalars = s.unicodeScalars
    guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
    let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
    if first == scalars.startIndex && last == scalars.index(before: scalars.endIndex) { return s }
    return String(scalars[first...last])
}

extension String {
    /// The form emails are compared in: trimmed and lower-cased.
    var emailKey: String { trimmed(self).lowercased() }
}
