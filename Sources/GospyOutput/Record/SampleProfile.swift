/// Wall-clock samples of every goroutine, aggregated: each distinct (stack, state, goroutine,
/// labels) and how many samples saw it. Locations are interned once, so a recording of 10k
/// goroutines at 100 Hz stores its few hundred stacks, not a million copies.
public final class SampleProfile {
    /// One aggregated stack and what roots it.
    public struct Key: Hashable, Sendable {
        /// Indices into `locations`, innermost first (profile.proto's order).
        public var locations: [Int32]
        /// "running", "runnable", "syscall" or the wait reason ("chan receive").
        public var state: String
        /// Set when stacks are rooted at their goroutine (--goroutines).
        public var goroutine: UInt64?
        /// pprof labels, sorted by key (kept when stacks are rooted at labels, --labels).
        public var labels: [Label]

        public init(locations: [Int32], state: String, goroutine: UInt64? = nil, labels: [Label] = []) {
            self.locations = locations
            self.state = state
            self.goroutine = goroutine
            self.labels = labels.sorted()
        }
    }

    public struct Label: Hashable, Comparable, Sendable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
        public static func < (a: Label, b: Label) -> Bool { (a.key, a.value) < (b.key, b.value) }
    }

    /// Interned physical frames with their logical frames.
    public private(set) var locations: [ProfileLocation] = []
    private var locationIndex: [ProfileLocation: Int32] = [:]
    /// Every distinct key, its index, and its count: samples are added by index, so a round
    /// over 10k goroutines hashes no arrays.
    public private(set) var keys: [Key] = []
    private var keyIndex: [Key: Int] = [:]
    private var keyCounts: [Int64] = []
    public var counts: [Key: Int64] {
        var result: [Key: Int64] = [:]
        for (index, key) in keys.enumerated() where keyCounts[index] > 0 { result[key] = keyCounts[index] }
        return result
    }
    /// Goroutine stacks counted (one per goroutine per sample).
    public private(set) var stackCount: Int64 = 0

    /// Sampling rounds taken (each counts every goroutine once).
    public var samples = 0
    /// Wall-clock time the samples cover, and when recording started (Unix nanoseconds).
    public var durationNanos: Int64 = 0
    public var startNanos: Int64 = 0
    /// What a reader must know about how the recording went (the target exited, say):
    /// written where a format has room (pprof comments, the speedscope name, the SVG subtitle).
    public var notes: [String] = []

    public init() {}

    public func intern(_ location: ProfileLocation) -> Int32 {
        if let index = locationIndex[location] { return index }
        let index = Int32(truncatingIfNeeded: locations.count)
        locations.append(location)
        locationIndex[location] = index
        return index
    }

    /// The index `add(id:)` takes for `key`.
    public func id(of key: Key) -> Int {
        if let index = keyIndex[key] { return index }
        keyIndex[key] = keys.count
        keys.append(key)
        keyCounts.append(0)
        return keys.count - 1
    }

    public func add(id: Int, count: Int64 = 1) {
        keyCounts[id] += count
        stackCount += count
    }

    public func add(_ key: Key, count: Int64 = 1) { add(id: id(of: key), count: count) }

    /// The wall-clock time one goroutine's sample stands for: the mean interval between
    /// samples (the nominal one before any interval is known).
    public func sampleNanos(nominalRate: Double) -> Int64 {
        if samples > 0, durationNanos > 0 { return max(1, durationNanos / Int64(samples)) }
        return Int64(1e9 / max(nominalRate, 0.001))
    }

    /// The locations `key` names, innermost first; an index that names none (a key made
    /// by hand) is passed over, never trusted.
    public func places(of key: Key) -> [ProfileLocation] {
        key.locations.compactMap { index in index >= 0 && Int(index) < locations.count ? locations[Int(index)] : nil }
    }

    /// The frames a flame graph draws for `key`, root first: the state, then the goroutine and
    /// labels when kept, then the functions outermost first (inlined calls as their own frames).
    public func folded(_ key: Key) -> [String] {
        var frames = ["[\(key.state)]"]
        if let goroutine = key.goroutine { frames.append("[goroutine \(goroutine)]") }
        if !key.labels.isEmpty {
            frames.append("[labels " + key.labels.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "]")
        }
        for place in places(of: key).reversed() {
            for line in place.lines.reversed() { frames.append(line.function) }
        }
        return frames
    }

    /// Every aggregated stack folded (root first) with its count, identical folds merged,
    /// in a stable order (by frames).
    public func foldedStacks() -> [(frames: [String], count: Int64)] {
        var merged: [[String]: Int64] = [:]
        for (key, count) in counts { merged[folded(key), default: 0] += count }
        return merged.map { (frames: $0.key, count: $0.value) }.sorted { $0.frames.lexicographicallyPrecedes($1.frames) }
    }
}
