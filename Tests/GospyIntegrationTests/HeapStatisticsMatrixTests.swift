import Foundation
import Testing

/// `gospy summary`'s heap and GC figures against the target's own runtime.ReadMemStats,
/// debug.SetGCPercent and debug.SetMemoryLimit, on every release, plain and distro builds.
///
/// Counts and settings must be equal. Byte and object figures (HeapAlloc, HeapObjects,
/// HeapInuse, StackInuse) must lie between the runtime's own figures read just before and
/// just after gospy's snapshot: the target can allocate in between (its control loop, its
/// parent watcher), and HeapAlloc and HeapObjects are totals the runtime updates only when a
/// P hands a cached span back, which ReadMemStats forces and gospy (never writing) cannot.
/// With no collection in between nothing is freed, so the two readings bracket gospy's;
/// when the target allocated nothing, they are equal and so must gospy's be.
@Suite struct HeapStatisticsMatrixTests {
    static let binaries = TestTargets.all.filter { $0.mode == "plain" || $0.mode == "distro" }

    struct Settings: CustomTestStringConvertible, Sendable {
        let environment: [String: String]
        let gogc: Int64
        let memoryLimit: Int64
        var testDescription: String { environment.keys.sorted().map { "\($0)=\(environment[$0]!)" }.joined(separator: " ") }
    }

    static let settings = [
        Settings(environment: ["GOGC": "150", "GOMEMLIMIT": "1GiB"], gogc: 150, memoryLimit: 1 << 30),
        Settings(environment: ["GOGC": "off"], gogc: -1, memoryLimit: Int64.max),
    ]

    /// The heap part of `summary --json`.
    struct Summary: Decodable {
        struct Heap: Decodable {
            let heapAlloc: UInt64?, heapInuse: UInt64?, heapObjects: UInt64?, stackInuse: UInt64?, nextGC: UInt64?
            let gogc: Int32?, memoryLimit: Int64?, numGC: UInt32?, numForcedGC: UInt32?, lastGC: UInt64?
            let pauseTotalNs: UInt64?
        }
        let heap: Heap?
    }

