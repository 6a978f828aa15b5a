#if canImport(Glibc)
import Glibc
#endif

// Counting the LMDB calls the library makes.
//
// The bench binary defines the C symbols `mdb_put`, `mdb_del` and `mdb_get` itself. The static
// linker resolves the references from the LMDB module (linked into this executable) to these
// definitions rather than to liblmdb.so; each counts the call and forwards it to the real
// function, found with `dlsym(RTLD_NEXT, ...)`. The raw baselines call the real functions
// directly (`RealLMDB`), so they are neither counted nor slowed.

/// Calls made through the library since the last `reset()`. Single-threaded use only.
enum LMDBCalls {
    nonisolated(unsafe) static var puts = 0
    nonisolated(unsafe) static var dels = 0
    nonisolated(unsafe) static var gets = 0
    nonisolated(unsafe) static var cursorGets = 0
    nonisolated(unsafe) static var cursorOpens = 0

    /// Database names by handle, learned from `mdb_dbi_open`, and the calls per handle.
    nonisolated(unsafe) static var names: [UInt32: String] = [:]
    nonisolated(unsafe) static var putsByDatabase = [Int](repeating: 0, count: 256)
    nonisolated(unsafe) static var delsByDatabase = [Int](repeating: 0, count: 256)
    nonisolated(unsafe) static var getsByDatabase = [Int](repeating: 0, count: 256)

    static func reset() {
        puts = 0; dels = 0; gets = 0; cursorGets = 0; cursorOpens = 0
        for i in 0..<256 { putsByDatabase[i] = 0; delsByDatabase[i] = 0; getsByDatabase[i] = 0 }
    }

    /// `name puts dels gets` for each database that was written or read.
    static func byDatabase() -> [(name: String, puts: Int, dels: Int, gets: Int)] {
        (0..<256).compactMap { i in
            guard putsByDatabase[i] + delsByDatabase[i] + getsByDatabase[i] > 0 else { return nil }
            return (names[UInt32(i)] ?? "dbi \(i)", putsByDatabase[i], delsByDatabase[i], getsByDatabase[i])
        }
    }
}

typealias MDBPutFunction = @convention(c) (OpaquePointer?, UInt32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UInt32) -> Int32
typealias MDBDelFunction = @convention(c) (OpaquePointer?, UInt32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int32
typealias MDBGetFunction = @convention(c) (OpaquePointer?, UInt32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int32
typealias MDBCursorGetFunction = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UInt32) -> Int32
typealias MDBDbiOpenFunction = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UInt32, UnsafeMutablePointer<UInt32>?) -> Int32
typealias MDBCursorOpenFunction = @convention(c) (OpaquePointer?, UInt32, UnsafeMutablePointer<OpaquePointer?>?) -> Int32

/// The functions of liblmdb.so, past this executable's counting wrappers.
enum RealLMDB {
    static func find(_ name: String) -> UnsafeMutableRawPointer {
        // RTLD_NEXT is ((void *) -1) in glibc.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: -1), name) else {
            fatalError("dlsym(RTLD_NEXT, \(name)) failed: is liblmdb linked dynamically?")
        }
        return symbol
    }

    nonisolated(unsafe) static let put = unsafeBitCast(find("mdb_put"), to: MDBPutFunction.self)
    nonisolated(unsafe) static let del = unsafeBitCast(find("mdb_del"), to: MDBDelFunction.self)
    nonisolated(unsafe) static let get = unsafeBitCast(find("mdb_get"), to: MDBGetFunction.self)
    nonisolated(unsafe) static let cursorGet = unsafeBitCast(find("mdb_cursor_get"), to: MDBCursorGetFunction.self)
    nonisolated(unsafe) static let dbiOpen = unsafeBitCast(find("mdb_dbi_open"), to: MDBDbiOpenFunction.self)
    nonisolated(unsafe) static let cursorOpen = unsafeBitCast(find("mdb_cursor_open"), to: MDBCursorOpenFunction.self)
}

@_cdecl("mdb_put")
public func benchCountingPut(_ txn: OpaquePointer?, _ dbi: UInt32, _ key: UnsafeMutableRawPointer?,
                             _ data: UnsafeMutableRawPointer?, _ flags: UInt32) -> Int32 {
    LMDBCalls.puts &+= 1
    LMDBCalls.putsByDatabase[Int(dbi & 0xFF)] &+= 1
    return RealLMDB.put(txn, dbi, key, data, flags)
}

@_cdecl("mdb_del")
public func benchCountingDel(_ txn: OpaquePointer?, _ dbi: UInt32, _ key: UnsafeMutableRawPointer?,
                             _ data: UnsafeMutableRawPointer?) -> Int32 {
    LMDBCalls.dels &+= 1
    LMDBCalls.delsByDatabase[Int(dbi & 0xFF)] &+= 1
    return RealLMDB.del(txn, dbi, key, data)
}

@_cdecl("mdb_get")
public func benchCountingGet(_ txn: OpaquePointer?, _ dbi: UInt32, _ key: UnsafeMutableRawPointer?,
                             _ data: UnsafeMutableRawPointer?) -> Int32 {
    LMDBCalls.gets &+= 1
    LMDBCalls.getsByDatabase[Int(dbi & 0xFF)] &+= 1
    return RealLMDB.get(txn, dbi, key, data)
}

@_cdecl("mdb_cursor_get")
public func benchCountingCursorGet(_ cursor: OpaquePointer?, _ key: UnsafeMutableRawPointer?,
                                   _ data: UnsafeMutableRawPointer?, _ op: UInt32) -> Int32 {
    LMDBCalls.cursorGets &+= 1
    return RealLMDB.cursorGet(cursor, key, data, op)
}

@_cdecl("mdb_cursor_open")
public func benchCountingCursorOpen(_ txn: OpaquePointer?, _ dbi: UInt32,
                                    _ cursor: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    LMDBCalls.cursorOpens &+= 1
    return RealLMDB.cursorOpen(txn, dbi, cursor)
}

@_cdecl("mdb_dbi_open")
public func benchRecordingDbiOpen(_ txn: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ flags: UInt32,
                                  _ dbi: UnsafeMutablePointer<UInt32>?) -> Int32 {
    let rc = RealLMDB.dbiOpen(txn, name, flags, dbi)
    if rc == 0, let dbi { LMDBCalls.names[dbi.pointee] = name.map { String(cString: $0) } ?? "(main)" }
    return rc
}
