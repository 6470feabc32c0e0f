/// Numbers written straight into a byte buffer as Go's print does ("0x" and lowercase hex,
/// plain decimal): a dump formats millions of them, and a String per number costs an
/// allocation each.
public enum ASCIINumbers {
    /// `value` in lowercase hex without a prefix ("c000012345").
    public static func appendHex(_ value: UInt64, to out: inout [UInt8]) {
        // 16 nibbles at most: from the highest non-zero one down.
        let nibbles = value == 0 ? 1 : (67 - value.leadingZeroBitCount) / 4
        var shift = (nibbles - 1) * 4
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xf)
            out.append(nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10))
            shift -= 4
        }
    }

    /// `value` in decimal.
    public static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        guard value >= 10 else {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        // 20 digits at most (UInt64.max), written backwards into a fixed scratch.
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &scratch) { buffer in
            var position = buffer.count
            var rest = value
            while rest > 0 {
                position -= 1
                buffer[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            }
            out.append(contentsOf: buffer[position...])
        }
    }

    /// `value` in decimal, with a minus sign when negative.
    public static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude, to: &out)
    }
}
