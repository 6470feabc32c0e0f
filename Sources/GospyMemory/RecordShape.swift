/// Which bytes of each fixed-size record a gather keeps. A g is 400-odd bytes of which a
/// snapshot compares and decodes about 170: keeping only those (the rest of each record goes
/// out of each range read) saves over 200 MB at a million goroutines, with the same remote
/// ranges read. Records are stored packed, segment after segment; reads by the
/// record's own offsets are mapped, and a field outside the kept bytes reads as missing.
public struct RecordShape: Sendable, Equatable {
    /// The record's size in the target.
    public let size: Int
    /// The kept byte ranges of a record, ascending and disjoint.
    public let segments: [Range<Int>]
    /// Bytes stored per record.
    public let storedSize: Int
    /// Where each segment starts in the stored record.
    private let storedStarts: [Int]
    /// Each record byte's stored offset (-1: not kept), for records of up to `tableLimit`
    /// bytes: a field read (a snapshot's decode makes twenty a goroutine) is two lookups, not
    /// a scan of the segments.
    private let storedAt: [Int32]
    static let tableLimit = 1 << 16

    /// The whole record.
    public static func whole(_ size: Int) -> RecordShape {
        RecordShape(size: max(0, size), segments: size > 0 ? [0..<size] : [])
    }

    private init(size: Int, segments: [Range<Int>]) {
        self.size = size
        self.segments = segments
        var starts: [Int] = []
        var total = 0
        for segment in segments {
            starts.append(total)
            total += segment.count
        }
        storedStarts = starts
        storedSize = total
        var table: [Int32] = []
        if size <= Self.tableLimit, segments.count > 1 {
            table = [Int32](repeating: -1, count: size)
            for (segment, start) in zip(segments, starts) {
                for offset in segment { table[offset] = Int32(start + offset - segment.lowerBound) }
            }
        }
        storedAt = table
    }

    /// Keeps `fields` (clamped to the record); kept ranges closer than `gap` bytes are joined.
    public init(size: Int, fields: [Range<Int>], gap: Int = 16) {
        let size = max(0, size)
        let joined = Self.joined(fields.map { max(0, min($0.lowerBound, size))..<max(0, min($0.upperBound, size)) }, gap: gap)
        // Each segment costs a copy per record when a gather packs it: past a few, the whole
        // record is cheaper (and a hostile layout cannot make a gather's work per record grow).
        self.init(size: size, segments: joined.count > Self.maxSegments ? (size > 0 ? [0..<size] : []) : joined)
    }

    /// `ranges` sorted, empty ones dropped, and those at most `gap` bytes apart (touching, for
    /// 0) joined into one.
    static func joined(_ ranges: [Range<Int>], gap: Int) -> [Range<Int>] {
        var joined: [Range<Int>] = []
        for range in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = joined.last, range.lowerBound <= last.upperBound + gap {
                joined[joined.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                joined.append(range)
            }
        }
        return joined
    }

    static let maxSegments = 16

    /// Whether every byte of a record is kept.
    public var isWhole: Bool { storedSize == size }

    /// The stored offset of the `length` bytes at record offset `offset`, when all are kept.
    @inline(__always)
    public func storedOffset(_ offset: Int, length: Int) -> Int? {
        if isWhole { return offset >= 0 && length >= 0 && offset <= size - length ? offset : nil }
        if !storedAt.isEmpty, length > 0 {
            // Kept through its last byte without a hole between: the stored offsets run on.
            guard offset >= 0, offset <= size - length else { return nil }
            let first = storedAt[offset]
            guard first >= 0, storedAt[offset + length - 1] == first + Int32(length - 1) else { return nil }
            return Int(first)
        }
        for (index, segment) in segments.enumerated() where offset >= segment.lowerBound && offset < segment.upperBound {
            guard length >= 0, offset <= segment.upperBound - length else { return nil }
            return storedStarts[index] + (offset - segment.lowerBound)
        }
        return nil
    }

    /// Copies the kept bytes of a whole record into a stored record.
    public func pack(_ record: UnsafeRawBufferPointer, into stored: UnsafeMutableRawBufferPointer) {
        for (index, segment) in segments.enumerated() {
            stored.baseAddress!.advanced(by: storedStarts[index])
                .copyMemory(from: record.baseAddress!.advanced(by: segment.lowerBound), byteCount: segment.count)
        }
    }
}
