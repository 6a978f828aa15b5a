import Foundation
import Testing
@testable import Subledger

/// Store locations read as libpq reads connection URIs, with `ledger=NAME`.
@Suite struct PostgresLocationTests {
    let none: [String: String] = [:]

    @Test func hostPortUserPasswordDatabaseAndLedger() throws {
        let l = try PostgresLocation(parsing: "postgresql://app:s%3Acret@db.internal:6543/shop?ledger=tenant_42&sslmode=disable",
                                     environment: none)
        #expect(l.host == "db.internal" && l.port == 6543 && l.user == "app" && l.password == "s:cret")
        #expect(l.database == "shop" && l.ledger == "tenant_42" && l.sslMode == "disable" && l.socketPath == nil)
        #expect(!l.description.contains("s:cret") && !l.description.contains("cret"))
        #expect(l.description == "postgresql://app@db.internal:6543/shop?ledger=tenant_42")
    }

    @Test func aUnixSocketAsAQueryParameter() throws {
        let l = try PostgresLocation(parsing: "postgres:///shop?host=/run/postgresql&user=app", environment: none)
        #expect(l.host == "/run/postgresql" && l.socketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(l.user == "app" && l.database == "shop" && l.ledger == "subledger")
    }

    @Test func whatTheURILeavesOutComesFromTheEnvironment() throws {
        let env = ["PGHOST": "pg.example", "PGPORT": "5433", "PGUSER": "svc", "PGPASSWORD": "pw", "PGDATABASE": "ledgers"]
        let l = try PostgresLocation(parsing: "postgresql://", environment: env)
        #expect(l.host == "pg.example" && l.port == 5433 && l.user == "svc" && l.password == "pw" && l.database == "ledgers")
        let given = try PostgresLocation(parsing: "postgresql://other@h/db", environment: env)
        #expect(given.user == "other" && given.host == "h" && given.database == "db" && given.port == 5433)
    }

    @Test func theDatabaseDefaultsToTheUser() throws {
        #expect(try PostgresLocation(parsing: "postgresql://ann@h", environment: none).database == "ann")
    }

    @Test func aPasswordFileReadableByOthersIsIgnored() throws {
        let dir = Scratch("pgpass").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/.pgpass"
        try "# comment\nh:5432:db:app:from\\:file\n*:*:*:*:fallback\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        #expect(try PostgresLocation(parsing: "postgresql://app@h/db", environment: none, home: dir).password == "from:file")
        #expect(try PostgresLocation(parsing: "postgresql://app@h/other", environment: none, home: dir).password == "fallback")
        chmod(file, 0o644)
        #expect(try PostgresLocation(parsing: "postgresql://app@h/db", environment: none, home: dir).password == nil)
    }

    @Test(arguments: [
        ("mysql://h/db", "must start with postgresql://"),
        ("postgresql://h/db?sslmod=require", "unknown query parameter \"sslmod\""),
        ("postgresql://h:99999/db", "the port must be a number"),
        ("postgresql://h/db?ledger=bad-name", "invalid ledger name"),
        ("postgresql://h/db?ledger=" + String(repeating: "x", count: 49), "invalid ledger name"),
        ("postgresql://h/db?sslmode=sometimes", "sslmode must be"),
        ("postgresql://h%zz/db", "two hex digits"),
        ("postgresql://a,b/db", "several hosts"),
    ])
    func badLocationsAreOneLineNamingTheProblem(_ text: String, _ expected: String) {
        #expect(throws: StoreError.self) { try PostgresLocation(parsing: text, environment: [:]) }
        do { _ = try PostgresLocation(parsing: text, environment: [:]) } catch {
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func onlyURIsNameAServer() {
        #expect(PostgresLocation.isURI("postgresql://h/db") && PostgresLocation.isURI("postgres://h/db"))
        #expect(!PostgresLocation.isURI("./subledger.db") && !PostgresLocation.isURI("/var/lib/postgres"))
    }
}
