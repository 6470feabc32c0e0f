import GospyInspector
import GospyRuntime

/// A capture's goroutines as the dump formats print them: the runtime's own order, system
/// goroutines hidden unless asked for, each with its traceback body, creator and labels. Shared
/// by `gospy dump` and `gospy serve`'s pprof endpoints, so both print the same thing.
struct DumpAssembly {
    let items: [DumpedGoroutine]
    /// pprof labels by g address (read after the target resumed: immutable once set).
    let labels: [UInt64: [(String, String)]]

    init(inspector: Inspector, capture: Inspector.Capture, all: Bool, runtimeFrames: Bool) {
        let image = inspector.image
        let symbolizer = inspector.symbolizer
        let snapshot = capture.snapshot
        let stacks = capture.stacks ?? []
        var items: [DumpedGoroutine] = []
        // The runtime's own order, so the output diffs against its dumps.
        for index in snapshot.allgsOrder(of: snapshot.goroutines.map(\.address)) where index < stacks.count {
            let goroutine = snapshot.goroutines[index]
            let stack = stacks[index]
            let system = image.isSystemGoroutine(goroutine)
            if system && !all { continue }
            items.append(DumpedGoroutine(
                goroutine: goroutine, stack: stack, body: symbolizer.traceback(stack, showRuntime: runtimeFrames),
                createdBy: symbolizer.createdBy(goroutine, showRuntime: runtimeFrames),
                waitMinutes: goroutine.waitMinutes(now: snapshot.monotonicNow), system: system,
                machineID: goroutine.m == 0 ? nil : snapshot.machine(at: goroutine.m)?.id))
        }
        let labelReader = LabelReader(image: image, memory: inspector.memory)
        var labels: [UInt64: [(String, String)]] = [:]
        for index in items.indices where items[index].goroutine.labels != 0 {
            // Raw bytes for the headers (quoted byte for byte as the runtime does), text for the rest.
            let raw = labelReader.rawLabels(of: items[index].goroutine)
            items[index].labels = raw
            labels[items[index].goroutine.address] = raw.map {
                (String(decoding: $0.key, as: UTF8.self), String(decoding: $0.value, as: UTF8.self))
            }
        }
        let bubbles = SynctestReader(image: image, memory: inspector.memory)
        for index in items.indices where items[index].goroutine.bubble != 0 {
            let goroutine = items[index].goroutine
            items[index].synctest = bubbles.membership(of: goroutine).map {
                TracebackHeader.SynctestNote(goroutine: goroutine, membership: $0, version: image.executable.version)
            }
        }
        self.items = items
        self.labels = labels
    }
}
