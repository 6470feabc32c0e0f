import GospyBinary

/// pprof labels of goroutines (runtime/pprof.Do, SetGoroutineLabels). g.labels points at the
/// pprof package's labelMap: a map[string]string up to Go 1.23, a struct holding a sorted
/// slice of {key, value string} from 1.24.
public struct LabelReader: RuntimeRecordReader {
    /// The release picks the representation; the layout gives the hmap's field offsets.
    public let version: GoVersion
    public let layout: RuntimeLayout
    public let memory: MemoryReader
    /// Labels are few; anything larger is damage, not labels.
    static let maxLabels = 256
    /// A label key or value longer than this is damage.
    static let maxStringLength: UInt64 = 1 << 16
    /// Overflow buckets followed per bucket at most (a cycle ends here).
    static let maxOverflowChain = 64

    public init(version: GoVersion, layout: RuntimeLayout, memory: MemoryReader) {
        self.version = version
        self.layout = layout
        self.memory = memory
    }


    /// A goroutine's labels as read: the pairs, or why they could not be read. A labels
    /// pointer whose map is damaged or half readable is marked, never shown as no labels.
    public struct Read: Sendable {
        /// The label profiles carry in place of a goroutine's unreadable labels (record's and
        /// dump's pprof files, serve's), so such a goroutine never passes for one without labels.
        public static let unreadableMark = (key: "gospy.labels", value: "unreadable")

        /// Sorted by key bytewise (the order Go prints them); empty when unreadable.
        public var pairs: [(key: [UInt8], value: [UInt8])]
        /// Why the labels could not be read (nil: `pairs` is all of them).
        public var unreadable: String?

        /// The pairs as text (a traceback header quotes the raw bytes instead).
        public var text: [(key: String, value: String)] {
            pairs.map { (String(decoding: $0.key, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) }
        }
    }

    /// The goroutine's labels, sorted by key; empty when it has none or they cannot be read
    /// (`read(of:)` says which).
    public func labels(of goroutine: Goroutine) -> [(key: String, value: String)] {
        read(of: goroutine).text
    }

    /// The goroutine's labels, or why they cannot be read.
    public func read(of goroutine: Goroutine) -> Read {
        guard goroutine.labels != 0 else { return Read(pairs: []) }
        do {
            let pairs = version.atLeast(1, 24) ? try fromSlice(goroutine.labels) : try fromMap(goroutine.labels)
            return Read(pairs: pairs.sorted { $0.key.lexicographicallyPrecedes($1.key) })
        } catch let error as LabelsUnreadable {
            return Read(pairs: [], unreadable: error.reason)
        } catch {
            return Read(pairs: [], unreadable: "\(error)")
        }
    }

    /// Why a labels structure could not be read.
    struct LabelsUnreadable: Error {
        let reason: String
    }

    private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// Reads `body`, turning a failed memory read into a reason naming `what`.
    private func reading<T>(_ what: String, at address: UInt64, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw LabelsUnreadable(reason: "\(what) at \(hex(address)) unreadable")
        }
    }

    private func string(at header: UInt64) throws -> [UInt8] {
        let data = try reading("label string header", at: header) { try memory.fetchPointer(from: header) }
        let length = try reading("label string header", at: header) { try memory.fetch(UInt64.self, from: header &+ 8) }
        guard length <= Self.maxStringLength else {
            throw LabelsUnreadable(reason: "label string at \(hex(header)) claims \(length) bytes")
        }
        if length == 0 { return [] }
        return try reading("label string", at: data) { try memory.fetchBytes(from: data, count: Int(length)) }
    }

    private func fromSlice(_ labelMap: UInt64) throws -> [(key: [UInt8], value: [UInt8])] {
        let data = try reading("labels", at: labelMap) { try memory.fetchPointer(from: labelMap) }
        let count = try reading("labels", at: labelMap) { try memory.fetch(UInt64.self, from: labelMap &+ 8) }
        guard count <= UInt64(Self.maxLabels) else {
            throw LabelsUnreadable(reason: "labels at \(hex(labelMap)) claim \(count) pairs (at most \(Self.maxLabels))")
        }
        return try (0..<Int(count)).map { index in
            let element = data &+ UInt64(index) &* 32
            return (try string(at: element), try string(at: element &+ 16))
        }
    }

    /// A classic (pre-Swiss) hmap for map[string]string: 2^B buckets of 8 slots, each bucket
    /// tophash[8], keys[8]string, values[8]string, overflow pointer.
    private func fromMap(_ labelMap: UInt64) throws -> [(key: [UInt8], value: [UInt8])] {
        let hmap = try reading("labels", at: labelMap) { try memory.fetchPointer(from: labelMap) }
        guard hmap != 0 else { return [] }
        guard let countOffset = layout.optionalOffset("runtime.hmap", "count"),
              let bOffset = layout.optionalOffset("runtime.hmap", "B"),
              let bucketsOffset = layout.optionalOffset("runtime.hmap", "buckets") else {
            throw LabelsUnreadable(reason: "runtime.hmap's layout is unknown")
        }
        let count = try reading("labels map", at: hmap) { try memory.fetch(UInt64.self, from: hmap &+ UInt64(countOffset)) }
        let b = try reading("labels map", at: hmap) { try memory.fetch(UInt8.self, from: hmap &+ UInt64(bOffset)) }
        let buckets = try reading("labels map", at: hmap) { try memory.fetchPointer(from: hmap &+ UInt64(bucketsOffset)) }
        guard count <= UInt64(Self.maxLabels), b <= 8 else {
            throw LabelsUnreadable(reason: "labels map at \(hex(hmap)) claims \(count) pairs in 2^\(b) buckets")
        }
        let bucketSize: UInt64 = 8 + 8 * 16 + 8 * 16 + 8
        var result: [(key: [UInt8], value: [UInt8])] = []
        for index in 0..<(UInt64(1) << b) where buckets != 0 {
            var bucket = buckets &+ index &* bucketSize
            var chain = 0
            while bucket != 0, result.count < Int(count) {
                guard chain < Self.maxOverflowChain else {
                    throw LabelsUnreadable(reason: "labels map at \(hex(hmap)): overflow chain longer than \(Self.maxOverflowChain)")
                }
                chain += 1
                let view = try reading("labels bucket", at: bucket) { try memory.fetchView(from: bucket, count: Int(bucketSize)) }
                for slot in 0..<8 {
                    // tophash < 5 marks empty or evacuated slots.
                    guard let top = try? view.u8(at: slot), top >= 5 else { continue }
                    result.append((try string(at: bucket &+ 8 &+ UInt64(slot) &* 16),
                                   try string(at: bucket &+ 136 &+ UInt64(slot) &* 16)))
                }
                bucket = (try? view.u64(at: 264)) ?? 0
            }
        }
        // Fewer than the map counts (a damaged bucket, or a map caught growing): not all of them.
        guard result.count == Int(count) else {
            throw LabelsUnreadable(reason: "labels map at \(hex(hmap)) counts \(count) pairs, \(result.count) found")
        }
        return result
    }
}
