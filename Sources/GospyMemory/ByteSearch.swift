#if canImport(Glibc)
import Glibc
#endif

/// Finding a byte pattern in memory. A binary's data is tens of megabytes, scanned at start-up
/// for a few strings: candidates are found with memchr, checked with memcmp.
public enum ByteSearch {
    /// The first offset at or after `start` where `pattern` occurs in `bytes`.
    public static func firstIndex(of pattern: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        guard let first = pattern.first, pattern.count <= bytes.count, let base = bytes.baseAddress else { return nil }
        // A match starts at or before `last`: only there is searched.
        let last = bytes.count - pattern.count
        var index = max(0, start)
        return pattern.withUnsafeBytes { pattern -> Int? in
            guard let wanted = pattern.baseAddress else { return nil }
            while index <= last {
                guard let hit = memchr(base + index, Int32(first), last - index + 1) else { return nil }
                let offset = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + offset, wanted, pattern.count) == 0 { return offset }
                index = offset + 1
            }
            return nil
        }
    }
}
