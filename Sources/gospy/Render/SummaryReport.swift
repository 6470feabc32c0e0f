import GospyInspector
import GospyRuntime

/// The summary of one snapshot, built once and rendered as text or JSON.
struct SummaryReport: JSONOutput {
    struct Processor: Encodable {
        let id: Int32
        let status: String
        let schedtick: UInt32
        let syscalltick: UInt32
        let m: Int64?
        let runqueue: Int
    }

    struct Threads: Encodable {
        let total: Int
        let running: Int
        let sleeping: Int
        let diskSleep: Int
        let stopped: Int
        let zombie: Int
        let other: Int
    }

    struct Location: Encodable {
        let function: String
        let file: String
        let line: Int
    }

    /// Summary's fields of a goroutine, beside the header fields every JSON view shares.
    struct GoroutineDetails: Encodable {
        let m: Int64?
        let location: Location?
        let startFunction: String?
        let createdBy: Location?
        let parentId: UInt64?
        let system: Bool
        /// What it waits on (summary --json reads waits; absent when not read or none).
        var wait: WaitDescription? = nil
    }

    struct Scheduler: Encodable {
        /// Goroutine ids handed out so far (every goroutine's id is at most this).
        let goidgen: UInt64
        /// Ms (OS threads the runtime made) on allm.
        let threads: Int
        let idleProcessors: Int32
        let idleThreads: Int32
        let spinningThreads: Int32
        let globalRunQueue: Int32
        let gcWaiting: Bool
    }

    let pid: Int32
    let binary: String
    let goVersion: String
    let gomaxprocs: Int32
    let uptimeSeconds: Double?
    let processors: [Processor]
    let threads: Threads
    let scheduler: Scheduler?
    /// The heap and GC figures (MemStats names).
    let heap: HeapReport?
    let goroutineCounts: [String: Int]
    let totalGoroutines: Int
    let shownGoroutines: Int
    let unreadableGoroutines: Int
    let goroutines: [GoroutineJSON<GoroutineDetails>]
    let stoppedSeconds: Double?
    let elapsedSeconds: Double
    let locationKind: String

