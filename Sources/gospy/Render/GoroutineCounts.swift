import GospyRuntime

extension RuntimeSnapshot {
    /// Every goroutine (system ones included) counted by status name: the counts summary prints,
    /// top shows and serve's /metrics exports. Counted per status value and named once: no
    /// string hashing per goroutine.
    var goroutineCountsByStatus: [String: Int] {
        // One slot per status value (a goroutine's status is always one of the cases).
        var byStatus = [Int](repeating: 0, count: Self.statusSlots)
        for goroutine in goroutines { byStatus[Int(goroutine.status.rawValue)] += 1 }
        var counts: [String: Int] = [:]
        for status in GoroutineStatus.allCases where byStatus[Int(status.rawValue)] > 0 {
            counts[status.name, default: 0] += byStatus[Int(status.rawValue)]
        }
        return counts
    }

    private static let statusSlots = (GoroutineStatus.allCases.map { Int($0.rawValue) }.max() ?? 0) + 1
}
