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

    /// Summary's fields of a goroutine, beside the header fields every JSON view shares.
    struct GoroutineDetails: Encodable {
        let m: Int64?
        let location: SourceLineJSON?
        let startFunction: String?
        let createdBy: SourceLineJSON?
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
    /// Encoded empty: `SummaryJSONDocument` writes the goroutines into its place as it makes them.
    let goroutines: [GoroutineJSON<GoroutineDetails>] = []
    let stoppedSeconds: Double?
    let elapsedSeconds: Double
    let locationKind: String

    /// The goroutines themselves are streamed: as lines (`SummaryLines`) or as JSON objects
    /// (`SummaryJSONDocument`).
    init(inspector: Inspector, capture: Inspector.Capture, locationKind: LocationKind, showSystem: Bool) {
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
        let systemGoroutines = SystemGoroutines(image: image)
        let shownCount = showSystem ? snapshot.goroutines.count : snapshot.goroutines.lazy.filter { !systemGoroutines.contains($0) }.count
        goroutineCounts = snapshot.goroutineCountsByStatus
        totalGoroutines = snapshot.goroutines.count
        shownGoroutines = shownCount
        unreadableGoroutines = snapshot.unreadableGoroutines
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
