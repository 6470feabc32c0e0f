import FoundationEssentials
import GospyRuntime

/// The heap and GC figures of one snapshot, as summary's JSON carries them (the MemStats
/// names; a figure the release does not record is absent) and as summary's and top's
/// headers print them ("n/a" for the same).
struct HeapReport: Encodable, Equatable {
    let heapAlloc: UInt64?
    let heapInuse: UInt64?
    let heapObjects: UInt64?
    let stackInuse: UInt64?
    let nextGC: UInt64?
    /// GOGC in effect; negative: collection off.
    let gogc: Int32?
    /// GOMEMLIMIT in effect, bytes; 9223372036854775807 (math.MaxInt64): no limit.
    let memoryLimit: Int64?
    let numGC: UInt32?
    let numForcedGC: UInt32?
    /// Unix nanoseconds; 0 before the first cycle.
    let lastGC: UInt64?
    let secondsSinceLastGC: Double?
    let pauseTotalNs: UInt64?

    init(_ h: HeapStatistics) {
        heapAlloc = h.heapAlloc
        heapInuse = h.heapInUse
        heapObjects = h.heapObjects
        stackInuse = h.stackInUse
        nextGC = h.nextGC
        gogc = h.gcPercent
        memoryLimit = h.memoryLimit
        numGC = h.numGC
        numForcedGC = h.numForcedGC
        lastGC = h.lastGCUnixNanos
        secondsSinceLastGC = h.secondsSinceLastGC
        pauseTotalNs = h.pauseTotalNanos
    }

    /// "Heap: 12.3 MiB allocated (4567 objects), 14.0 MiB in use, next GC at 20.1 MiB, stacks 512 KiB"
    var heapLine: String {
        let objects = heapObjects.map { " (\($0) objects)" } ?? " (n/a objects)"
        return "Heap: \(Self.bytes(heapAlloc)) allocated\(objects), \(Self.bytes(heapInuse)) in use, "
            + "next GC at \(Self.bytes(nextGC)), stacks \(Self.bytes(stackInuse))"
    }

    /// "GC: 12 cycles (3 forced), last 12.3s ago, 1.2 ms paused in all, GOGC 100, GOMEMLIMIT none"
    var gcLine: String {
        let cycles = numGC.map { "\($0) cycles" } ?? "n/a cycles"
        let forced = numForcedGC.map { " (\($0) forced)" } ?? ""
        let last: String
        if lastGC == 0 {
            last = "none yet"
        } else if let seconds = secondsSinceLastGC {
            last = seconds >= 0 ? "\(SummaryReport.duration(seconds)) ago" : "just now"
        } else {
            last = "n/a"
        }
        let paused = pauseTotalNs.map { TextFormat.fixed(Double($0) / 1e6, decimals: 1) + " ms" } ?? "n/a"
        let gogcText = gogc.map { $0 < 0 ? "off" : String($0) } ?? "n/a"
        let limit = memoryLimit.map { $0 == HeapStatistics.noMemoryLimit ? "none" : Self.bytes(UInt64(max($0, 0))) } ?? "n/a"
        return "GC: \(cycles)\(forced), last \(last), \(paused) paused in all, GOGC \(gogcText), GOMEMLIMIT \(limit)"
    }

    /// Binary units, one decimal: "512 B", "12.3 KiB", "1.5 GiB"; "n/a" for nil.
    static func bytes(_ value: UInt64?) -> String {
        guard let value else { return "n/a" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        if value < 1024 { return "\(value) B" }
        var scaled = Double(value) / 1024
        var unit = 0
        while scaled >= 1024, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return TextFormat.fixed(scaled, decimals: 1) + " " + units[unit]
    }
}
