#if canImport(Glibc)
import Glibc
#endif

/// Where a ledger lives on a PostgreSQL server, read from a connection URI as libpq reads it
/// (`postgresql://[user[:password]@][host][:port][/dbname][?param=value&…]`, `postgres://` too),
/// with one more parameter, `ledger` (the schema; default `subledger`). What the URI leaves out
/// comes from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE` and `~/.pgpass`, as libpq
/// takes them. A host that starts with `/` is the directory of the server's unix socket.
struct PostgresLocation: Equatable, Sendable {
    var host: String
    var port: Int
    var user: String
    var password: String?
    var database: String
    var ledger: String
    /// `disable`, `allow`, `prefer`, `require`, `verify-ca` or `verify-full`.
    var sslMode: String
    var applicationName: String?
    var connectTimeout: Int?

    /// Whether `text` names a PostgreSQL server rather than a directory.
    static func isURI(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// The unix socket the server listens on, when the host is a directory.
    var socketPath: String? { host.hasPrefix("/") ? "\(host)/.s.PGSQL.\(port)" : nil }

    /// The location as people read it: never with the password.
    var description: String {
        let where_ = host.hasPrefix("/") ? "/\(database)?host=\(host)&port=\(port)&" : "\(host):\(port)/\(database)?"
        let prefix = host.hasPrefix("/") ? "postgresql://\(user)@" : "postgresql://\(user)@"
        return prefix + where_ + "ledger=\(ledger)"
    }

    /// Reads a URI; `environment` and `home` stand in for the process's in tests.
    init(parsing text: String, environment: [String: String] = PostgresLocation.processEnvironment(),
         home: String? = nil) throws(StoreError) {
        func bad(_ why: String) -> StoreError { .invalidArgument("invalid PostgreSQL URI: \(why)") }
        let rest: Substring
        if text.hasPrefix("postgresql://") { rest = text.dropFirst("postgresql://".count) }
        else if text.hasPrefix("postgres://") { rest = text.dropFirst("postgres://".count) }
        else { throw bad("it must start with postgresql:// or postgres://") }
        var main = rest, query: Substring = ""
        if let q = rest.firstIndex(of: "?") { main = rest[..<q]; query = rest[rest.index(after: q)...] }
        var authority = main, path: Substring = ""
        if let slash = main.firstIndex(of: "/") { authority = main[..<slash]; path = main[main.index(after: slash)...] }
        var userInfo: Substring?, hostPort = authority
        if let at = authority.lastIndex(of: "@") { userInfo = authority[..<at]; hostPort = authority[authority.index(after: at)...] }

        var params: [String: String] = [:]
        if let userInfo {
            if let colon = userInfo.firstIndex(of: ":") {
                params["user"] = try Self.decode(userInfo[..<colon])
                params["password"] = try Self.decode(userInfo[userInfo.index(after: colon)...])
            } else {
                params["user"] = try Self.decode(userInfo)
            }
        }
        if !hostPort.isEmpty {
            if hostPort.contains(",") { throw bad("several hosts are not supported; name one") }
            var h = hostPort, p: Substring?
            if h.hasPrefix("[") {
                guard let close = h.firstIndex(of: "]") else { throw bad("an IPv6 host needs a closing ]") }
                let after = h[h.index(after: close)...]
                if after.hasPrefix(":") { p = after.dropFirst() }
                h = h[h.index(after: h.startIndex)..<close]
            } else if let colon = h.lastIndex(of: ":") {
                p = h[h.index(after: colon)...]
                h = h[..<colon]
            }
            if !h.isEmpty { params["host"] = try Self.decode(h) }
            if let p, !p.isEmpty { params["port"] = String(p) }
        }
        if !path.isEmpty { params["dbname"] = try Self.decode(path) }
        let known: Set<String> = ["host", "hostaddr", "port", "user", "password", "dbname", "sslmode", "application_name",
                                  "connect_timeout", "ledger"]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw bad("query parameter \(quoted(String(pair))) has no value") }
            let key = try Self.decode(parts[0]), value = try Self.decode(parts[1])
            guard known.contains(key) else { throw bad("unknown query parameter \(quoted(key))") }
            params[key == "hostaddr" ? "host" : key] = value
        }

