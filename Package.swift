// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "subledger",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Subledger", targets: ["Subledger"]),
        .library(name: "LMDB", targets: ["LMDB"]),
        .executable(name: "subledger", targets: ["subledger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Debian's liblmdb-dev, seen through a module map.
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB", providers: [.apt(["liblmdb-dev"])]),
        // The only code that calls mdb_*.
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        // The one CPU hint Swift does not expose: loading a cache line ahead of its use.
        .target(name: "CPrefetch"),
        // The ledger: domain, log, projections, the store and its backends (LMDB, PostgreSQL).
        .target(name: "Subledger", dependencies: [
            "LMDB", "CPrefetch",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        // The command-line tool: parsing and printing only.
        .executableTarget(name: "subledger", dependencies: [
            "Subledger",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/SubledgerCLI"),
        // Benchmarks, run by tools/bench.
        .executableTarget(name: "subledger-bench", dependencies: [
            "Subledger", "LMDB", "CLMDB", .product(name: "PostgresNIO", package: "postgres-nio"),
        ], path: "tools/benchmark",
                          exclude: ["RESULTS.md", "pages-written"]),

        // A second process for the LMDB tests.
        .executableTarget(name: "lmdb-probe", dependencies: ["LMDB"], path: "Tests/LMDBProbe"),
        // Helpers every test target shares: scratch directories, values shared between threads.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "lmdb-probe", "TestSupport"]),
        .testTarget(name: "SubledgerTests", dependencies: [
            "Subledger", "LMDB", "TestSupport",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "CLITests", dependencies: ["subledger", "LMDB", "TestSupport"]),
    ]
)
