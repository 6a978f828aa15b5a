import Foundation
import LMDB
import TestSupport
import Testing

/// rebuild, verify, export and import through the built binary.
@Suite struct MaintenanceTests {
    static func commands(_ n: Int, prefix: String) -> String {
        (0..<n).map { #"{"command":"CreateGroup","name":"\#(prefix)\#($0)","command_id":"\#(prefix)\#($0)"}"# }
            .joined(separator: "\n") + "\n"
    }

    @Test func rebuildWhileAnotherProcessAppendsEndsWithExactViews() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec"], input: Self.commands(2_000, prefix: "a")).status == 0)
        // A writer process appends one command per transaction while rebuilds run.
        let writer = try cli.backgroundWriter((0..<400).map { #"{"command":"CreateGroup","name":"b\#($0)"}"# }, pause: 500)
        var rebuilds = 0
        while writer.isRunning || rebuilds == 0 {
            let r = try cli.run("rebuild")
            #expect(r.status == 0, "\(r.stderr)")
            rebuilds += 1
        }
        writer.waitUntilExit()
        #expect(writer.terminationStatus == 0)
        let verify = try cli.run("verify")
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.hasPrefix("ok: 2400 events"))
        let groups = try cli.json("show", "groups", "--json") as! [[String: Any]]
        #expect(groups.count == 2_400)
        #expect(rebuilds >= 1)
    }

    @Test(.enabled(if: CLI.onLMDB, "a PostgreSQL ledger is backed up by the server"))
    func aHotBackupTakenWhileAnotherProcessWritesRestoresAndVerifies() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec"], input: Self.commands(1_000, prefix: "a")).status == 0)
        let writer = try cli.backgroundWriter((0..<600).map { #"{"command":"CreateGroup","name":"b\#($0)","command_id":"b\#($0)"}"# },
                                              pause: 300)
        usleep(50_000)
        let copy = cli.dir + "/backup"
        let backup = try cli.run("backup", copy)
        #expect(backup.status == 0, "\(backup.stderr)")
        writer.waitUntilExit()
        // The copy is a store of its own, sound, and its log a prefix of the original's.
        let restored = try cli.run(["--store", copy, "verify"], useStore: false)
        #expect(restored.status == 0, "\(restored.stdout) \(restored.stderr)")
        let original = try cli.run("export").stdout, copied = try cli.run(["--store", copy, "export"], useStore: false).stdout
        #expect(copied.split(separator: "\n").count >= 1_000 && original.hasPrefix(copied))
        var st = stat()
        #expect(stat(copy + "/data.mdb", &st) == 0 && st.st_mode & 0o077 == 0, "the copy is private to its owner")
        // A second backup into the same directory is refused.
        #expect(try cli.run("backup", copy).status == 1)
    }

    @Test(.enabled(if: CLI.onLMDB, "it changes a byte of the LMDB data file"))
    func verifyExitsOneWithTheFirstFault() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec"], input: Self.commands(50, prefix: "g")).status == 0)
        let clean = try cli.run("verify", "--json")
        #expect(clean.status == 0)
        let ok = try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as! [String: Any]
        #expect(ok["ok"] as? Bool == true && ok["events"] as? Int == 50)
        // Change one byte of the name of group g17 in the data file.
        let data = cli.store + "/data.mdb"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: data))
        let needle = Data("g17".utf8)
        var changed = 0
        var from = bytes.startIndex
        while let r = bytes.range(of: needle, in: from..<bytes.endIndex) {
            bytes[r.lowerBound + 1] = UInt8(ascii: "9")  // g17 -> g97
            from = r.upperBound
            changed += 1
        }
        #expect(changed >= 1)
        try bytes.write(to: URL(fileURLWithPath: data))
        let broken = try cli.run("verify")
        #expect(broken.status == 1)
        #expect(broken.stderr.hasPrefix("subledger: fault: ") || broken.stderr.contains("fault: "), "\(broken.stderr)")
        let json = try cli.run("verify", "--json")
        #expect(json.status == 1)
        let fault = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(fault["ok"] as? Bool == false)
        #expect(fault["fault"] != nil)
    }

    /// verify does its work in a child process: when a damaged page kills it (here a SIGSEGV
    /// sent to the child, as a damaged page would raise it), the parent reports one fault line
    /// and exits 1, with `--json` too.
    @Test(.enabled(if: CLI.onLMDB, "verify reads an LMDB store in a child process"))
    func verifyReportsItsChildDyingOfASignalAsOneFault() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec"], input: Self.commands(300, prefix: "g")).status == 0)
        func killedChild(_ extra: [String]) throws -> CLI.Result? {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = ["--store", cli.store, "verify"] + extra
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            var killed = false
            let children = "/proc/\(p.processIdentifier)/task/\(p.processIdentifier)/children"
            while p.isRunning && !killed {
                if let text = try? String(contentsOfFile: children, encoding: .utf8),
                   let child = text.split(separator: " ").first.flatMap({ Int32($0) }) {
                    killed = kill(child, SIGSEGV) == 0
                }
            }
            let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard killed else { return nil }  // the child ended first: try again
            return CLI.Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
        }
        var plain: CLI.Result?, json: CLI.Result?
        for _ in 0..<50 where plain == nil { plain = try killedChild([]) }
        for _ in 0..<50 where json == nil { json = try killedChild(["--json"]) }
        let r = try #require(plain), j = try #require(json)
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("subledger: fault: pages: ") && lines[0].contains("SIGSEGV"), "\(r.stderr)")
        #expect(j.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        #expect(report["ok"] as? Bool == false)
        #expect((report["fault"] as? [String: Any])?["area"] as? String == "pages")
        // Undamaged, the child's verdict is the command's.
        let clean = try cli.run("verify")
        #expect(clean.status == 0 && clean.stdout.hasPrefix("ok: 300 events"))
    }

    /// A page of the log damaged so that liblmdb's own check fails as it is read: a command
    /// reading it ends with one line and exit code 1; verify reports it as its fault.
    @Test(.enabled(if: CLI.onLMDB, "it damages a page of the LMDB data file"))
    func aDamagedPageEndsACommandWithOneLine() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec"], input: Self.commands(300, prefix: "g")).status == 0)
        // The second leaf page of log.events, marked a branch: liblmdb asserts the page it steps onto is a leaf.
        let env = try Environment.open(path: cli.store)
        let events = try env.database("log.events", create: false)
        let stored = try env.read { txn in
            try (1...300 as ClosedRange<UInt64>).map { p in
                try #require(try txn.getBytes(events, withUnsafeBytes(of: p.bigEndian) { Array($0) }))
            }
        }
        env.close()
        #expect(try LMDBPages.markSecondLeafAsBranch(file: cli.store + "/data.mdb", values: stored) == 0x02)  // P_LEAF

        let replay = try cli.run("replay")
        #expect(replay.status == 1)
        #expect(replay.stderr == "subledger: the store's file has a damaged page; `subledger verify` reports it; "
            + "restore a backup, or import an export into a new store\n")
        let verify = try cli.run("verify")
        #expect(verify.status == 1)
        let lines = verify.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("subledger: fault: pages: ") && lines[0].contains("SIGABRT"), "\(verify.stderr)")
    }

    @Test func exportImportExportIsByteIdenticalThroughTheCLI() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec"], input: Self.commands(30, prefix: "g")).status == 0)
        let file = cli.dir + "/export.jsonl"
        #expect(try cli.run("export", "--output", file).status == 0)
        let copy = cli.dir + "/copy.db"
        let imported = try cli.run(["--store", copy, "import", file], useStore: false)
        #expect(imported.status == 0, "\(imported.stderr)")
        let again = try cli.run(["--store", copy, "export"], useStore: false)
        #expect(Data(again.stdout.utf8) == (try Data(contentsOf: URL(fileURLWithPath: file))))
        #expect(try cli.run(["--store", copy, "verify"], useStore: false).status == 0)
        // Into a store that holds events: a clear error, and nothing changes.
        let refused = try cli.run(["--store", copy, "import", file], useStore: false)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("empty store"))
        // A bad line names itself and leaves the new store empty.
        var lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[11] = lines[11].replacingOccurrences(of: "\"g11\"", with: "\"g12\"")
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let other = cli.dir + "/other.db"
        let bad = try cli.run(["--store", other, "import", file], useStore: false)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("line 12:"), "\(bad.stderr)")
        #expect(try cli.run(["--store", other, "stats", "--json"], useStore: false).stdout.contains("\"events\":0"))
    }

    @Test func showAsOfRefusesBadPoints() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        #expect(try cli.run(["exec"], input: Self.commands(3, prefix: "g")).status == 0)
        for bad in ["0", "4", "soon", "2026-02-30T00:00:00Z"] {
            let r = try cli.run("show", "groups", "--as-of", bad)
            #expect(r.status == 1, "--as-of \(bad)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        }
        let two = try cli.json("show", "groups", "--as-of", "2", "--json") as! [[String: Any]]
        #expect(two.map { $0["name"] as! String } == ["g0", "g1"])
    }
}

@Suite struct TwoProcessTests {
    @Test func aSecondExecOfTheSameCommandIDsIsAllDuplicates() throws {
        let cli = CLI()
        defer { cli.cleanUp() }
        let input = (0..<200).map { i in
            #"{"command":"RegisterUser","email":"u\#(i)@example.com","command_id":"reg-\#(i)","at":"2026-01-01T00:00:00Z"}"#
        }.joined(separator: "\n") + "\n"
        let first = try cli.run(["exec", "--json"], input: input)
        #expect(first.status == 0)
        #expect(first.lines.allSatisfy { $0.contains(#""status":"ok""#) })
        let second = try cli.run(["exec", "--json"], input: input)
        #expect(second.status == 0)
        #expect(second.lines.count == 200)
        #expect(second.lines.allSatisfy { $0.contains(#""status":"duplicate""#) })
        // Business time stays monotonic across processes.
        let late = try cli.run(["create-group", "--name", "g", "--at", "2025-12-31T23:59:59Z", "--json"])
        #expect(late.status == 1)
        #expect(late.stdout.contains("at_before_newest"))
    }
}
