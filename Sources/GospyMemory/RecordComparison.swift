/// The bytes of a record that say whether it changed, compared between two gathers of the same
/// records whatever bytes each keeps. Comparing only these (not a whole prefix) lets a snapshot
/// keep only these of each g read while the target runs: a million gs' other bytes are never
/// stored.
public struct RecordComparison: Sendable, Equatable {
    /// The compared byte ranges, ascending and disjoint (touching ones joined).
    public let fields: [Range<Int>]

    public init(fields: [Range<Int>]) {
        self.fields = RecordShape.joined(fields.filter { $0.lowerBound >= 0 }, gap: 0)
    }

    /// Bytes from a record's start through its last compared byte: what a gather made only to
    /// compare reads of each record (one range, which the kernel copies fastest).
    public var span: Int { fields.last?.upperBound ?? 0 }

    /// Bytes compared per record.
    public var comparedBytes: Int { fields.reduce(0) { $0 + $1.count } }

    /// Where each compared field lies in the stored records of `mine` and `theirs`; nil when
    /// either shape does not keep all of a field. (A shape's segments are maximal runs of kept
    /// bytes, so a field kept whole lies in one of them.)
    func pieces(_ mine: RecordShape, _ theirs: RecordShape) -> [ComparedPiece]? {
        var pieces: [ComparedPiece] = []
        for field in fields {
            guard let a = mine.storedOffset(field.lowerBound, length: field.count),
                  let b = theirs.storedOffset(field.lowerBound, length: field.count) else { return nil }
            pieces.append(ComparedPiece(mine: a, theirs: b, length: field.count))
        }
        return pieces
    }
}

/// One run of bytes compared: its stored offsets in each gather's record, and its length.
struct ComparedPiece {
    let mine: Int
    let theirs: Int
    let length: Int
}

/// Compares records of one gather with records of another by a `RecordComparison`, resolved
/// once for the two gathers' shapes (the validation of a million gs runs while the target is
/// stopped: no per-record lookups).
public struct RecordMatcher {
    private let mine: GatheredMemory
    private let theirs: GatheredMemory
    private let pieces: [ComparedPiece]?

    public init(_ mine: GatheredMemory, _ theirs: GatheredMemory, by comparison: RecordComparison) {
        self.mine = mine
        self.theirs = theirs
        pieces = comparison.pieces(mine.shape, theirs.shape)
    }

    /// Whether `mine`'s record `index` and `theirs`' record `otherIndex` were both read and
    /// agree on every compared byte (false when a shape keeps too little to tell).
    public func matches(_ index: Int, _ otherIndex: Int) -> Bool {
        guard let pieces, index >= 0, index < mine.count, mine.valid[index],
              otherIndex >= 0, otherIndex < theirs.count, theirs.valid[otherIndex] else { return false }
        let mineBase = index * mine.shape.storedSize
        let theirBase = otherIndex * theirs.shape.storedSize
        return mine.bytes.withUnsafeBytes { a in
            theirs.bytes.withUnsafeBytes { b in
                for piece in pieces where !Self.equal(a.baseAddress! + mineBase + piece.mine,
                                                      b.baseAddress! + theirBase + piece.theirs, piece.length) {
                    return false
                }
                return true
            }
        }
    }

    /// Word by word, then the odd bytes: the runs are short and a call to memcmp for each
    /// would cost more than the comparison.
    @inline(__always)
    private static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var offset = 0
        while offset + 8 <= count {
            if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                return false
            }
            offset += 8
        }
        while offset < count {
            if a.load(fromByteOffset: offset, as: UInt8.self) != b.load(fromByteOffset: offset, as: UInt8.self) { return false }
            offset += 1
        }
        return true
    }
}