    /// `details`: build every shown goroutine's JSON fields (`goroutines`); text output
    /// leaves them out and streams its lines from the snapshot instead (`SummaryLines`).
    init(inspector: Inspector, capture: Inspector.Capture, locationKind: LocationKind, showSystem: Bool, waits: Waits? = nil,
         details: Bool = true) {
        let snapshot = capture.snapshot
        let image = inspector.image
        pid = inspector.pid
        binary = inspector.executableName
        goVersion = image.executable.buildInfo.goVersion
        gomaxprocs = snapshot.gomaxprocs
        uptimeSeconds = inspector.procfs.uptime()
        var machineIDs: [UInt64: Int64] = [:]
        for machine in snapshot.machines { machineIDs[machine.address] = machine.id }
        processors = snapshot.processors.map {
            Processor(id: $0.id, status: $0.status?.name ?? "status \($0.rawStatus)", schedtick: $0.schedtick,
                      syscalltick: $0.syscalltick, m: machineIDs[$0.m], runqueue: $0.runQueueLength)
        }
        let states = capture.threadStates
        let known: Set<Character> = ["R", "S", "D", "T", "t", "Z"]
        threads = Threads(
            total: states.values.reduce(0, +), running: states["R"] ?? 0, sleeping: states["S"] ?? 0,
            diskSleep: states["D"] ?? 0, stopped: (states["T"] ?? 0) + (states["t"] ?? 0), zombie: states["Z"] ?? 0,
            other: states.filter { !known.contains($0.key) }.values.reduce(0, +))
        scheduler = snapshot.scheduler.map {
            Scheduler(goidgen: $0.goidgen, threads: snapshot.machines.count, idleProcessors: $0.idlePs, idleThreads: $0.idleMs, spinningThreads: $0.spinningMs,
                      globalRunQueue: $0.globalRunQueue, gcWaiting: $0.gcWaiting)
        }
        heap = snapshot.heap.map(HeapReport.init)
        var counts: [String: Int] = [:]
        var shown: [GoroutineJSON<GoroutineDetails>] = []
        var shownCount = 0
        // Counted per status value, named once: no string hashing per goroutine.
        var byStatus = [Int](repeating: 0, count: 16)
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            let system = image.isSystemGoroutine(goroutine)
            byStatus[Int(goroutine.status.rawValue) & 15] += 1
            guard showSystem || !system else { continue }
            shownCount += 1
            guard details else { continue }
            let location = GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image, symbolizer: inspector.symbolizer, kind: locationKind)
            let creator = inspector.symbolizer.createdBy(goroutine)
            shown.append(GoroutineJSON(header: GoroutineHeaderJSON(goroutine, waitMinutes: goroutine.waitMinutes(now: snapshot.monotonicNow)), details: GoroutineDetails(
                m: goroutine.m == 0 ? nil : machineIDs[goroutine.m],
                location: location.map { Location(function: $0.function, file: $0.file, line: $0.line) },
                startFunction: image.startFunction(at: goroutine.startPC)?.function,
                createdBy: creator.map { Location(function: $0.function, file: $0.file, line: $0.line) },
                parentId: goroutine.parentID, system: system,
                wait: waits.flatMap { waits in waits.objects[goroutine.address].map { WaitDescription($0, waits: waits) } })))
        }
        for status in GoroutineStatus.allCases where byStatus[Int(status.rawValue)] > 0 {
            counts[status.name, default: 0] += byStatus[Int(status.rawValue)]
        }
        goroutineCounts = counts
        totalGoroutines = snapshot.goroutines.count
        shownGoroutines = shownCount
        unreadableGoroutines = snapshot.unreadableGoroutines
        goroutines = shown
        stoppedSeconds = capture.stoppedSeconds
        elapsedSeconds = capture.elapsedSeconds
        self.locationKind = locationKind.rawValue
    }


    /// The text output: the header, then one line per shown goroutine, streamed to `output`
    /// as `lines` makes them (a million lines are never held at once).
    /// `snapshotLines`: --verbose's account of the snapshot, printed after the counts.
    func writeText(color: Bool, snapshotLines: [String] = [], lines: SummaryLines, to output: inout BufferedOutput) {
        let style = TerminalStyle(enabled: color)
        output.append(headerText(style: style, snapshotLines: snapshotLines))
        lines.write(style: style, to: &output)
    }

    private func headerText(style: TerminalStyle, snapshotLines: [String]) -> String {
        var out = ""
        let uptime = uptimeSeconds.map { " uptime \(Self.duration($0))" } ?? ""
        out += style.bold("pid \(pid)") + "  \(binary)\n"
        out += "\(goVersion)  GOMAXPROCS \(gomaxprocs)\(uptime)\n"
        for p in processors {
            let m = p.m.map { "M\($0)" } ?? "-"
            out += "P\(p.id) \(p.status.padded(to: 8)) schedtick \(p.schedtick)  syscalltick \(p.syscalltick)  \(m)  runq \(p.runqueue)\n"
        }
        out += "Threads: \(threads.total) total, \(threads.running) running, \(threads.sleeping) sleeping, \(threads.diskSleep) disk sleep, \(threads.stopped) stopped, \(threads.zombie) zombie\n"
        if let s = scheduler {
            out += "Scheduler: \(s.threads) Ms, \(s.idleProcessors) idle Ps, \(s.idleThreads) idle Ms, \(s.spinningThreads) spinning Ms, global runq \(s.globalRunQueue)\(s.gcWaiting ? ", GC waiting" : "")\n"
        }
        if let heap {
            out += heap.heapLine + "\n" + heap.gcLine + "\n"
        }
        let order = Self.statusOrder
        let parts = order.compactMap { name in goroutineCounts[name].map { "\($0) \(name)" } }
            + goroutineCounts.keys.filter { !order.contains($0) }.sorted().map { "\(goroutineCounts[$0]!) \($0)" }
        out += "Goroutines: \(totalGoroutines) total" + (parts.isEmpty ? "" : ", " + parts.joined(separator: ", "))
        if shownGoroutines != totalGoroutines { out += " (\(totalGoroutines - shownGoroutines) system goroutines hidden; --all shows them)" }
        out += "\n"
        if unreadableGoroutines > 0 {
            out += style.yellow("\(unreadableGoroutines) goroutines changed while being read and are not shown") + "\n"
        }
        for line in snapshotLines { out += line + "\n" }
        out += "\n"
        return out
    }

    /// The order goroutine counts by status are listed in (summary and top).
    static let statusOrder = ["running", "runnable", "syscall", "waiting", "preempted", "copystack", "idle", "leaked"]

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        let (d, h, m, s) = (total / 86400, total / 3600 % 24, total / 60 % 60, total % 60)
        if d > 0 { return "\(d)d\(h)h\(m)m" }
        if h > 0 { return "\(h)h\(m)m\(s)s" }
        if m > 0 { return "\(m)m\(s)s" }
        return TextFormat.fixed(seconds, decimals: 1) + "s"
    }
}

/// summary's goroutine lines, made one at a time from the snapshot as they are written: the
/// same fields the JSON shows, without a record per goroutine.
struct SummaryLines {
    let inspector: Inspector
    let capture: Inspector.Capture
    let locationKind: LocationKind
    let showSystem: Bool

