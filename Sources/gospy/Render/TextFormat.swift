#if canImport(Glibc)
import Glibc
#endif

/// printf-style numbers and fixed-width columns without full Foundation (String(format:) and
/// padding(toLength:) live there, with its ICU library): the static binary links
/// FoundationEssentials only.
enum TextFormat {
    /// `value` with `decimals` digits after the point, as "%.Nf" prints it.
    static func fixed(_ value: Double, decimals: Int) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let written = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.\(decimals)f", $0) }
        guard written >= 0 else { return "\(value)" }
        if Int(written) < buffer.count { return text(buffer) }
        // Huge values: ask again with room for every digit.
        buffer = [CChar](repeating: 0, count: Int(written) + 1)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.\(decimals)f", $0) }
        return text(buffer)
    }

    /// The C string in `buffer`, up to its terminating zero.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension String {
    /// The text cut or padded with spaces to exactly `width` characters, like
    /// `padding(toLength: width, withPad: " ", startingAt: 0)`.
    func padded(to width: Int) -> String {
        count >= width ? String(prefix(width)) : self + String(repeating: " ", count: width - count)
    }
}
