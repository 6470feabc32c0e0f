/// Typed views of the structs behind the heap and GC figures (runtime.memstats,
/// runtime.gcController): the fields runtime.readmemstats_m and heapGoal read.
extension RuntimeLayout {
    /// `runtime.mstats`, with the consistent heap statistics it holds.
    public struct MStatsLayout: Sendable, Equatable {
        public let size: Int
        public let lastGCUnix: Int, pauseTotalNs: Int, numGC: Int, numForcedGC: Int
        /// `memstats.heapStats.stats`: the three generations of `heapStatsDelta` that
        /// consistentHeapStats.unsafeRead sums (nil when the layout lacks them).
        public let heapStats: HeapStatsLayout?
    }

    /// Where `memstats.heapStats.stats` is and what one `heapStatsDelta` holds.
    public struct HeapStatsLayout: Sendable, Equatable {
        /// Offset of `stats[0]` in runtime.mstats.
        public let offset: Int
        /// `unsafe.Sizeof(heapStatsDelta{})`.
        public let deltaSize: Int
        public let generations = 3
        public let inHeap: Int, inStacks: Int, tinyAllocCount: Int, largeAllocCount: Int, largeFreeCount: Int
        public let smallAllocCount: Int, smallFreeCount: Int
        /// The number of size classes (the length of smallAllocCount and smallFreeCount).
        public let sizeClasses: Int
    }

    /// `runtime.gcControllerState` (`runtime.gcController`).
    public struct GCControllerLayout: Sendable, Equatable {
        public let size: Int
        public let gcPercent: Int, memoryLimit: Int, gcPercentHeapGoal: Int, sweepDistMinTrigger: Int
        public let triggered: Int, heapLive: Int, heapMarked: Int
        public let heapInUse: Int, heapReleased: Int, heapFree: Int, totalAlloc: Int, totalFree: Int, mappedReady: Int
    }

    public var mstats: MStatsLayout {
        get throws(LayoutError) {
            let s = "runtime.mstats"
            return MStatsLayout(
                size: try size(of: s),
                lastGCUnix: try offset(s, "last_gc_unix"), pauseTotalNs: try offset(s, "pause_total_ns"),
                numGC: try offset(s, "numgc"), numForcedGC: try offset(s, "numforcedgc"),
                heapStats: heapStatsLayout)
        }
    }

    /// Nil when any part is missing or the arrays do not fit the struct as the runtime
    /// declares them (smallAllocCount, largeFree, largeFreeCount, smallFreeCount in order).
    private var heapStatsLayout: HeapStatsLayout? {
        let d = "runtime.heapStatsDelta"
        guard let base = optionalOffset("runtime.mstats", "heapStats"),
              let stats = optionalOffset("runtime.consistentHeapStats", "stats"),
              let deltaSize = structs[d]?.size,
              let inHeap = optionalOffset(d, "inHeap"), let inStacks = optionalOffset(d, "inStacks"),
              let tiny = optionalOffset(d, "tinyAllocCount"),
              let largeAllocCount = optionalOffset(d, "largeAllocCount"),
              let largeFreeCount = optionalOffset(d, "largeFreeCount"),
              let smallAlloc = optionalOffset(d, "smallAllocCount"), let largeFree = optionalOffset(d, "largeFree"),
              let smallFree = optionalOffset(d, "smallFreeCount"),
              largeFree > smallAlloc, (largeFree - smallAlloc) % 8 == 0 else { return nil }
        let classes = (largeFree - smallAlloc) / 8
        guard classes > 0, classes <= 256, smallFree + classes * 8 <= deltaSize, deltaSize > 0 else { return nil }
        return HeapStatsLayout(offset: base + stats, deltaSize: deltaSize, inHeap: inHeap, inStacks: inStacks,
                               tinyAllocCount: tiny, largeAllocCount: largeAllocCount, largeFreeCount: largeFreeCount,
                               smallAllocCount: smallAlloc, smallFreeCount: smallFree, sizeClasses: classes)
    }

    public var gcController: GCControllerLayout {
        get throws(LayoutError) {
            let s = "runtime.gcControllerState"
            return GCControllerLayout(
                size: try size(of: s),
                gcPercent: try offset(s, "gcPercent"), memoryLimit: try offset(s, "memoryLimit"),
                gcPercentHeapGoal: try offset(s, "gcPercentHeapGoal"),
                sweepDistMinTrigger: try offset(s, "sweepDistMinTrigger"), triggered: try offset(s, "triggered"),
                heapLive: try offset(s, "heapLive"), heapMarked: try offset(s, "heapMarked"),
                heapInUse: try offset(s, "heapInUse"), heapReleased: try offset(s, "heapReleased"),
                heapFree: try offset(s, "heapFree"), totalAlloc: try offset(s, "totalAlloc"),
                totalFree: try offset(s, "totalFree"), mappedReady: try offset(s, "mappedReady"))
        }
    }
}
