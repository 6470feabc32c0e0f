import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import GospyMemory

extension SnapshotReader {
    /// The largest runtime.mstats / gcControllerState gospy reads in one piece: both are a
    /// few KiB in every release; a layout claiming more is not believed.
    static let maxStatisticsStruct = 1 << 16

    /// Reads the heap and GC figures: gcController whole and memstats whole (two reads, a
    /// few KiB), while the target is stopped like the rest of the scheduling state. Figures
    /// whose globals or layout are missing stay nil.
    public func readHeapStatistics() -> HeapStatistics {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var result = HeapStatistics(readAtUnixNanos: Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec))
        readGCController(into: &result)
        readMemstats(into: &result)
        return result
    }

    private func readGCController(into result: inout HeapStatistics) {
        guard let c = try? image.layout.gcController, c.size > 0, c.size <= Self.maxStatisticsStruct,
              let address = try? image.address(of: .gcController),
              let view = try? memory.fetchView(from: address, count: c.size) else { return }
        func word(_ offset: Int) -> UInt64? { try? view.u64(at: offset) }
        let totalAlloc = word(c.totalAlloc), totalFree = word(c.totalFree)
        if let totalAlloc, let totalFree { result.heapAlloc = totalAlloc &- totalFree }
        result.heapInUse = word(c.heapInUse)
        result.gcPercent = try? view.i32(at: c.gcPercent)
        result.memoryLimit = try? view.load(Int64.self, at: c.memoryLimit)
        if let gcPercentHeapGoal = word(c.gcPercentHeapGoal), let sweep = word(c.sweepDistMinTrigger),
           let triggered = word(c.triggered), let heapMarked = word(c.heapMarked), let heapFree = word(c.heapFree),
           let totalAlloc, let totalFree, let mappedReady = word(c.mappedReady), let limit = result.memoryLimit {
            let inputs = HeapStatistics.PacerInputs(
                gcPercentHeapGoal: gcPercentHeapGoal, sweepDistMinTrigger: sweep, triggered: triggered,
                heapMarked: heapMarked, heapFree: heapFree, totalAlloc: totalAlloc, totalFree: totalFree,
                mappedReady: mappedReady, memoryLimit: limit)
            result.nextGC = HeapStatistics.heapGoal(inputs, fixedHeadroom: !image.executable.version.atLeast(1, 21))
        }
    }

    private func readMemstats(into result: inout HeapStatistics) {
        guard let s = try? image.layout.mstats, s.size > 0, s.size <= Self.maxStatisticsStruct,
              let address = try? image.address(of: .memstats),
              let view = try? memory.fetchView(from: address, count: Self.memstatsPrefix(s)) else { return }
        result.numGC = try? view.u32(at: s.numGC)
        result.numForcedGC = try? view.u32(at: s.numForcedGC)
        result.lastGCUnixNanos = try? view.u64(at: s.lastGCUnix)
        result.pauseTotalNanos = try? view.u64(at: s.pauseTotalNs)
        if let stats = s.heapStats { readHeapStats(stats, view, into: &result) }
    }

    /// The bytes of runtime.mstats up to the last field read (its tail, per-size-class and GC
    /// CPU figures, is not needed).
    static func memstatsPrefix(_ s: RuntimeLayout.MStatsLayout) -> Int {
        var end = max(s.lastGCUnix + 8, s.pauseTotalNs + 8, s.numGC + 4, s.numForcedGC + 4)
        if let h = s.heapStats { end = max(end, h.offset + h.generations * h.deltaSize) }
        return min(end, s.size)
    }

    /// consistentHeapStats.unsafeRead: the sum of the three generations (the world is
    /// stopped, as the runtime's own reader requires). HeapObjects is allocations minus
    /// frees; tiny allocations count on both sides and cancel.
    private func readHeapStats(_ h: RuntimeLayout.HeapStatsLayout, _ view: ByteView, into result: inout HeapStatistics) {
        var inStacks: Int64 = 0
        var objects: UInt64 = 0
        do {
            for generation in 0..<h.generations {
                let base = h.offset + generation * h.deltaSize
                inStacks = inStacks &+ (try view.load(Int64.self, at: base + h.inStacks))
                objects = objects &+ (try view.u64(at: base + h.largeAllocCount)) &- (try view.u64(at: base + h.largeFreeCount))
                for sizeClass in 0..<h.sizeClasses {
                    objects = objects &+ (try view.u64(at: base + h.smallAllocCount + sizeClass * 8))
                        &- (try view.u64(at: base + h.smallFreeCount + sizeClass * 8))
                }
            }
        } catch {
            return
        }
        result.stackInUse = inStacks >= 0 ? UInt64(inStacks) : nil
        // More than 2^48 objects is a read in the middle of an update (wrapped below zero).
        result.heapObjects = objects < 1 << 48 ? objects : nil
    }
}