        let osUser = Self.osUserName()
        host = params["host"] ?? environment["PGHOST"] ?? "/var/run/postgresql"
        guard let port = Int(params["port"] ?? environment["PGPORT"] ?? "5432"), (1...65535).contains(port) else {
            throw bad("the port must be a number from 1 to 65535")
        }
        self.port = port
        user = params["user"] ?? environment["PGUSER"] ?? osUser
        database = params["dbname"] ?? environment["PGDATABASE"] ?? user
        ledger = params["ledger"] ?? "subledger"
        sslMode = params["sslmode"] ?? environment["PGSSLMODE"] ?? "prefer"
        guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(sslMode) else {
            throw bad("sslmode must be disable, allow, prefer, require, verify-ca or verify-full")
        }
        applicationName = params["application_name"] ?? environment["PGAPPNAME"]
        if let timeout = params["connect_timeout"] ?? environment["PGCONNECT_TIMEOUT"] {
            guard let seconds = Int(timeout), seconds >= 0 else { throw bad("connect_timeout must be a whole number of seconds") }
            connectTimeout = seconds
        }
        guard !ledger.isEmpty, ledger.utf8.count <= 48,
              ledger.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F })
        else { throw StoreError.invalidArgument("invalid ledger name \(quoted(ledger)): letters, digits and _ only, at most 48 bytes") }
        password = params["password"] ?? environment["PGPASSWORD"]
            ?? Self.passFile(host: host, port: port, database: database, user: user, environment: environment, home: home)
    }

    /// The schema name, quoted for SQL (the name was checked: letters, digits and `_`).
    var schema: String { "\"\(ledger)\"" }

    // MARK: Reading what libpq reads

    static func processEnvironment() -> [String: String] {
        var out: [String: String] = [:]
        for key in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE", "PGAPPNAME", "PGCONNECT_TIMEOUT",
                    "PGPASSFILE", "HOME"] {
            if let v = getenv(key) { out[key] = String(cString: v) }
        }
        return out
    }

    static func osUserName() -> String {
        if let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "postgres"
    }

    /// The password of the first matching line of the password file (`PGPASSFILE`, else
    /// `~/.pgpass`), read only when no one else can read it, as libpq does.
    static func passFile(host: String, port: Int, database: String, user: String,
                         environment: [String: String], home: String?) -> String? {
        guard let path = environment["PGPASSFILE"] ?? (home ?? environment["HOME"]).map({ $0 + "/.pgpass" }) else { return nil }
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & 0o077 == 0, let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var lines: [String] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            lines.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        let hostName = host.hasPrefix("/") ? "localhost" : host
        for raw in lines {
            let line = raw.hasSuffix("\n") ? String(raw.dropLast()) : raw
            if line.hasPrefix("#") || line.isEmpty { continue }
            // Fields are separated by `:`; `\:` and `\\` escape.
            var fields: [String] = [], field = "", escaped = false
            for c in line {
                if escaped { field.append(c); escaped = false } else if c == "\\" { escaped = true }
                else if c == ":" && fields.count < 4 { fields.append(field); field = "" } else { field.append(c) }
            }
            fields.append(field)
            guard fields.count == 5 else { continue }
            let wanted = [hostName, String(port), database, user]
            if zip(fields, wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// Percent-decoding, as URIs spell reserved characters.
    static func decode(_ text: Substring) throws(StoreError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            if b == 0x25 {
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else {
                    throw StoreError.invalidArgument("invalid PostgreSQL URI: a % must be followed by two hex digits")
                }
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw StoreError.invalidArgument("invalid PostgreSQL URI: percent-encoded bytes are not UTF-8")
        }
        return s
    }
}
