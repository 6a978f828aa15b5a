/// Byte writes into an `OutputSpan`, the uninitialized tail that `Array.append(addingCapacity:initializingWith:)`
/// lends: text is formatted straight into the destination buffer, with no `String` or array in between.
/// Every write checks that it fits (and traps otherwise), so none can overrun the reservation.
extension OutputSpan<UInt8> {
    /// Appends `source` in one copy.
    @inline(__always)
    mutating func append(copying source: UnsafeBufferPointer<UInt8>) {
        guard let from = source.baseAddress, source.count > 0 else { return }
        withUnsafeMutableBufferPointer { buffer, count in
            precondition(source.count <= buffer.count - count, "OutputSpan too small")
            (buffer.baseAddress! + count).initialize(from: from, count: source.count)
            count += source.count
        }
    }

    /// Lets `body` write at most `maxCount` bytes at the end through a pointer; `body` returns how many it wrote.
    @inline(__always)
    mutating func append(upTo maxCount: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        guard maxCount > 0 else { return }
        withUnsafeMutableBufferPointer { buffer, count in
            precondition(maxCount <= buffer.count - count, "OutputSpan too small")
            let written = body(buffer.baseAddress! + count)
            precondition(written >= 0 && written <= maxCount, "wrote more than it reserved")
            count += written
        }
    }

    /// Appends `v` in decimal (at most 20 bytes).
    @inline(__always)
    mutating func appendDecimal(_ v: Int64) {
        if v >= 0 && v < 10 {
            append(0x30 &+ UInt8(truncatingIfNeeded: v))
            return
        }
        if v < 0 { append(0x2D) }
        var magnitude = v.magnitude
        var digits = 1
        var power: UInt64 = 10
        while digits < 20 && magnitude >= power {
            digits += 1
            power = power &* 10
        }
        append(upTo: digits) { p in
            var k = digits
            repeat {
                k -= 1
                let (q, r) = magnitude.quotientAndRemainder(dividingBy: 10)
                p[k] = 0x30 &+ UInt8(truncatingIfNeeded: r)
                magnitude = q
            } while k > 0
            return digits
        }
    }

    /// Appends lower-case hex, two digits a byte, eight digits at a time.
    @inline(__always)
    mutating func appendHex(_ bytes: UnsafeRawBufferPointer) {
        append(upTo: 2 * bytes.count) { p in
            let out = UnsafeMutableRawPointer(p)
            var k = 0
            while k + 4 <= bytes.count {
                let word = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: k, as: UInt32.self))
                out.storeBytes(of: hexDigits(word).littleEndian, toByteOffset: 2 * k, as: UInt64.self)
                k += 4
            }
            while k < bytes.count {
                let pair = UInt16(truncatingIfNeeded: hexDigits(UInt32(bytes[k]) << 24))
                out.storeBytes(of: pair.littleEndian, toByteOffset: 2 * k, as: UInt16.self)
                k += 1
            }
            return 2 * bytes.count
        }
    }
}

/// The 8 lower-case hex digits of `x` as ASCII, the first (most significant) digit in the lowest
/// byte, so that storing the word `littleEndian` writes them in reading order. Each nibble is
/// spread into a byte of its own, and all eight become digits at once.
@inline(__always)
func hexDigits(_ x: UInt32) -> UInt64 {
    var v = UInt64(x)
    v = (v | v << 16) & 0x0000_FFFF_0000_FFFF
    v = (v | v << 8) & 0x00FF_00FF_00FF_00FF
    v = (v | v << 4) & 0x0F0F_0F0F_0F0F_0F0F
    // Byte k now holds nibble k, counted from the least significant; 1 in each byte whose nibble is 10 or more:
    let letters = ((v &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
    // '0' + nibble, and 'a' - '0' - 10 = 39 more for a letter; no byte carries into the next.
    v = v &+ 0x3030_3030_3030_3030 &+ letters &* 39
    return v.byteSwapped
}
