/// The heap and garbage collector as the runtime's own globals record them (runtime.memstats
/// and runtime.gcController), computed the way runtime.readmemstats_m computes the MemStats
/// fields of the same names. A figure is nil when the release's layout lacks what it needs.
///
/// Counts and settings (NumGC, LastGC, PauseTotalNs, GOGC, GOMEMLIMIT, HeapInuse,
/// StackInuse) are the globals ReadMemStats copies. HeapAlloc and HeapObjects are totals the
/// runtime updates when a P hands a span back to the heap; ReadMemStats first flushes every
/// P's cached spans (which gospy, never writing, cannot), so these two can lag by what was
/// allocated from spans the Ps still hold. NextGC is heapGoal(); its memory-limit term uses
/// HeapAlloc and lags with it when the limit is what sets the goal.
public struct HeapStatistics: Sendable, Equatable {
    /// MemStats.HeapAlloc: gcController.totalAlloc - totalFree.
    public var heapAlloc: UInt64?
    /// MemStats.HeapInuse: gcController.heapInUse.
    public var heapInUse: UInt64?
    /// MemStats.HeapObjects: allocations minus frees, summed over memstats.heapStats.
    public var heapObjects: UInt64?
    /// MemStats.StackInuse: memstats.heapStats' inStacks.
    public var stackInUse: UInt64?
    /// MemStats.NextGC: gcController.heapGoal().
    public var nextGC: UInt64?
    /// GOGC in effect (debug.SetGCPercent's value; negative: collection off).
    public var gcPercent: Int32?
    /// GOMEMLIMIT in effect in bytes (math.MaxInt64: no limit).
    public var memoryLimit: Int64?
    /// MemStats.NumGC and NumForcedGC: completed cycles, and those runtime.GC forced.
    public var numGC: UInt32?
    public var numForcedGC: UInt32?
    /// MemStats.LastGC: when the last cycle ended, Unix nanoseconds (0: none yet).
    public var lastGCUnixNanos: UInt64?
    /// MemStats.PauseTotalNs: stop-the-world time of every cycle so far.
    public var pauseTotalNanos: UInt64?
    /// gospy's wall clock when the figures were read (for "last GC 12.3s ago").
    public var readAtUnixNanos: Int64

    public init(readAtUnixNanos: Int64) {
        self.readAtUnixNanos = readAtUnixNanos
    }

    /// math.MaxInt64: GOMEMLIMIT's "no limit".
    public static let noMemoryLimit = Int64.max

    /// Seconds from the last GC to the read; nil before the first GC or when unknown.
    public var secondsSinceLastGC: Double? {
        guard let last = lastGCUnixNanos, last != 0, last <= UInt64(Int64.max) else { return nil }
        return Double(readAtUnixNanos - Int64(last)) / 1e9
    }

    /// The gcController words heapGoal reads.
    struct PacerInputs {
        var gcPercentHeapGoal: UInt64, sweepDistMinTrigger: UInt64, triggered: UInt64, heapMarked: UInt64
        var heapFree: UInt64, totalAlloc: UInt64, totalFree: UInt64, mappedReady: UInt64
        var memoryLimit: Int64
    }

    /// gcControllerState.heapGoal (mgcpacer.go; the same in 1.19–1.27 but for the memory
    /// limit's headroom): the smaller of the GOGC goal and the memory limit's, the GOGC goal
    /// raised to the sweep distance and 64 KiB past the trigger. uint64 arithmetic as Go's.
    /// Nil when heapFree + heapAlloc exceed mappedReady (the runtime re-reads until they
    /// do not: a read in the middle of an update).
    static func heapGoal(_ c: PacerInputs, fixedHeadroom: Bool) -> UInt64? {
        var goal = c.gcPercentHeapGoal
        guard let limitGoal = memoryLimitHeapGoal(c, fixedHeadroom: fixedHeadroom) else { return nil }
        if limitGoal < goal {
            goal = limitGoal
        } else {
            if c.sweepDistMinTrigger > goal { goal = c.sweepDistMinTrigger }
            let minRunway: UInt64 = 64 << 10
            if c.triggered != ~UInt64(0), goal < c.triggered &+ minRunway { goal = c.triggered &+ minRunway }
        }
        return goal
    }

    /// gcControllerState.memoryLimitHeapGoal. Go 1.19 keeps a fixed 1 MiB headroom; 1.21+
    /// keeps 3% of the goal, at least 1 MiB.
    static func memoryLimitHeapGoal(_ c: PacerInputs, fixedHeadroom: Bool) -> UInt64? {
        let heapAlloc = c.totalAlloc &- c.totalFree
        let (inUse, overflow) = c.heapFree.addingReportingOverflow(heapAlloc)
        guard !overflow, inUse <= c.mappedReady else { return nil }
        let limit = UInt64(bitPattern: c.memoryLimit)
        let nonHeap = c.mappedReady &- c.heapFree &- heapAlloc
        let overage = c.mappedReady > limit ? c.mappedReady &- limit : 0
        if nonHeap &+ overage >= limit { return c.heapMarked }
        var goal = limit &- (nonHeap &+ overage)
        let minHeadroom: UInt64 = 1 << 20
        let headroom = fixedHeadroom ? minHeadroom : max(goal / 100 &* 3, minHeadroom)
        if goal < headroom || goal &- headroom < headroom {
            goal = headroom
        } else {
            goal = goal &- headroom
        }
        return max(goal, c.heapMarked)
    }
}
