import FoundationEssentials
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
    static func header(_ item: DumpedGoroutine, style: TracebackHeaderStyle) -> String {
        TracebackHeader.line(item.goroutine, waitMinutes: item.waitMinutes, labels: item.labels, style: style.labels,
                             machine: style.namesMachines ? .shown(machineID: item.machineID) : .none,
                             synctest: item.synctest)
    }

    /// One frame: inlined calls print "(...)" as the runtime's do; a physical frame its
    /// arguments, or "(...)" when they could not be read. Appended piece by piece to `out`.
    /// `addresses`: with GOTRACEBACK=system's " fp=... sp=... pc=...", each physical frame's
    /// (nil fp: unknown, printed as "?").
    static func frame(_ frame: LogicalFrame, arguments: [String?], addresses: [(fp: UInt64?, sp: UInt64)]? = nil,
                      into out: inout String) {
        out += frame.function
        if frame.inlined {
            out += "(...)\n\t"
            out += frame.file
            out += ":"
            out += String(frame.line)
            out += "\n"
            return
        }
        out += "("
        out += frame.physicalIndex < arguments.count ? arguments[frame.physicalIndex] ?? "..." : "..."
        out += ")\n\t"
        out += frame.file
        out += ":"
        out += String(frame.line)
        if frame.pc > frame.entry {
            out += " +0x"
            out += String(frame.offset, radix: 16)
        }
        if let addresses, frame.physicalIndex < addresses.count {
            let (fp, sp) = addresses[frame.physicalIndex]
            out += " fp=" + (fp.map { "0x" + String($0, radix: 16) } ?? "?")
                + " sp=0x" + String(sp, radix: 16) + " pc=0x" + String(frame.pc, radix: 16)
        }
        out += "\n"
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
        var out = ""
        render(item, symbolizer: symbolizer, style: style, into: &out)
        return out
    }

    /// One goroutine's traceback, appended to `out`.
    static func render(_ item: DumpedGoroutine, symbolizer: Symbolizer, style: TracebackHeaderStyle, into out: inout String) {
        out += header(item, style: style)
        if style.annotate { out += annotation(item) }
        // Only the frames a traceback shows are printed.
        var shown = [Bool](repeating: false, count: item.stack.frames.count)
        for f in item.body.frames where f.physicalIndex < shown.count { shown[f.physicalIndex] = true }
        for f in item.body.tail where f.physicalIndex < shown.count { shown[f.physicalIndex] = true }
        let arguments = symbolizer.argumentTexts(item.stack) { shown[$0] }
        let addresses = style.framePointers ? item.stack.frames.map { (symbolizer.framePointer(of: $0), $0.sp) } : nil
        for f in item.body.frames { frame(f, arguments: arguments, addresses: addresses, into: &out) }
        if let elided = item.body.elidedCount {
            out += "...\(elided) frames elided...\n"
            for f in item.body.tail { frame(f, arguments: arguments, addresses: addresses, into: &out) }
        }
        if item.body.additionalElided { out += "...additional frames elided...\n" }
        if case let .truncated(reason) = item.stack.end {
            out += "...stack truncated: \(reason)\n"
        }
        if let reason = item.labelsUnreadable {
            out += "...labels unreadable: \(reason)\n"
        }
        if item.goroutine.status == .running && item.stack.origin.hasPrefix("sched") {
            out += "...running goroutine: stack read from its last saved state, not its thread (may be stale)\n"
        }
        if let creator = item.createdBy {
            out += "created by \(creator.function)"
            if let parent = creator.parentID { out += " in goroutine \(parent)" }
            out += "\n\t\(creator.file):\(creator.line)"
            if let offset = creator.offset { out += " +0x\(String(offset, radix: 16))" }
            out += "\n"
        }
    }

    /// Streams the dump to `sink` in chunks, so a million goroutines never sit in one string.
    static func render(_ items: [DumpedGoroutine], symbolizer: Symbolizer, style: TracebackHeaderStyle,
                       to sink: (String) -> Void) {
        withoutActuallyEscaping(sink) { sink in
            var stream = Stream(symbolizer: symbolizer, style: style, sink: sink)
            for item in items { stream.append(item) }
            stream.finish()
        }
    }

    /// Goroutines rendered one at a time into chunks handed to `sink` (blank lines between).
    struct Stream {
        let symbolizer: Symbolizer
        let style: TracebackHeaderStyle
        let sink: (String) -> Void
        private var chunk = ""
        private(set) var count = 0

        init(symbolizer: Symbolizer, style: TracebackHeaderStyle, sink: @escaping (String) -> Void) {
            self.symbolizer = symbolizer
            self.style = style
            self.sink = sink
            chunk.reserveCapacity(1 << 17)
        }

        mutating func append(_ item: DumpedGoroutine) {
            if count > 0 { chunk += "\n" }
            count += 1
            render(item, symbolizer: symbolizer, style: style, into: &chunk)
            if chunk.utf8.count >= 1 << 16 {
                sink(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }

        mutating func finish() {
            if !chunk.isEmpty { sink(chunk) }
            chunk = ""
        }
    }
}
