import PostgresNIO
import Synchronization

/// One connection to the server, used synchronously: each call sends its statement and waits
/// for the answer on the caller's thread (the store's API is synchronous; the connection's
/// event loop runs on a thread of its own). Not for sharing between threads.
final class PostgresSession: @unchecked Sendable {
    let location: PostgresLocation
    private let connection: PostgresConnection
    private let logger = Logger(label: "subledger.postgres")
    private static let connections = Atomic<Int>(0)

    /// Connects and sets what every statement of the ledger relies on: UTC, and timeouts so that
    /// one stuck writer cannot freeze the ledger.
    init(_ location: PostgresLocation) throws {
        self.location = location
        var configuration: PostgresConnection.Configuration
        if let socket = location.socketPath {
            configuration = .init(unixSocketPath: socket, username: location.user, password: location.password,
                                  database: location.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch location.sslMode {
            case "disable", "allow": tls = .disable
            case "prefer":
                tls = .prefer(try Self.sslContext(verify: false))
            default:
                tls = .require(try Self.sslContext(verify: location.sslMode != "require"))
            }
            configuration = .init(host: location.host, port: location.port, username: location.user,
                                  password: location.password, database: location.database, tls: tls)
        }
        if let seconds = location.connectTimeout, seconds > 0 { configuration.options.connectTimeout = .seconds(Int64(seconds)) }
        if let name = location.applicationName { configuration.options.additionalStartupParameters.append(("application_name", name)) }
        let id = Self.connections.wrappingAdd(1, ordering: .relaxed).newValue
        do {
            connection = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(),
                                                        configuration: configuration, id: id, logger: logger).wait()
        } catch {
            throw PostgresFailure(connecting: error, to: location)
        }
        try execute("SET TIME ZONE 'UTC'")
        try execute("SET lock_timeout = '10s'")
        try execute("SET statement_timeout = '300s'")
    }

    deinit { try? connection.close().wait() }

