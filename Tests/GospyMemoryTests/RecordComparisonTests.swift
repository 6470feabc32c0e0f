import Testing
@testable import GospyMemory

/// Records compared field by field between gathers that keep different bytes of them: what
/// validation does between the gs read while the target ran (packed) and their prefixes read
/// while it was stopped (whole).
@Suite struct RecordComparisonTests {
    @Test func joinsTouchingFieldsAndMeasuresThem() {
        let comparison = RecordComparison(fields: [40..<48, 0..<8, 8..<16, 44..<46, 60..<61, 30..<30, -4..<2])
        #expect(comparison.fields == [0..<16, 40..<48, 60..<61])
        #expect(comparison.span == 61)
        #expect(comparison.comparedBytes == 25)
        #expect(RecordComparison(fields: []).span == 0)
    }

    /// Two copies of 64-byte records, the second with one byte changed in each record, at a
    /// different offset per record.
    static func twoCopies(count: Int) -> (BufferMemoryReader, BufferMemoryReader, [UInt64]) {
        let original = (0..<(count * 64)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        var changed = original
        for record in 0..<count { changed[record * 64 + record] &+= 1 }
        let addresses = (0..<count).map { 0x1000 + UInt64($0 * 64) }
        return (BufferMemoryReader(address: 0x1000, bytes: original), BufferMemoryReader(address: 0x1000, bytes: changed), addresses)
    }

    @Test func aPackedGatherMatchesAWholeOneOnlyWhereNoComparedByteChanged() {
        let count = 64
        let (before, after, addresses) = Self.twoCopies(count: count)
        // Kept: what is compared and a word decoded further on, in three segments.
        let comparison = RecordComparison(fields: [0..<12, 20..<28, 31..<32])
        let shape = RecordShape(size: 64, fields: comparison.fields + [48..<56], gap: 0)
        #expect(shape.segments.count == 4)
        let packed = before.gather(addresses, shape: shape, threads: 1)
        let now = after.gather(addresses, size: comparison.span)
        let matcher = RecordMatcher(packed, now, by: comparison)
        for record in 0..<count {
            let changedByteCompared = comparison.fields.contains { $0.contains(record) }
            #expect(matcher.matches(record, record) == !changedByteCompared, "record \(record)")
        }
        // Against its own bytes every record matches; out of range, never.
        let unchanged = RecordMatcher(packed, before.gather(addresses, size: comparison.span), by: comparison)
        #expect((0..<count).allSatisfy { unchanged.matches($0, $0) })
        #expect(!unchanged.matches(-1, 0) && !unchanged.matches(0, count) && !unchanged.matches(count, 0))
    }

    @Test func touchingKeptRangesAreOneSegmentAFieldIsComparedAcross() {
        let (before, after, addresses) = Self.twoCopies(count: 32)
        // Kept as 0..<10 and 10..<16, which touch: one segment, so a field across 10 is kept whole.
        let split = RecordShape(size: 64, fields: [0..<10, 10..<16], gap: 0)
        #expect(split.segments == [0..<16])
        let comparison = RecordComparison(fields: [2..<14])
        let matcher = RecordMatcher(before.gather(addresses, shape: split, threads: 1), after.gather(addresses, size: 16), by: comparison)
        for record in 0..<32 {
            #expect(matcher.matches(record, record) == !(2..<14).contains(record), "record \(record)")
        }
    }

    @Test func aShapeThatDropsAComparedByteNeverMatches() {
        let (before, _, addresses) = Self.twoCopies(count: 4)
        let shape = RecordShape(size: 64, fields: [0..<8, 16..<24], gap: 0)
        let packed = before.gather(addresses, shape: shape, threads: 1)
        let matcher = RecordMatcher(packed, before.gather(addresses, size: 24), by: RecordComparison(fields: [4..<20]))
        #expect(!(0..<4).contains { matcher.matches($0, $0) })
    }
}
