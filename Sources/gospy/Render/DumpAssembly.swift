import GospyInspector
import GospyMemory
import GospyRuntime

/// A capture's goroutines as the dump formats print them: the runtime's own order, system
/// goroutines hidden unless asked for, each with its traceback body, creator and labels. Shared
/// by `gospy dump` and `gospy serve`'s pprof endpoints, so both print the same thing.
struct DumpAssembly {
    let items: [DumpedGoroutine]
    /// pprof labels by g address (read after the target resumed: immutable once set).
    let labels: [UInt64: [(String, String)]]

    /// No goroutines (a capture without stacks).
    static let empty = DumpAssembly(items: [], labels: [:])

    private init(items: [DumpedGoroutine], labels: [UInt64: [(String, String)]]) {
        self.items = items
        self.labels = labels
    }

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
        let maker = ItemMaker(inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames)
        for index in maker.order {
            if let (item, text) = maker.item(index) { body(item, text) }
        }
    }

    /// Makes the items of one capture; one per thread (its label and bubble readers read the
    /// target through a reader of their own).
    struct ItemMaker {
        let image: RuntimeImage
        let symbolizer: Symbolizer
        let snapshot: RuntimeSnapshot
        let stacks: [UnwoundStack]
        let all: Bool
        let runtimeFrames: Bool
        let labelReader: LabelReader
        let bubbles: SynctestReader
        /// The goroutines' indices in the runtime's own order, so the output diffs against its dumps.
        let order: [Int]
        /// This maker's own copies of what it looked up per goroutine: the symbolizer's and the
        /// image's tables are shared by every thread behind a lock, and goroutines share a few
        /// hundred stacks, start functions and go statements.
        private let bodies = LocalMemo<TracebackIdentity, TracebackBody>()
        private let creators = LocalMemo<CreatorKey, CreatedBy?>()
        private let systemGoroutines: SystemGoroutines

        /// What createdBy decides on.
        private struct CreatorKey: Hashable {
            let creatorPC: UInt64
            let isMain: Bool
            let parentID: UInt64?
        }

        init(inspector: Inspector, capture: Inspector.Capture, all: Bool, runtimeFrames: Bool, order: [Int]? = nil,
             memory: MemoryReader? = nil) {
            image = inspector.image
            symbolizer = inspector.symbolizer
            snapshot = capture.snapshot
            stacks = capture.stacks ?? []
            self.all = all
            self.runtimeFrames = runtimeFrames
            labelReader = LabelReader(image: image, memory: memory ?? inspector.memory)
            bubbles = SynctestReader(image: image, memory: memory ?? inspector.memory)
            systemGoroutines = SystemGoroutines(image: image)
            let stackCount = stacks.count
            self.order = order ?? capture.snapshot.allgsOrder(of: capture.snapshot.goroutines.map(\.address)).filter { $0 < stackCount }
        }

        /// Goroutine `index`'s item and its labels as text, or nil for a hidden system goroutine.
        func item(_ index: Int) -> (DumpedGoroutine, [(String, String)]?)? {
            let goroutine = snapshot.goroutines[index]
            let stack = stacks[index]
            let system = systemGoroutines.contains(goroutine)
            if system && !all { return nil }
            let creatorKey = CreatorKey(creatorPC: goroutine.creatorPC, isMain: goroutine.id == 1, parentID: goroutine.parentID)
            var item = DumpedGoroutine(
                goroutine: goroutine, stack: stack,
                body: bodies.value(TracebackIdentity(frames: stack.frames)) { symbolizer.traceback(stack, showRuntime: runtimeFrames) },
                createdBy: creators.value(creatorKey) { symbolizer.createdBy(goroutine, showRuntime: runtimeFrames) },
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
            return (item, text)
        }
    }
}
