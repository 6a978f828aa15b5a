import Foundation
import LMDB
@_exported import TestSupport

/// Opens an environment in a fresh directory, runs `body`, then closes it and removes the directory.
func withEnvironment<R>(
    options: EnvironmentOptions = .init(), _ body: (Environment, Scratch) throws -> R
) throws -> R {
    let scratch = Scratch("lmdb")
    defer { scratch.remove() }
    let env = try Environment.open(path: scratch.sub("env"), options: options)
    defer { env.close() }
    return try body(env, scratch)
}

/// An 8-byte big-endian key: byte order is numeric order.
func key(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

/// A native-endian 8-byte key for `integerKey` databases.
func nativeKey(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n) { Array($0) } }

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func text(_ buffer: UnsafeRawBufferPointer?) -> String? {
    buffer.map { String(decoding: $0, as: UTF8.self) }
}

/// The keys of a scan, copied.
func keys(_ sequence: CursorSequence) -> [[UInt8]] { sequence.map { Array($0.key) } }

/// The `lmdb-probe` executable, built next to the test binary.
func probeURL() throws -> URL {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("lmdb-probe")
}

/// Starts `lmdb-probe` with `arguments`; `wait` it for its exit status and output.
final class Probe: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = try probeURL()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    /// Waits for the probe to exit; returns its status (a signal's number when one ended it)
    /// and what it printed.
    func wait() -> (status: Int32, reason: Process.TerminationReason, output: String) {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason, String(decoding: data, as: UTF8.self))
    }
}

struct Boom: Error, Equatable {}
