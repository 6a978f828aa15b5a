import ArgumentParser
import Subledger

/// What every single-command subcommand shares.
struct CommandOptions: ParsableArguments {
    @OptionGroup var location: StoreLocation
    @Option(name: .customLong("command-id"), help: "An idempotency key (1-128 bytes): a retry is a duplicate.") var commandID: String?
    @Option(help: "Business time (RFC 3339 with Z or an offset); default now.") var at: String?
    @Flag(help: "Machine output: the same object as an exec --json line.") var json = false

    /// Builds the JSON command from flags and runs it through the same path as `exec`.
    func run(_ name: String, _ fields: [(String, String?)], ints: [(String, Int64?)] = []) throws {
        var entries: [(key: String, value: JSONValue)] = [("command", .string(name))]
        for (key, value) in fields { if let value { entries.append((key, .string(value))) } }
        for (key, value) in ints { if let value { entries.append((key, .int(value))) } }
        if let commandID { entries.append(("command_id", .string(commandID))) }
        if let at { entries.append(("at", .string(at))) }
        let store = try location.open()
        let outcome: Outcome
        do {
            outcome = try store.execute(batch: [CommandDecoder.decode(.object(JSONObject(entries)))])[0]
        } catch {
            throw Failure(message: error.description)
        }
        let result = ExecResult(line: 1, outcome: outcome)
        if json {
            Output.line(result.json)
            Output.flush()
            if case .rejected = outcome { throw Failure(message: "", code: 1) }
            return
        }
        switch outcome {
        case .applied(let p, let id): Output.line("ok: position \(p)" + (id.map { ", id \($0)" } ?? ""))
        case .duplicate(let ps, _): Output.line("duplicate: already applied at position \(ps.map(String.init).joined(separator: ", "))")
        case .rejected(let r): throw Failure(message: "rejected: \(r)")
        }
        Output.flush()
    }
}

struct RegisterUser: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "register-user", abstract: "Register a user.",
        discussion: "Example:\n  subledger register-user --email ann@example.com --full-name 'Ann Lee'")
    @OptionGroup var options: CommandOptions
    @Option(help: "The email (unique, case-insensitive).") var email: String
    @Option(name: .customLong("full-name"), help: "The full name.") var fullName: String?
    @Option(help: "Alias of --full-name.") var fullname: String?
    @Option(help: "The user's id (a UUID); default a new one.") var id: String?
    func run() throws {
        try options.run("RegisterUser", [("email", email), ("full_name", fullName), ("fullname", fullname), ("id", id)])
    }
}

struct RenameUser: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename-user", abstract: "Change a user's full name.",
        discussion: "Example:\n  subledger rename-user --user ann@example.com --full-name 'Ann Smith'")
    @OptionGroup var options: CommandOptions
    @Option(help: "The user: id or email.") var user: String
    @Option(name: .customLong("full-name"), help: "The new full name.") var fullName: String?
    @Option(help: "Alias of --full-name.") var fullname: String?
    func run() throws { try options.run("RenameUser", [("user", user), ("full_name", fullName), ("fullname", fullname)]) }
}

struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login", abstract: "Record a login (sets last_login to --at).",
        discussion: "Example:\n  subledger login --user ann@example.com")
    @OptionGroup var options: CommandOptions
    @Option(help: "The user: id or email.") var user: String
    func run() throws { try options.run("RecordLogin", [("user", user)]) }
}

struct DeleteUser: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete-user",
        abstract: "Delete a user, with its memberships and subscriptions.",
        discussion: "Example:\n  subledger delete-user --user ann@example.com")
    @OptionGroup var options: CommandOptions
    @Option(help: "The user: id or email.") var user: String
    func run() throws { try options.run("DeleteUser", [("user", user)]) }
}