    /// The target's `memstats` reply, by key.
    static func memstats(_ target: RunningTarget) throws -> [String: Int64] {
        let reply = try target.send("memstats")
        let fields = reply.split(separator: " ")
        guard fields.first == "MEMSTATS" else { throw RunningTarget.TargetError.protocolError("memstats replied \(reply)") }
        var values: [String: Int64] = [:]
        for field in fields.dropFirst() {
            let parts = field.split(separator: "=", maxSplits: 1)
            // Every figure printed fits an Int64 (byte counts of a test process).
            if parts.count == 2, let value = Int64(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }

    static let retainedBytes: Int64 = 32 << 20
    static let forcedCycles = 3

    @Test(arguments: binaries, settings)
    func figuresEqualReadMemStats(binary: TargetBinary, settings: Settings) throws {
        let target = try RunningTarget(binary, environment: settings.environment)
        defer { target.stop() }
        #expect(try target.send("retain \(Self.retainedBytes)") == "RETAINED \(Self.retainedBytes)")
        #expect(try target.send("gcs \(Self.forcedCycles)") == "GCS \(Self.forcedCycles)")

        for _ in 0..<5 {
            let before = try Self.memstats(target)
            let result = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid), "--json"])
            let after = try Self.memstats(target)
            try #require(result.status == 0, "gospy failed: exit \(result.status) \(result.stderr)")
            // A collection in between (none is due: the heap is far from its goal) would free
            // and re-pace; read again rather than compare across it.
            guard before["numgc"] == after["numgc"] else { continue }
            let summary = try JSONDecoder().decode(Summary.self, from: Data(result.stdout.utf8))
            let heap = try #require(summary.heap, "no heap figures in summary --json")

            // The settings, as the environment set them and as the runtime reports them.
            #expect(before["gogc"] == settings.gogc && before["memlimit"] == settings.memoryLimit)
            #expect(heap.gogc.map(Int64.init) == settings.gogc)
            #expect(heap.memoryLimit == settings.memoryLimit)
            // Counts: exactly the runtime's.
            #expect(heap.numGC.map(Int64.init) == before["numgc"])
            #expect(heap.numForcedGC.map(Int64.init) == before["numforcedgc"])
            #expect(heap.numForcedGC == UInt32(Self.forcedCycles), "only the test forced collections")
            #expect(heap.lastGC.map { Int64(bitPattern: $0) } == before["lastgc"])
            #expect(heap.pauseTotalNs.map { Int64(bitPattern: $0) } == before["pausetotal"])
            // With GOGC on, the goal is the one the last cycle set (the 1 GiB limit is far above
            // it): exact. With GOGC off the memory limit's goal is the goal (no limit: MaxInt64
            // less the mapped memory that holds no heap object, less 3% headroom): it moves by
            // up to every byte that HeapAlloc, HeapInuse and StackInuse moved between the
            // readings, in either direction, and by HeapAlloc's lag (bounded by the same).
            if settings.gogc >= 0 {
                #expect(heap.nextGC.map { Int64(bitPattern: $0) } == before["nextgc"])
            } else {
                let moved = ["heapalloc", "heapinuse", "stackinuse"].map { abs((after[$0] ?? 0) - (before[$0] ?? 0)) }.reduce(0, +)
                let low = min(before["nextgc"] ?? 0, after["nextgc"] ?? 0) - moved
                let high = max(before["nextgc"] ?? 0, after["nextgc"] ?? 0) + moved
                let gospy = heap.nextGC.map { Int64(bitPattern: $0) }
                #expect(gospy.map { (low...high).contains($0) } == true,
                        "nextgc: gospy \(gospy.map(String.init) ?? "nil"), runtime \(before["nextgc"] ?? 0) before, \(after["nextgc"] ?? 0) after, moved \(moved)")
            }
            let bracketed: [(String, UInt64?)] = [("heapalloc", heap.heapAlloc), ("heapobjects", heap.heapObjects),
                                                  ("heapinuse", heap.heapInuse), ("stackinuse", heap.stackInuse)]
            // Bytes and objects: between the readings before and after.
            for (key, value) in bracketed {
                let low = min(before[key] ?? -1, after[key] ?? -1), high = max(before[key] ?? -1, after[key] ?? -1)
                let gospy = value.map { Int64(bitPattern: $0) }
                #expect(gospy.map { (low...high).contains($0) } == true,
                        "\(key): gospy \(gospy.map(String.init) ?? "nil"), runtime \(before[key].map(String.init) ?? "nil") before, \(after[key].map(String.init) ?? "nil") after")
            }
            #expect((heap.heapAlloc ?? 0) >= UInt64(Self.retainedBytes))

            // The text header says the same, with no "n/a".
            let text = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid)])
            let heapLine = text.stdout.split(separator: "\n").first { $0.hasPrefix("Heap: ") }
            let gcLine = text.stdout.split(separator: "\n").first { $0.hasPrefix("GC: ") }
            #expect(heapLine != nil && gcLine != nil, "summary text: \(text.stdout.prefix(600))")
            #expect(heapLine.map { !$0.contains("n/a") } == true && gcLine.map { !$0.contains("n/a") } == true)
            let gogcText = settings.gogc < 0 ? "GOGC off" : "GOGC \(settings.gogc)"
            #expect(gcLine.map { $0.contains("\(Self.forcedCycles) forced") && $0.contains(gogcText) } == true, "\(gcLine ?? "")")
            #expect(!ProcessState.anyStopped(target.pid), "target left stopped")
            return
        }
        Issue.record("a collection ran during each of 5 rounds")
    }

    /// top's header carries the heap and GC lines.
    @Test(arguments: binaries.filter { $0.release == TestTargets.newestRelease || $0.release == "1.19" })
    func topHeaderShowsHeapAndGC(binary: TargetBinary) throws {
        let target = try RunningTarget(binary, environment: ["GOGC": "150"])
        defer { target.stop() }
        #expect(try target.send("gcs 2") == "GCS 2")
        let before = try Self.memstats(target)
        let result = try Subprocess.run(Subprocess.gospy, ["top", "--pid", String(target.pid), "--plain", "--iterations", "1"])
        try #require(result.status == 0, "gospy top failed: exit \(result.status) \(result.stderr)")
        let after = try Self.memstats(target)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let gc = try #require(lines.first { $0.hasPrefix("GC: ") }, "top: \(result.stdout.prefix(600))")
        #expect(lines.contains { $0.hasPrefix("Heap: ") && !$0.contains("n/a") })
        let cycles = Set([before["numgc"], after["numgc"]].compactMap { $0 }.map { "GC: \($0) cycles (2 forced)" })
        #expect(cycles.contains { gc.hasPrefix($0) }, "\(gc) vs \(cycles)")
        #expect(gc.contains("GOGC 150") && gc.contains("GOMEMLIMIT none"))
    }
}
