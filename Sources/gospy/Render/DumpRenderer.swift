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
    /// For headers that name the g's M: its id (nil when not found).
    var machineID: Int64? = nil
    /// For a goroutine in a synctest bubble: what its header says of it.
    var synctest: TracebackHeader.SynctestNote? = nil
}

/// How the traceback format prints headers for one target.
struct TracebackHeaderStyle {
    var labels: TracebackHeader.LabelStyle = .none
    /// Go 1.22+ at GOTRACEBACK=system (--runtime-frames): " gp=... m=... mp=...".
    var namesMachines = false
    /// GOTRACEBACK=system (--runtime-frames): " fp=... sp=... pc=..." after each physical
    /// frame's position.
    var framePointers = false

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
    /// arguments, or "(...)" when they could not be read.
    /// `addresses`: with GOTRACEBACK=system's " fp=... sp=... pc=...", each physical frame's
    /// (nil fp: unknown, printed as "?").
    static func frame(_ frame: LogicalFrame, arguments: [String?], addresses: [(fp: UInt64?, sp: UInt64)]? = nil) -> String {
        if frame.inlined {
            return "\(frame.function)(...)\n\t\(frame.file):\(frame.line)\n"
        }
        var offset = frame.pc > frame.entry ? " +0x\(String(frame.offset, radix: 16))" : ""
        if let addresses, frame.physicalIndex < addresses.count {
            let (fp, sp) = addresses[frame.physicalIndex]
            offset += " fp=" + (fp.map { "0x" + String($0, radix: 16) } ?? "?")
                + " sp=0x" + String(sp, radix: 16) + " pc=0x" + String(frame.pc, radix: 16)
        }
        let text = frame.physicalIndex < arguments.count ? arguments[frame.physicalIndex] ?? "..." : "..."
        return "\(frame.function)(\(text))\n\t\(frame.file):\(frame.line)\(offset)\n"
    }

    static func render(_ item: DumpedGoroutine, symbolizer: Symbolizer, style: TracebackHeaderStyle = TracebackHeaderStyle()) -> String {
        var out = header(item, style: style)
        // Only the frames a traceback shows are printed.
        var shown = [Bool](repeating: false, count: item.stack.frames.count)
        for body in [item.body.frames, item.body.tail] {
            for f in body where f.physicalIndex < shown.count { shown[f.physicalIndex] = true }
        }
        let arguments = symbolizer.argumentTexts(item.stack) { shown[$0] }
        let addresses = style.framePointers ? item.stack.frames.map { (symbolizer.framePointer(of: $0), $0.sp) } : nil
        for f in item.body.frames { out += frame(f, arguments: arguments, addresses: addresses) }
        if let elided = item.body.elidedCount {
            out += "...\(elided) frames elided...\n"
            for f in item.body.tail { out += frame(f, arguments: arguments, addresses: addresses) }
        }
        if item.body.additionalElided { out += "...additional frames elided...\n" }
        if case let .truncated(reason) = item.stack.end {
            out += "...stack truncated: \(reason)\n"
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
        return out
    }

    /// Streams the dump to `sink` in chunks, so a million goroutines never sit in one string.
    static func render(_ items: [DumpedGoroutine], symbolizer: Symbolizer, style: TracebackHeaderStyle,
                       to sink: (String) -> Void) {
        var chunk = ""
        chunk.reserveCapacity(1 << 17)
        for (index, item) in items.enumerated() {
            if index > 0 { chunk += "\n" }
            chunk += render(item, symbolizer: symbolizer, style: style)
            if chunk.utf8.count >= 1 << 16 {
                sink(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        if !chunk.isEmpty { sink(chunk) }
    }
}

/// Goroutines with identical stacks grouped with a count, like the runtime's `debug=1`.
enum GroupedRenderer {
    static func render(_ items: [DumpedGoroutine], labels: [UInt64: [(String, String)]], symbolizer: Symbolizer) -> String {
        struct Key: Hashable {
            let pcs: [UInt64]
            let labels: [String]
        }
        // Grouped by what the runtime's profile records (wrappers elided, at most its depth).
        var groups: [Key: (count: Int, frames: [LogicalFrame], labels: [(String, String)])] = [:]
        var order: [Key] = []
        for item in items {
            let itemLabels = labels[item.goroutine.address] ?? []
            let profile = symbolizer.groupedProfile(item.stack)
            let key = Key(pcs: profile.pcs, labels: itemLabels.map { "\($0.0)=\($0.1)" })
            if let existing = groups[key] {
                groups[key] = (existing.count + 1, existing.frames, existing.labels)
            } else {
                groups[key] = (1, profile.frames, itemLabels)
                order.append(key)
            }
        }
        let sorted = order.sorted { (groups[$0]!.count, $1.pcs.count) > (groups[$1]!.count, $0.pcs.count) }
        var out = "goroutine profile: total \(items.count)\n"
        for key in sorted {
            let group = groups[key]!
            out += "\(group.count) @" + key.pcs.map { " 0x" + String($0, radix: 16) }.joined() + "\n"
            if !group.labels.isEmpty {
                let pairs = group.labels.map { "\(Self.quote($0.0)):\(Self.quote($0.1))" }.joined(separator: ", ")
                out += "# labels: {\(pairs)}\n"
            }
            for frame in group.frames {
                let pc = frame.symbolPC
                out += "#\t0x\(String(pc, radix: 16))\t\(frame.function)+0x\(String(pc &- frame.entry, radix: 16))\t\(frame.file):\(frame.line)\n"
            }
            out += "\n"
        }
        return out
    }

    static func quote(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
