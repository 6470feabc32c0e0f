import Testing
@testable import GospyMemory

/// Which bytes of a record a shape keeps, where they are stored, and that a record gathered
/// through a reader with no batched gather (a buffer) keeps them too.
@Suite struct RecordShapeTests {
    @Test func joinsCloseFieldsAndClampsToTheRecord() {
        let shape = RecordShape(size: 100, fields: [0..<24, 30..<38, 40..<48, 80..<88, 96..<104, 200..<208, 4..<8])
        #expect(shape.segments == [0..<48, 80..<100])
        #expect(shape.storedSize == 68)
        #expect(shape.storedOffset(40, length: 8) == 40)
        #expect(shape.storedOffset(80, length: 8) == 48)
        #expect(shape.storedOffset(92, length: 8) == 60)
        #expect(shape.storedOffset(96, length: 8) == nil)  // past the record
        #expect(shape.storedOffset(44, length: 8) == nil)  // across a hole
        #expect(shape.storedOffset(60, length: 1) == nil)  // in a hole
        #expect(shape.storedOffset(-1, length: 1) == nil)
    }

    @Test func theWholeRecordIsOneSegment() {
        let whole = RecordShape.whole(64)
        #expect(whole.isWhole && whole.segments == [0..<64])
        #expect(whole.storedOffset(56, length: 8) == 56 && whole.storedOffset(57, length: 8) == nil)
        #expect(RecordShape.whole(0).storedSize == 0 && RecordShape(size: -5, fields: [0..<10]).storedSize == 0)
    }

    @Test func manyScatteredFieldsKeepTheWholeRecord() {
        let fields = (0..<40).map { ($0 * 64)..<($0 * 64 + 8) }
        let shape = RecordShape(size: 2560, fields: fields)
        #expect(shape.isWhole)
    }

    @Test func aBufferReaderGathersOnlyTheKeptBytes() throws {
        let bytes = (0..<1024).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let reader = BufferMemoryReader(address: 0x1000, bytes: bytes)
        let shape = RecordShape(size: 64, fields: [0..<16, 40..<48])
        let shaped = reader.gather([0x1000, 0x1100, 0x13f0], shape: shape, threads: 2)
        let whole = reader.gather([0x1000, 0x1100, 0x13f0], size: 64)
        #expect(shaped.valid == [true, true, false] && whole.valid == shaped.valid)
        #expect(shaped.bytes.count == 3 * 24)
        for record in 0..<2 {
            #expect(shaped.u64(record, 0) == whole.u64(record, 0))
            #expect(shaped.u64(record, 8) == whole.u64(record, 8))
            #expect(shaped.u64(record, 40) == whole.u64(record, 40))
            #expect(shaped.u64(record, 16) == nil)
        }
    }
}
