#if canImport(Glibc)
import Glibc
#endif

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// The nearest-rank percentile (`p` in 0...100).
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let s = values.sorted()
    let rank = Int((p / 100 * Double(s.count)).rounded(.up))
    return s[min(max(rank, 1), s.count) - 1]
}

func printErr(_ s: String) {
    var line = Array((s + "\n").utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

// MARK: Number formatting (no Foundation)

/// `1234567.8` → `1,234,568`; with `decimals`, `12.35`.
func format(_ v: Double, decimals: Int = 0) -> String {
    guard v.isFinite else { return "n/a" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (abs(v) * scale).rounded()
    let whole = Int(rounded / scale)
    var text = ""
    let digits = Array(String(whole))
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { text.append(",") }
        text.append(d)
    }
    if decimals > 0 {
        var frac = String(Int(rounded.truncatingRemainder(dividingBy: scale)))
        while frac.count < decimals { frac = "0" + frac }
        text += "." + frac
    }
    return (v < 0 ? "-" : "") + text
}

/// Three significant digits, for ratios: `0.0123`, `0.456`, `1.23`, `45.6`.
func formatRatio(_ v: Double) -> String {
    guard v.isFinite, v > 0 else { return "n/a" }
    var decimals = 2
    var x = v
    while x < 1 && decimals < 6 { x *= 10; decimals += 1 }
    if v >= 10 { decimals = v >= 100 ? 0 : 1 }
    return format(v, decimals: decimals)
}

func formatMB(_ kilobytes: Double) -> String {
    kilobytes.isFinite ? format(kilobytes / 1024, decimals: 1) + " MB" : "n/a"
}

func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let n = s.count
    guard n < width else { return s }
    let fill = String(repeating: " ", count: width - n)
    return right ? fill + s : s + fill
}

/// JSON string escaping for the report.
func jsonString(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if c.value < 0x20 { out += "\\u00" + String(c.value, radix: 16).leftPad(2) } else { out.unicodeScalars.append(c) }
        }
    }
    return out + "\""
}

func jsonNumber(_ v: Double) -> String {
    guard v.isFinite else { return "null" }
    if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
    return String(v)
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

// MARK: Files

func removeTree(_ path: String) {
    guard access(path, F_OK) == 0 else { return }
    _ = runTool(["/bin/rm", "-rf", path])
}

/// Copies a store directory's `data.mdb` in 4 KiB writes, as LMDB writes its pages. (A `cp` in
/// large writes leaves large page-cache folios behind on Linux 6.16+ ext4, and every later 4 KiB
/// page write then dirties a whole folio: up to 8x the storage writes, not what a store built by
/// LMDB sees.) The lock file is not copied; LMDB makes a new one.
func copyTree(_ from: String, _ to: String) throws {
    removeTree(to)
    mkdir(to, 0o700)
    guard runTool(["/bin/dd", "if=\(from)/data.mdb", "of=\(to)/data.mdb", "bs=4096", "status=none"]) == 0 else {
        throw BenchError("cannot copy \(from) to \(to)")
    }
}

func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : 0
}

/// Bytes on disk of a store directory's data file.
func storeBytes(_ dir: String) -> Int {
    var st = stat()
    return stat(dir + "/data.mdb", &st) == 0 ? Int(st.st_blocks) * 512 : 0
}

func readLines(_ path: String, limit: Int) throws -> [String] {
    guard let f = fopen(path, "r") else { throw BenchError("cannot open \(path)") }
    defer { fclose(f) }
    var lines: [String] = []
    var line: UnsafeMutablePointer<CChar>? = nil
    var cap = 0
    defer { free(line) }
    while lines.count < limit {
        let n = getline(&line, &cap, f)
        if n < 0 { break }
        var s = String(cString: line!)
        if s.hasSuffix("\n") { s.removeLast() }
        lines.append(s)
    }
    return lines
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw BenchError("cannot create \(path)") }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        guard n > 0 else { throw BenchError("cannot write \(path)") }
        offset += n
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw BenchError("cannot open \(path)") }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}

/// Event sizes, as little-endian UInt32s.
func writeSizes(_ path: String, _ sizes: [UInt32]) throws {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(sizes.count * 4)
    for s in sizes { withUnsafeBytes(of: s.littleEndian) { bytes.append(contentsOf: $0) } }
    try writeFile(path, bytes)
}

func readSizes(_ path: String) throws -> [UInt32] {
    let bytes = try readFile(path)
    var sizes: [UInt32] = []
    sizes.reserveCapacity(bytes.count / 4)
    var i = 0
    while i + 4 <= bytes.count {
        var v = UInt32(bytes[i])
        v |= UInt32(bytes[i + 1]) << 8
        v |= UInt32(bytes[i + 2]) << 16
        v |= UInt32(bytes[i + 3]) << 24
        sizes.append(v)
        i += 4
    }
    return sizes
}

// MARK: Processes

/// Runs a program and waits; returns its exit status.
@discardableResult
func runTool(_ argv: [String]) -> Int32 {
    var pid = pid_t()
    let cArgs = argv.map { strdup($0) } + [nil]
    defer { for a in cArgs { free(a) } }
    guard posix_spawn(&pid, argv[0], nil, nil, cArgs, environ) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status
}

/// What a measurement child reported: its `key value` lines, and its peak RSS in KiB.
struct ChildReport {
    var values: [String: String] = [:]
    var maxRSSKiB: Double = .nan

    func double(_ key: String) -> Double { values[key].flatMap(Double.init) ?? .nan }
}

/// Re-executes this binary (`/proc/self/exe`) with `arguments`, reads the lines it prints to
/// stdout (`key value`), and takes its peak RSS from `wait4`, so each measurement's RSS is its own.
func runChild(_ arguments: [String]) throws -> ChildReport {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw BenchError("pipe failed") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    posix_spawn_file_actions_addclose(&actions, fds[1])
    let argv = ["/proc/self/exe"] + arguments
    let cArgs = argv.map { strdup($0) } + [nil]
    defer { for a in cArgs { free(a) } }
    var pid = pid_t()
    let rc = posix_spawn(&pid, "/proc/self/exe", &actions, nil, cArgs, environ)
    close(fds[1])
    guard rc == 0 else { close(fds[0]); throw BenchError("posix_spawn failed: \(rc)") }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        output.append(contentsOf: chunk[0..<n])
    }
    close(fds[0])
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    guard status == 0 else {
        throw BenchError("measurement child failed (status \(status)): \(arguments.joined(separator: " "))")
    }
    var report = ChildReport()
    report.maxRSSKiB = Double(usage.ru_maxrss)
    for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
        guard let space = line.firstIndex(of: " ") else { continue }
        report.values[String(line[..<space])] = String(line[line.index(after: space)...])
    }
    return report
}

/// What a child prints for the parent.
func report(_ key: String, _ value: Any) {
    print("\(key) \(value)")
}
