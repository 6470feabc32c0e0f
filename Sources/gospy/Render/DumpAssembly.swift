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
        var items: [DumpedGoroutine] = []
        var labels: [UInt64: [(String, String)]] = [:]
        Self.forEach(inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames) { item, text in
            if let text { labels[item.goroutine.address] = text }
            items.append(item)
        }
        self.items = items
        self.labels = labels
    }

    /// Makes each item in turn and hands it to `body` with its labels as text (nil when it has
    /// none): a traceback streamed this way never holds a million items at once.
    static func forEach(inspector: Inspector, capture: Inspector.Capture, all: Bool, runtimeFrames: Bool,
                        _ body: (DumpedGoroutine, [(String, String)]?) -> Void) {
        let image = inspector.image
        let symbolizer = inspector.symbolizer
        let snapshot = capture.snapshot
        let stacks = capture.stacks ?? []
        let labelReader = LabelReader(image: image, memory: inspector.memory)
        let bubbles = SynctestReader(image: image, memory: inspector.memory)
        // The runtime's own order, so the output diffs against its dumps.
        for index in snapshot.allgsOrder(of: snapshot.goroutines.map(\.address)) where index < stacks.count {
            let goroutine = snapshot.goroutines[index]
            let stack = stacks[index]
            let system = image.isSystemGoroutine(goroutine)
            if system && !all { continue }
            var item = DumpedGoroutine(
                goroutine: goroutine, stack: stack, body: symbolizer.traceback(stack, showRuntime: runtimeFrames),
                createdBy: symbolizer.createdBy(goroutine, showRuntime: runtimeFrames),
                waitMinutes: goroutine.waitMinutes(now: snapshot.monotonicNow), system: system,
                machineID: goroutine.m == 0 ? nil : snapshot.machine(at: goroutine.m)?.id)
            var text: [(String, String)]?
            if goroutine.labels != 0 {
                // Raw bytes for the headers (quoted byte for byte as the runtime does), text for the rest.
                // Labels that cannot be read are marked on the goroutine, never shown as none.
                let read = labelReader.read(of: goroutine)
                item.labels = read.pairs
                item.labelsUnreadable = read.unreadable
                text = read.text.map { ($0.key, $0.value) }
            }
            if goroutine.bubble != 0 {
                item.synctest = bubbles.membership(of: goroutine).map {
                    TracebackHeader.SynctestNote(goroutine: goroutine, membership: $0, version: image.executable.version)
                }
            }
            body(item, text)
        }
    }
}
