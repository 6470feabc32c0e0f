import GospyBinary

/// pprof labels of goroutines (runtime/pprof.Do, SetGoroutineLabels). g.labels points at the
/// pprof package's labelMap: a map[string]string up to Go 1.23, a struct holding a sorted
/// slice of {key, value string} from 1.24.
public struct LabelReader {
    /// The release picks the representation; the layout gives the hmap's field offsets.
    public let version: GoVersion
    public let layout: RuntimeLayout
    public let memory: MemoryReader
    /// Labels are few; anything larger is damage, not labels.
    static let maxLabels = 256

    public init(version: GoVersion, layout: RuntimeLayout, memory: MemoryReader) {
        self.version = version
        self.layout = layout
        self.memory = memory
    }

    public init(image: RuntimeImage, memory: MemoryReader) {
        self.init(version: image.executable.version, layout: image.layout, memory: memory)
    }

    /// The goroutine's labels, sorted by key; empty when it has none or they cannot be read.
    public func labels(of goroutine: Goroutine) -> [(key: String, value: String)] {
        rawLabels(of: goroutine).map { (String(decoding: $0.key, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) }
    }

    /// The labels as the bytes the program set (a traceback header quotes them byte by byte),
    /// in the order Go prints them: sorted by key bytewise (the 1.24+ slice already is).
    public func rawLabels(of goroutine: Goroutine) -> [(key: [UInt8], value: [UInt8])] {
        guard goroutine.labels != 0 else { return [] }
        let pairs = version.atLeast(1, 24) ? fromSlice(goroutine.labels) : fromMap(goroutine.labels)
        return (pairs ?? []).sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }

    private func string(at header: UInt64) -> [UInt8]? {
        guard let data = try? memory.fetchPointer(from: header),
              let length = try? memory.fetch(UInt64.self, from: header &+ 8), length <= 1 << 16 else { return nil }
        if length == 0 { return [] }
        return try? memory.fetchBytes(from: data, count: Int(length))
    }

    private func fromSlice(_ labelMap: UInt64) -> [(key: [UInt8], value: [UInt8])]? {
        guard let data = try? memory.fetchPointer(from: labelMap),
              let count = try? memory.fetch(UInt64.self, from: labelMap &+ 8),
              count <= UInt64(Self.maxLabels) else { return nil }
        return (0..<Int(count)).compactMap { index in
            let element = data &+ UInt64(index) &* 32
            guard let key = string(at: element), let value = string(at: element &+ 16) else { return nil }
            return (key, value)
        }
    }

    /// A classic (pre-Swiss) hmap for map[string]string: 2^B buckets of 8 slots, each bucket
    /// tophash[8], keys[8]string, values[8]string, overflow pointer.
    private func fromMap(_ labelMap: UInt64) -> [(key: [UInt8], value: [UInt8])]? {
        guard let hmap = try? memory.fetchPointer(from: labelMap), hmap != 0,
              let countOffset = layout.optionalOffset("runtime.hmap", "count"),
              let bOffset = layout.optionalOffset("runtime.hmap", "B"),
              let bucketsOffset = layout.optionalOffset("runtime.hmap", "buckets"),
              let count = try? memory.fetch(UInt64.self, from: hmap &+ UInt64(countOffset)),
              count <= UInt64(Self.maxLabels),
              let b = try? memory.fetch(UInt8.self, from: hmap &+ UInt64(bOffset)), b <= 8,
              let buckets = try? memory.fetchPointer(from: hmap &+ UInt64(bucketsOffset)) else { return nil }
        let bucketSize: UInt64 = 8 + 8 * 16 + 8 * 16 + 8
        var result: [(key: [UInt8], value: [UInt8])] = []
        for index in 0..<(UInt64(1) << b) where buckets != 0 {
            var bucket = buckets &+ index &* bucketSize
            var chain = 0
            while bucket != 0, chain < 64, result.count < Int(count) {
                chain += 1
                guard let view = try? memory.fetchView(from: bucket, count: Int(bucketSize)) else { break }
                for slot in 0..<8 {
                    // tophash < 5 marks empty or evacuated slots.
                    guard let top = try? view.u8(at: slot), top >= 5,
                          let key = string(at: bucket &+ 8 &+ UInt64(slot) &* 16),
                          let value = string(at: bucket &+ 136 &+ UInt64(slot) &* 16) else { continue }
                    result.append((key, value))
                }
                bucket = (try? view.u64(at: 264)) ?? 0
            }
        }
        return result
    }
}
