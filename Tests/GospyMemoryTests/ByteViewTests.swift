import Testing
@testable import GospyMemory

@Suite struct ByteViewTests {
    @Test func readsLittleEndianIntegers() throws {
        let view = ByteView(bytes: [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08])
        #expect(try view.u16(at: 0) == 0x0201)
        #expect(try view.u32(at: 4) == 0x0807_0605)
        #expect(try view.u64(at: 0) == 0x0807_0605_0403_0201)
    }

    /// firstIndex finds what a byte-by-byte search finds: repeated first bytes, partial
    /// matches, a match ending at the last byte, starts past the end or before 0.
    @Test func firstIndexAgreesWithAPlainSearch() {
        func plain(_ bytes: [UInt8], _ pattern: [UInt8], _ start: Int) -> Int? {
            guard !pattern.isEmpty, pattern.count <= bytes.count else { return nil }
            var index = max(0, start)
            while index + pattern.count <= bytes.count {
                if Array(bytes[index..<(index + pattern.count)]) == pattern { return index }
                index += 1
            }
            return nil
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        for _ in 0..<2_000 {
            // Three byte values: first bytes recur and partial matches are common.
            let bytes = (0..<next(40)).map { _ in UInt8(next(3)) }
            let pattern = (0..<next(5)).map { _ in UInt8(next(3)) }
            let start = next(45) - 2
            #expect(ByteView(bytes: bytes).firstIndex(of: pattern, from: start) == plain(bytes, pattern, start),
                    "bytes \(bytes) pattern \(pattern) from \(start)")
        }
        #expect(ByteView(bytes: [7, 1, 2]).firstIndex(of: [1, 2]) == 1)
        #expect(ByteView(bytes: [1, 1, 2]).firstIndex(of: [1, 2], from: 2) == nil)
    }

    @Test func outOfBoundsThrowsInsteadOfTrapping() {
        let view = ByteView(bytes: [1, 2, 3])
        #expect(throws: ByteViewError.self) { try view.u32(at: 0) }
        #expect(throws: ByteViewError.self) { try view.u8(at: -1) }
        #expect(throws: ByteViewError.self) { try view.u8(at: Int.max) }
        #expect(throws: ByteViewError.self) { try view.slice(at: 2, count: Int.max) }
    }

    @Test func decodesVarints() throws {
        let view = ByteView(bytes: [0x96, 0x01, 0x05])
        let (value, next) = try view.uvarint(at: 0)
        #expect(value == 150)
        #expect(next == 2)
        #expect(throws: ByteViewError.self) { try ByteView(bytes: [0x80, 0x80]).uvarint(at: 0) }
        let endless = ByteView(bytes: [UInt8](repeating: 0xff, count: 12))
        #expect(throws: ByteViewError.self) { try endless.uvarint(at: 0) }
    }

    @Test func cStringsStopAtNulOrEnd() throws {
        let view = ByteView(bytes: Array("main.main\0rest".utf8))
        #expect(try view.cString(at: 0) == "main.main")
        #expect(try view.cString(at: 10) == "rest")
    }
}

@Suite struct BufferMemoryReaderTests {
    @Test func readsWithinRegionsOnly() throws {
        let reader = BufferMemoryReader(regions: [
            .init(address: 0x1000, bytes: [1, 0, 0, 0, 0, 0, 0, 0]),
            .init(address: 0x2000, bytes: Array("hello\0".utf8)),
        ])
        #expect(try reader.fetchPointer(from: 0x1000) == 1)
        #expect(try reader.fetchCString(from: 0x2000) == "hello")
        #expect(throws: MemoryReadError.self) { try reader.fetchBytes(from: 0x1004, count: 8) }
        #expect(throws: MemoryReadError.self) { try reader.fetchBytes(from: UInt64.max - 2, count: 8) }
    }
}