struct CreatePlan: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create-plan",
        abstract: "Create a plan; with --seats, a team plan.",
        discussion: "Example:\n  subledger create-plan --name pro --price-cents 900\n  subledger create-plan --name team5 --price-cents 4000 --seats 5")
    @OptionGroup var options: CommandOptions
    @Option(help: "The name (unique, 1-80 characters; default \"free\").") var name: String?
    // Unconditional: `--price-cents -5` reaches the rule (negative_price) instead of reading as a flag.
    @Option(name: .customLong("price-cents"), parsing: .unconditional, help: "The price in cents (default 0).") var priceCents: Int64?
    @Option(parsing: .unconditional, help: "Seats: makes a team plan.") var seats: Int64?
    @Option(help: "The plan's id (a UUID); default a new one.") var id: String?
    func run() throws {
        try options.run("CreatePlan", [("name", name), ("id", id)], ints: [("price_cents", priceCents), ("seats", seats)])
    }
}

struct DeletePlan: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete-plan", abstract: "Delete a plan, with its subscriptions.",
        discussion: "Example:\n  subledger delete-plan --plan pro")
    @OptionGroup var options: CommandOptions
    @Option(help: "The plan: id or name.") var plan: String
    func run() throws { try options.run("DeletePlan", [("plan", plan)]) }
}

struct CreateGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create-group", abstract: "Create a group.",
        discussion: "Example:\n  subledger create-group --name admins")
    @OptionGroup var options: CommandOptions
    @Option(help: "The name (unique, 1-80 characters).") var name: String
    @Option(help: "The group's id (a UUID); default a new one.") var id: String?
    func run() throws { try options.run("CreateGroup", [("name", name), ("id", id)]) }
}

struct DeleteGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete-group", abstract: "Delete a group, with its memberships.",
        discussion: "Example:\n  subledger delete-group --group admins")
    @OptionGroup var options: CommandOptions
    @Option(help: "The group: id or name.") var group: String
    func run() throws { try options.run("DeleteGroup", [("group", group)]) }
}

struct Subscribe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "subscribe", abstract: "Subscribe a user to a plan.",
        discussion: "Example:\n  subledger subscribe --user ann@example.com --plan pro")
    @OptionGroup var options: CommandOptions
    @Option(help: "The user: id or email.") var user: String
    @Option(help: "The plan: id or name.") var plan: String
    @Option(help: "The subscription's id (a UUID); default a new one.") var id: String?
    func run() throws { try options.run("Subscribe", [("user", user), ("plan", plan), ("id", id)]) }
}

struct ChangePlan: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "change-plan",
        abstract: "Move an active subscription to another plan.",
        discussion: "Give --subscription, or both --user and --plan.\nExample:\n  subledger change-plan --user ann@example.com --plan pro --to team5")
    @OptionGroup var options: CommandOptions
    @Option(help: "The subscription's id.") var subscription: String?
    @Option(help: "The user: id or email (with --plan).") var user: String?
    @Option(help: "The current plan: id or name (with --user).") var plan: String?
    @Option(help: "The new plan: id or name.") var to: String
    func run() throws {
        try options.run("ChangePlan", [("subscription", subscription), ("user", user), ("plan", plan), ("to", to)])
    }
}

struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel an active subscription.",
        discussion: "Give --subscription, or both --user and --plan.\nExample:\n  subledger cancel --user ann@example.com --plan pro")
    @OptionGroup var options: CommandOptions
    @Option(help: "The subscription's id.") var subscription: String?
    @Option(help: "The user: id or email (with --plan).") var user: String?
    @Option(help: "The plan: id or name (with --user).") var plan: String?
    func run() throws { try options.run("Cancel", [("subscription", subscription), ("user", user), ("plan", plan)]) }
}

struct Join: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "join", abstract: "Add a user to a group.",
        discussion: "Example:\n  subledger join --user ann@example.com --group admins")
    @OptionGroup var options: CommandOptions
    @Option(help: "The user: id or email.") var user: String
    @Option(help: "The group: id or name.") var group: String
    @Option(help: "The membership's id (a UUID); default a new one.") var id: String?
    func run() throws { try options.run("JoinGroup", [("user", user), ("group", group), ("id", id)]) }
}

struct Leave: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "leave", abstract: "Remove a user from a group.",
        discussion: "Example:\n  subledger leave --user ann@example.com --group admins")
    @OptionGroup var options: CommandOptions
    @Option(help: "The user: id or email.") var user: String
    @Option(help: "The group: id or name.") var group: String
    func run() throws { try options.run("LeaveGroup", [("user", user), ("group", group)]) }
}
