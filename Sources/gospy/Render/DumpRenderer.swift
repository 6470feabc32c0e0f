import FoundationEssentials
import GospyBinary
import GospyInspector
import GospyRuntime

/// One goroutine with everything the dump formats print.
struct DumpedGoroutine {
    let goroutine: Goroutine
    let stack: UnwoundStack
    let body: TracebackBody
    let createdBy: CreatedBy?
    let waitMinutes: Int?
    let system: Bool
    /// pprof labels as the program set them, in Go's order (the header may print them).
    var labels: [(key: [UInt8], value: [UInt8])] = []
    /// Why its labels could not be read (its g points at labels gospy could not read whole).
    var labelsUnreadable: String? = nil
    /// For headers that name the g's M: its id (nil when not found).
    var machineID: Int64? = nil
    /// For a goroutine in a synctest bubble: what its header says of it.
    var synctest: TracebackHeader.SynctestNote? = nil
    /// What it waits on, when waits were read (dump --annotate, --format json).
    var wait: WaitDescription? = nil
}

/// How the traceback format prints headers for one target.
struct TracebackHeaderStyle {
    var labels: TracebackHeader.LabelStyle = .none
    /// Go 1.22+ at GOTRACEBACK=system (--runtime-frames): " gp=... m=... mp=...".
    var namesMachines = false
    /// GOTRACEBACK=system (--runtime-frames): " fp=... sp=... pc=..." after each physical
    /// frame's position.
    var framePointers = false
    /// dump --annotate: one comment line after each header naming what the goroutine waits on.
    var annotate = false

    /// As the target's runtime prints its tracebacks: labels per its release and its own
    /// tracebacklabels setting; with `runtimeFrames`, as it prints them at GOTRACEBACK=system.
    init(image: RuntimeImage, snapshot: RuntimeSnapshot, runtimeFrames: Bool) {
        labels = TracebackHeader.LabelStyle(version: image.executable.version, setting: snapshot.tracebackLabels)
        namesMachines = runtimeFrames && image.executable.version.atLeast(1, 22)
        framePointers = runtimeFrames
    }

    init(labels: TracebackHeader.LabelStyle = .none, namesMachines: Bool = false, framePointers: Bool = false) {
        self.labels = labels
        self.namesMachines = namesMachines
        self.framePointers = framePointers
    }
}

/// The runtime's traceback format (`debug=2`, SIGQUIT, runtime.Stack).
enum TracebackRenderer {
    static func header(_ item: DumpedGoroutine, style: TracebackHeaderStyle, into out: inout [UInt8]) {
        TracebackHeader.append(item.goroutine, waitMinutes: item.waitMinutes, labels: item.labels, style: style.labels,
                               machine: style.namesMachines ? .shown(machineID: item.machineID) : .none,
                               synctest: item.synctest, into: &out)
    }

    /// The --annotate line: "# waits on: OBJECT", "# waits on: nothing (running)" or, for a wait
    /// gospy reads no object for, "# waits on: not read (REASON)".
    static func annotation(_ item: DumpedGoroutine) -> String {
        if let wait = item.wait { return "# waits on: \(wait.text)\n" }
        switch item.goroutine.status {
        case .waiting, .leaked, .syscall: return "# waits on: not read (\(item.goroutine.stateText))\n"
        default: return "# waits on: nothing (\(item.goroutine.stateText))\n"
        }
    }

    static func render(_ item: DumpedGoroutine, symbolizer: Symbolizer, style: TracebackHeaderStyle = TracebackHeaderStyle()) -> String {
        var out: [UInt8] = []
        Writer(symbolizer: symbolizer, style: style).render(item, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Renders goroutines' tracebacks as bytes; one writer per thread. It keeps each distinct
    /// stack's text (a TracebackTemplate), so goroutines that share a stack share its
    /// formatting: render items made with one showRuntime setting through one writer.
    final class Writer {
        let symbolizer: Symbolizer
        let style: TracebackHeaderStyle
        private let templates = LocalMemo<TracebackIdentity, TracebackTemplate>()

        init(symbolizer: Symbolizer, style: TracebackHeaderStyle) {
            self.symbolizer = symbolizer
            self.style = style
        }

        /// One goroutine's traceback, appended to `out`.
        func render(_ item: DumpedGoroutine, into out: inout [UInt8]) {
            header(item, style: style, into: &out)
            if style.annotate { out.append(contentsOf: annotation(item).utf8) }
            template(item).write(item.stack, into: &out)
            if case let .truncated(reason) = item.stack.end {
                out.append(contentsOf: "...stack truncated: \(reason)\n".utf8)
            }
            if let reason = item.labelsUnreadable {
                out.append(contentsOf: "...labels unreadable: \(reason)\n".utf8)
            }
            if item.goroutine.status == .running && item.stack.origin.hasPrefix("sched") {
                out.append(contentsOf: "...running goroutine: stack read from its last saved state, not its thread (may be stale)\n".utf8)
            }
            if let creator = item.createdBy {
                out.append(contentsOf: "created by ".utf8)
                out.append(contentsOf: creator.function.utf8)
                if let parent = creator.parentID {
                    out.append(contentsOf: " in goroutine ".utf8)
                    ASCIINumbers.appendDecimal(parent, to: &out)
                }
                out.append(contentsOf: "\n\t".utf8)
                out.append(contentsOf: creator.file.utf8)
                out.append(UInt8(ascii: ":"))
                ASCIINumbers.appendDecimal(Int64(creator.line), to: &out)
                if let offset = creator.offset {
                    out.append(contentsOf: " +0x".utf8)
                    ASCIINumbers.appendHex(offset, to: &out)
                }
                out.append(UInt8(ascii: "\n"))
            }
        }

        private func template(_ item: DumpedGoroutine) -> TracebackTemplate {
            templates.value(TracebackIdentity(frames: item.stack.frames)) {
                TracebackTemplate(body: item.body, frames: item.stack.frames, symbolizer: symbolizer,
                                  framePointers: style.framePointers)
            }
        }
    }

    /// Streams the dump to `sink` in chunks, so a million goroutines never sit in one string.
    static func render(_ items: [DumpedGoroutine], symbolizer: Symbolizer, style: TracebackHeaderStyle,
                       to sink: (String) -> Void) {
        let writer = Writer(symbolizer: symbolizer, style: style)
        var chunk: [UInt8] = []
        chunk.reserveCapacity(1 << 17)
        for (index, item) in items.enumerated() {
            if index > 0 { chunk.append(UInt8(ascii: "\n")) }
            writer.render(item, into: &chunk)
            if chunk.count >= 1 << 16 {
                sink(String(decoding: chunk, as: UTF8.self))
                chunk.removeAll(keepingCapacity: true)
            }
        }
        if !chunk.isEmpty { sink(String(decoding: chunk, as: UTF8.self)) }
    }
}