    private static func sslContext(verify: Bool) throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !verify { tls.certificateVerification = .none }
        do { return try NIOSSLContext(configuration: tls) } catch {
            throw PostgresFailure(description: "cannot set up TLS: \(error)")
        }
    }

    /// How long a statement may wait for its answer before the connection is given up for
    /// lost: past the server's statement timeout, so that only a dead connection reaches it
    /// (a server killed while the connection was idle is not always noticed otherwise).
    var answerTimeout: TimeAmount = .seconds(330)

    /// Statements sent and not yet waited for, oldest first.
    private var unanswered: [EventLoopFuture<[PostgresRow]>] = []
    /// The statements prepared on this connection, by their text: each is parsed and planned
    /// by the server once, not at every run (most of a single command's time on the server).
    private var prepared: [String: PreparedQuery] = [:]
    /// Past this many, statements run unprepared (a bound for texts that vary).
    private static let preparedLimit = 500

    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ sql: String, _ binds: SQLBinds = SQLBinds()) throws -> [PostgresRandomAccessRow] {
        try pipeline([(sql, binds)])[0]
    }

    /// Sends a statement without waiting for its answer: the connection runs statements in the
    /// order sent, and the next call that waits waits for this one's answer first and throws
    /// its failure. For a statement whose answer says nothing but whether it failed (`BEGIN`).
    func send(_ sql: String, _ binds: SQLBinds = SQLBinds()) throws {
        guard !connection.isClosed else { throw lost }
        unanswered.append(try run(sql, binds))
    }

    /// Runs statements one after the other, each sent without waiting for the answer of the one
    /// before (the connection sends the next as soon as the server is ready for it), and returns
    /// the rows of each: one wait on this thread instead of one per statement.
    func pipeline(_ statements: [(sql: String, binds: SQLBinds)]) throws -> [[PostgresRandomAccessRow]] {
        guard !connection.isClosed else {
            unanswered = []
            throw lost
        }
        let earlier = unanswered
        unanswered = []
        let connection = self.connection
        let deadline = connection.eventLoop.scheduleTask(in: answerTimeout) { let _: EventLoopFuture<Void> = connection.close() }
        defer { deadline.cancel() }
        do {
            let answers = try statements.map { try run($0.sql, $0.binds) }
            for answer in earlier { _ = try answer.wait() }
            return try answers.map { try $0.wait().map { $0.makeRandomAccess() } }
        } catch let failure as PostgresFailure {
            throw failure
        } catch {
            throw PostgresFailure(error, location: location)
        }
    }

    /// Sends one statement: prepared (the first time, waiting for the server to prepare it),
    /// else as it is.
    private func run(_ sql: String, _ binds: SQLBinds) throws -> EventLoopFuture<[PostgresRow]> {
        if let statement = prepared[sql] { return statement.execute(binds.values) }
        guard prepared.count < Self.preparedLimit else {
            return connection.query(PostgresQuery(unsafeSQL: sql, binds: binds.bindings), logger: logger).map(\.rows)
        }
        let statement: PreparedQuery
        do { statement = try connection.prepare(query: sql).wait() } catch { throw PostgresFailure(error, location: location) }
        prepared[sql] = statement
        return statement.execute(binds.values)
    }

    private var lost: PostgresFailure { PostgresFailure(description: "the connection to \(location.description) was lost") }

    /// Runs statements that return nothing to read.
    func execute(_ sql: String, _ binds: SQLBinds = SQLBinds()) throws {
        try query(sql, binds)
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(readOnly: Bool = false, _ body: () throws -> T) throws -> T {
        // Its answer is waited for with the body's first statement's: one round trip fewer.
        try send(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Calls `notified` on each notification of `channel` (LISTEN) from now on.
    func listen(_ channel: String, _ notified: @escaping @Sendable () -> Void) throws {
        connection.addListener(channel: channel) { _, _ in notified() }
        try execute("LISTEN \"\(channel)\"")
    }

    func close() { try? connection.close().wait() }
}

/// What the server or the connection said, in one line for people: never a SQLSTATE code, never
/// the password.
struct PostgresFailure: StorageFailure {
    let description: String
    /// The SQLSTATE, for the store to act on (a serialization failure is retried).
    var sqlState: String?

    /// Whether the connection is gone (lost, or the server going away): a new one may work.
    var isConnectionLost: Bool {
        guard let sqlState else { return true }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }

    init(description: String, sqlState: String? = nil) {
        self.description = description
        self.sqlState = sqlState
    }

    init(connecting error: any Error, to location: PostgresLocation) {
        let base = PostgresFailure(error, location: location)
        if base.sqlState != nil {
            self = base
        } else {
            self.init(description: "cannot connect to \(location.description): \(base.description)")
        }
    }

    init(_ error: any Error, location: PostgresLocation) {
        // Prepared statements answer with the older error type.
        if case .server(let server) = error as? PostgresError {
            self.init(state: server.fields[.sqlState], message: server.fields[.message] ?? "", code: nil, underlying: nil,
                      location: location)
            return
        }
        if case .connectionClosed = error as? PostgresError {
            self.init(description: "the connection to \(location.description) was lost")
            return
        }
        guard let psql = error as? PSQLError else {
            self.init(description: Self.plain(error))
            return
        }
        self.init(state: psql.serverInfo?[.sqlState], message: psql.serverInfo?[.message] ?? "", code: psql.code,
                  underlying: psql.underlying, location: location)
    }

    private init(state: String?, message: String, code: PSQLError.Code?, underlying: (any Error)?, location: PostgresLocation) {
        switch state {
        case "28P01", "28000":
            self.init(description: "login failed for user \(quoted(location.user)) at \(location.description): \(message)", sqlState: state)
        case "3D000":
            self.init(description: "database \(quoted(location.database)) does not exist on the server of \(location.description)", sqlState: state)
        case "25006":
            self.init(description: "the server of \(location.description) is a read-only replica: write to the primary", sqlState: state)
        case "55P03":
            self.init(description: "the ledger stayed locked by another writer past the lock timeout; try again", sqlState: state)
        case "57014":
            self.init(description: "a statement ran past the statement timeout and was cancelled", sqlState: state)
        case "53100":
            self.init(description: "the server's disk is full", sqlState: state)
        case "57P01", "57P02", "57P03":
            self.init(description: "the server is shutting down or starting: \(message)", sqlState: state)
        case .some:
            self.init(description: message.isEmpty ? "the server refused a statement" : message, sqlState: state)
        case nil:
            switch code {
            case .serverClosedConnection?, .clientClosedConnection?, .uncleanShutdown?:
                self.init(description: "the connection to \(location.description) was lost")
            case .connectionError?:
                self.init(description: underlying.map(Self.plain) ?? "connection error")
            default:
                self.init(description: underlying.map(Self.plain) ?? code?.description ?? "the server failed")
            }
        }
    }

    /// An error of the connection layer as a short phrase.
    static func plain(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectTimeout") || text.contains("timeout") { return "the connection timed out" }
        if text.contains("connection reset") { return "the connection was reset" }
        if text.contains("No such file") || text.contains("errno: 2") { return "no server listens there (no such socket)" }
        if text.contains("refused") || text.contains("errno: 111") { return "connection refused (is the server running?)" }
        if let range = text.range(of: "description: ") { return String(text[range.upperBound...].prefix(200)) }
        return String(text.prefix(200))
    }
}

/// Parameters of a statement, in order, as the server reads them: bound to a prepared
/// statement (`values`) or to one sent as it is (`bindings`).
struct SQLBinds {
    private(set) var values: [PostgresData] = []

    var count: Int { values.count }

    mutating func append<T: PostgresEncodable>(_ value: T) {
        var buffer = ByteBuffer()
        do { try value.encode(into: &buffer, context: .default) } catch {
            preconditionFailure("\(T.self) fails to encode: \(error)")
        }
        values.append(PostgresData(type: T.psqlType, formatCode: T.psqlFormat, value: buffer))
    }

    var bindings: PostgresBindings {
        var out = PostgresBindings(capacity: values.count)
        for value in values { out.append(value) }
        return out
    }
}