    /// Writes every shown goroutine's line. The location and creator texts are made once per
    /// distinct stack and go statement (a million goroutines share a few hundred), and each
    /// line is appended piece by piece: no string per goroutine.
    func write(style: TerminalStyle, to output: inout BufferedOutput) {
        let snapshot = capture.snapshot
        let image = inspector.image
        let symbolizer = inspector.symbolizer
        var machineIDs: [UInt64: Int64] = [:]
        for machine in snapshot.machines { machineIDs[machine.address] = machine.id }
        let byStack = (locationKind == .user || locationKind == .userCode) && capture.stacks != nil
        var locationTexts: [TracebackIdentity: String] = [:]
        var creators: [UInt64: String?] = [:]
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            guard showSystem || !image.isSystemGoroutine(goroutine) else { continue }
            let locate = {
                Self.locationText(GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image,
                                                           symbolizer: symbolizer, kind: locationKind))
            }
            let location: String
            if byStack, let stacks = capture.stacks, index < stacks.count {
                let identity = TracebackIdentity(frames: stacks[index].frames)
                if let known = locationTexts[identity] {
                    location = known
                } else {
                    location = locate()
                    locationTexts[identity] = location
                }
            } else {
                location = locate()
            }
            // "created by" depends on the go statement's PC alone, except for goroutine 1.
            let creator: String?
            if goroutine.id == 1 {
                creator = symbolizer.createdBy(goroutine)?.function
            } else if let known = creators[goroutine.creatorPC] {
                creator = known
            } else {
                creator = symbolizer.createdBy(goroutine)?.function
                creators[goroutine.creatorPC] = creator
            }
            Self.write(id: goroutine.id, m: goroutine.m == 0 ? nil : machineIDs[goroutine.m], state: goroutine.stateText,
                       waitMinutes: goroutine.waitMinutes(now: snapshot.monotonicNow), locked: goroutine.lockedToThread,
                       status: goroutine.status.name, location: location, creator: creator, parentID: goroutine.parentID,
                       style: style, to: &output)
        }
    }

    /// "  function (file:line)", or nothing.
    static func locationText(_ location: RuntimeImage.Location?) -> String {
        location.map { "  \($0.function) (\($0.file):\($0.line))" } ?? ""
    }

    /// One goroutine's line.
    static func write(id: UInt64, m: Int64?, state: String, waitMinutes: Int?, locked: Bool, status: String,
                      location: String, creator: String?, parentID: UInt64?, style: TerminalStyle, to output: inout BufferedOutput) {
        output.append(String(id))
        if let m {
            output.append(" M")
            output.append(String(m))
        }
        var state = state
        if let waitMinutes { state += ", \(waitMinutes) minutes" }
        if locked { state += ", locked to thread" }
        output.append(" ")
        if style.enabled {
            output.append(style.state("[\(state)]", status: status))
        } else {
            output.append("[")
            output.append(state)
            output.append("]")
        }
        output.append(location)
        if let creator {
            let parent = parentID.map { " in goroutine \($0)" } ?? ""
            if style.enabled {
                output.append(style.dim("  created by \(creator)" + parent))
            } else {
                output.append("  created by ")
                output.append(creator)
                output.append(parent)
            }
        }
        output.append("\n")
    }
}

/// A stack's identity for its traceback (its frames' PCs and trap marks), through its own
/// frame array: what `Symbolizer.traceback` answers the same for.
struct TracebackIdentity: Hashable {
    let frames: [PhysicalFrame]

    static func == (a: TracebackIdentity, b: TracebackIdentity) -> Bool {
        a.frames.count == b.frames.count && zip(a.frames, b.frames).allSatisfy { $0.pc == $1.pc && $0.trapped == $1.trapped }
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(frames.count)
        for frame in frames {
            hasher.combine(frame.pc)
            hasher.combine(frame.trapped)
        }
    }
}

/// ANSI styling, only when writing to a terminal.
struct TerminalStyle {
    let enabled: Bool
    func wrap(_ text: String, _ code: String) -> String { enabled ? "\u{1b}[\(code)m\(text)\u{1b}[0m" : text }
    func bold(_ text: String) -> String { wrap(text, "1") }
    func dim(_ text: String) -> String { wrap(text, "2") }
    func yellow(_ text: String) -> String { wrap(text, "33") }
    func state(_ text: String, status: String) -> String {
        switch status {
        case "running": return wrap(text, "32")
        case "runnable": return wrap(text, "36")
        case "syscall": return wrap(text, "35")
        default: return text
        }
    }
}
