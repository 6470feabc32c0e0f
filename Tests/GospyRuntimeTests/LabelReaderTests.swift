import GospyBinary
import GospyMemory
import Testing
@testable import GospyRuntime

/// pprof labels read from memory laid out as each release stores them.
@Suite struct LabelReaderTests {
    /// Memory built region by region: string bytes, headers, the label structures.
    struct Heap {
        var memory = BufferMemoryReader()
        var next: UInt64 = 0xc010_0000

        mutating func place(_ bytes: [UInt8]) -> UInt64 {
            let address = next
            memory.add(address: address, bytes: bytes)
            next += UInt64(max(bytes.count, 1) + 0xff) & ~0xff
            return address
        }

        /// A string header (pointer, length) as bytes, its data placed.
        mutating func header(_ text: String) -> [UInt8] {
            words(place(Array(text.utf8)), UInt64(text.utf8.count))
        }

        func words(_ values: UInt64...) -> [UInt8] {
            values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        }
    }

    func goroutine(labels: UInt64) -> Goroutine {
        SyntheticProgram.goroutine(labels: labels)
    }

    @Test func readsTheSortedSliceOfGo124() throws {
        var heap = Heap()
        let pairs = [("worker", "3"), ("job", "import")]
        let elements = pairs.flatMap { heap.header($0.0) + heap.header($0.1) }
        let data = heap.place(elements)
        let labelMap = heap.place(heap.words(data, UInt64(pairs.count), UInt64(pairs.count)))
        let reader = LabelReader(version: GoVersion(major: 1, minor: 24), layout: try #require(RuntimeLayout.builtin(release: "1.24")),
                                 memory: heap.memory)
        let labels = reader.labels(of: goroutine(labels: labelMap))
        #expect(labels.map(\.key) == ["job", "worker"] && labels.map(\.value) == ["import", "3"])
        #expect(reader.labels(of: goroutine(labels: 0)).isEmpty)
    }

    @Test func refusesAnImplausibleCount() throws {
        var heap = Heap()
        let labelMap = heap.place(heap.words(0xc020_0000, 1 << 20, 1 << 20))
        let reader = LabelReader(version: GoVersion(major: 1, minor: 24), layout: try #require(RuntimeLayout.builtin(release: "1.24")),
                                 memory: heap.memory)
        #expect(reader.labels(of: goroutine(labels: labelMap)).isEmpty)
        // Marked, not shown as no labels.
        let read = reader.read(of: goroutine(labels: labelMap))
        #expect(read.pairs.isEmpty && read.unreadable?.contains("claim 1048576 pairs") == true, "\(read.unreadable ?? "nil")")
    }

    /// A pair whose string is unreadable makes the whole set unreadable (never a partial set).
    @Test func marksAnUnreadablePair() throws {
        var heap = Heap()
        let elements = heap.header("job") + heap.header("import") + heap.words(0x10, 4) + heap.header("3")
        let data = heap.place(elements)
        let labelMap = heap.place(heap.words(data, 2, 2))
        let reader = LabelReader(version: GoVersion(major: 1, minor: 24), layout: try #require(RuntimeLayout.builtin(release: "1.24")),
                                 memory: heap.memory)
        let read = reader.read(of: goroutine(labels: labelMap))
        #expect(read.pairs.isEmpty && read.unreadable == "label string at 0x10 unreadable", "\(read.unreadable ?? "nil")")
        #expect(reader.read(of: goroutine(labels: 0)).unreadable == nil)
    }

    @Test func readsTheHashMapOfGo122() throws {
        let layout = try #require(RuntimeLayout.builtin(release: "1.22"))
        var heap = Heap()
        // One bucket (B = 0): tophash[8], keys[8]string, values[8]string, overflow.
        var bucket = [UInt8](repeating: 0, count: 272)
        let entries = [(slot: 0, key: "region", value: "eu"), (slot: 3, key: "app", value: "api")]
        for entry in entries {
            bucket[entry.slot] = 0x80
            bucket.replaceSubrange(8 + entry.slot * 16..<24 + entry.slot * 16, with: heap.header(entry.key))
            bucket.replaceSubrange(136 + entry.slot * 16..<152 + entry.slot * 16, with: heap.header(entry.value))
        }
        // An empty slot (tophash < 5) holding a stale key is skipped.
        bucket[5] = 1
        bucket.replaceSubrange(8 + 5 * 16..<24 + 5 * 16, with: heap.header("stale"))
        let buckets = heap.place(bucket)
        var hmap = [UInt8](repeating: 0, count: 48)
        let countOffset = try #require(layout.optionalOffset("runtime.hmap", "count"))
        hmap.replaceSubrange(countOffset..<countOffset + 8, with: heap.words(2))
        hmap[try #require(layout.optionalOffset("runtime.hmap", "B"))] = 0
        let bucketsOffset = try #require(layout.optionalOffset("runtime.hmap", "buckets"))
        hmap.replaceSubrange(bucketsOffset..<bucketsOffset + 8, with: heap.words(buckets))
        let labelMap = heap.place(heap.words(heap.place(hmap)))
        let reader = LabelReader(version: GoVersion(major: 1, minor: 22), layout: layout, memory: heap.memory)
        let labels = reader.labels(of: goroutine(labels: labelMap))
        #expect(labels.map(\.key) == ["app", "region"] && labels.map(\.value) == ["api", "eu"])
    }
}
