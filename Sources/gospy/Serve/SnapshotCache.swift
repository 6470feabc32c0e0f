import Dispatch
import FoundationEssentials
import GospyMemory
import GospyInspector
import GospyProcess

/// One snapshot of a served process, with what every endpoint renders from it.
final class ServedSnapshot: @unchecked Sendable {
    let inspector: Inspector
    let capture: Inspector.Capture
    /// The goroutines as `gospy dump` prints them (system goroutines hidden, as the runtime's
    /// profile hides them); none in a snapshot of counts alone (`hasStacks` false).
    let assembly: DumpAssembly
    let takenAt: DispatchTime
    let wallTime: Date

    init(inspector: Inspector, capture: Inspector.Capture) {
        self.inspector = inspector
        self.capture = capture
        assembly = capture.stacks == nil ? .empty
            : DumpAssembly(inspector: inspector, capture: capture, all: false, runtimeFrames: false)
        takenAt = .now()
        wallTime = Date()
    }

    /// Whether the stacks were walked: /metrics needs only the goroutines' states, and a
    /// snapshot without stacks costs a fraction of one with them (a million goroutines: about
    /// half a second instead of several).
    var hasStacks: Bool { capture.stacks != nil }

    var ageSeconds: Double { ServedProcess.seconds(since: takenAt) }
}

/// Why a served process cannot be read, and the HTTP status that says so.
struct ServeFailure: Error, Sendable {
    let status: Int
    let message: String
}

/// One process `gospy serve` answers for: its inspector (the binary analysed once), its last
/// snapshot and its counters. Every snapshot is taken on the process's own serial queue, at
/// most once per interval: any number of concurrent scrapes share it. /metrics alone reads
/// the goroutines without their stacks; once pages or profiles ask for stacks, every snapshot
/// walks them (for a few intervals after the last such request), so that mixed scrapes share
/// one snapshot per interval as before, but for the first page after /metrics alone.
final class ServedProcess: @unchecked Sendable {
    let pid: Int32
    let executable: String
    /// The process's start time: a pid reused by another process is another target.
    let startTicks: UInt64
    private let queue: DispatchQueue
    // Guarded by `queue`.
    private var inspector: Inspector?
    private var last: ServedSnapshot?
    private var lastFailure: (failure: ServeFailure, at: DispatchTime)?
    /// When a page or profile last asked for stacks: while they are asked for, /metrics takes
    /// its snapshots with stacks too, so that mixed scrapes still share one per interval.
    private var stacksWantedAt: DispatchTime?
    // Counters, read by /metrics under `lock`.
    private let lock = ThreadLock()
    private var _snapshots = 0
    private var _errors = 0
    private var _exited = false
    private var _recording = false

    init(pid: Int32, executable: String, startTicks: UInt64) {
        self.pid = pid
        self.executable = executable
        self.startTicks = startTicks
        queue = DispatchQueue(label: "gospy.serve.pid\(pid)")
    }

    var snapshotsTaken: Int { lock.withLock { _snapshots } }
    var snapshotErrors: Int { lock.withLock { _errors } }
    var exited: Bool { lock.withLock { _exited } }

    /// Claims the process's one recording slot (a flame graph); false when it is taken.
    func beginRecording() -> Bool {
        lock.withLock {
            guard !_recording else { return false }
            _recording = true
            return true
        }
    }

    func endRecording() {
        lock.withLock { _recording = false }
    }

    /// The cached snapshot with stacks when younger than `interval`, else a new one.
    /// `notBefore`: only a snapshot taken after that moment will do (the second snapshot of
    /// pprof's `seconds`).
    func snapshot(interval: Double, blocking: Bool, notBefore: DispatchTime? = nil) async -> Result<ServedSnapshot, ServeFailure> {
        await onQueue { self.snapshotOnQueue(interval: interval, blocking: blocking, stacks: true, notBefore: notBefore) }
    }

    /// The cached snapshot (with or without stacks) when younger than `interval`, else a new
    /// one without stacks: the goroutines' states and counts, for /metrics.
    func counts(interval: Double, blocking: Bool) async -> Result<ServedSnapshot, ServeFailure> {
        await onQueue { self.snapshotOnQueue(interval: interval, blocking: blocking, stacks: false, notBefore: nil) }
    }

    private func onQueue(_ body: @escaping @Sendable () -> Result<ServedSnapshot, ServeFailure>) async -> Result<ServedSnapshot, ServeFailure> {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    private func snapshotOnQueue(interval: Double, blocking: Bool, stacks: Bool, notBefore: DispatchTime?) -> Result<ServedSnapshot, ServeFailure> {
        let fresh: (DispatchTime) -> Bool = { taken in
            if let notBefore, taken < notBefore { return false }
            return Self.seconds(since: taken) < interval
        }
        if let last, fresh(last.takenAt), last.hasStacks || !stacks { return .success(last) }
        // A failing target is not retried more often than a working one is read.
        if let lastFailure, fresh(lastFailure.at) { return .failure(lastFailure.failure) }
        do {
            if exited { throw ProcessError.exited(pid: pid, during: "being served") }
            let procfs = ProcFS(pid: pid)
            guard let stat = try? procfs.stat(), stat.startTimeTicks == startTicks, stat.state != "Z" else {
                throw ProcessError.exited(pid: pid, during: "being served")
            }
            let inspector = try self.inspector ?? Inspector(pid: pid)
            self.inspector = inspector
            if stacks { stacksWantedAt = .now() }
            let walk = stacks || stacksWantedAt.map { Self.seconds(since: $0) < Self.stacksWantedIntervals * interval } ?? false
            let capture = try inspector.capture(blocking: blocking, stacks: walk, arguments: walk)
            let snapshot = ServedSnapshot(inspector: inspector, capture: capture)
            last = snapshot
            lastFailure = nil
            lock.withLock { _snapshots += 1 }
            return .success(snapshot)
        } catch {
            let failure = Self.failure(for: error, pid: pid)
            switch error {
            case ProcessError.exited, ProcessError.noSuchProcess, ProcessError.zombie:
                // Gone for good: its inspector (and tracer thread) go too.
                lock.withLock { _exited = true }
                inspector = nil
            default:
                break
            }
            last = nil
            lastFailure = (failure, .now())
            lock.withLock { _errors += 1 }
            return .failure(failure)
        }
    }

    /// Intervals after a page or profile asked for stacks during which /metrics still takes
    /// its snapshots with them.
    static let stacksWantedIntervals = 3.0

    static func seconds(since moment: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds &- moment.uptimeNanoseconds) / 1e9
    }

    static func failure(for error: Error, pid: Int32) -> ServeFailure {
        let message = Diagnosis.describe(error).message
        switch error {
        case ProcessError.noSuchProcess, ProcessError.exited, ProcessError.zombie:
            return ServeFailure(status: 404, message: "process \(pid) exited")
        case ProcessError.permissionDenied:
            return ServeFailure(status: 403, message: message)
        case InspectorError.notGoProcess:
            return ServeFailure(status: 404, message: message)
        default:
            return ServeFailure(status: 500, message: message)
        }
    }
}

/// The processes `gospy serve` answers for: a fixed list (--pid), or every Go process on the
/// host (--all-go), rescanned at most once per interval.
final class ServedProcesses: @unchecked Sendable {
    let interval: Double
    let blocking: Bool
    private let fixed: [Int32]?
    private let scan = HostScan()
    private let lock = ThreadLock()
    private var processes: [Int32: ServedProcess] = [:]
    private var listing: [HostProcess] = []
    private var scannedAt: DispatchTime?

    init(pids: [Int32]?, interval: Double, blocking: Bool) {
        fixed = pids
        self.interval = interval
        self.blocking = blocking
    }

    /// The `ps` data of the served processes (rescanned at most once per interval).
    func list() -> [HostProcess] {
        lock.lock()
        defer { lock.unlock() }
        if let scannedAt, Double(DispatchTime.now().uptimeNanoseconds &- scannedAt.uptimeNanoseconds) / 1e9 < interval {
            return listing
        }
        listing = scan.scan(only: fixed.map(Set.init))
        scannedAt = .now()
        var next: [Int32: ServedProcess] = [:]
        // Only processes known to be Go (not those whose executable could not be read).
        for host in listing where host.goVersion != nil {
            let start = (try? ProcFS(pid: host.pid).stat().startTimeTicks) ?? 0
            if let known = processes[host.pid], known.startTicks == start, !known.exited {
                next[host.pid] = known
            } else {
                next[host.pid] = ServedProcess(pid: host.pid, executable: host.executable, startTicks: start)
            }
        }
        // A fixed target that exited stays, as "up 0"; under --all-go it goes with the rescan.
        for pid in fixed ?? [] where next[pid] == nil {
            next[pid] = processes[pid] ?? ServedProcess(pid: pid, executable: "", startTicks: 0)
        }
        processes = next
        return listing
    }

    /// Every served process, for /metrics.
    func all() -> [ServedProcess] {
        _ = list()
        return lock.withLock { processes.values.sorted { $0.pid < $1.pid } }
    }

    /// One served process, or why there is none.
    func process(_ pid: Int32) -> Result<ServedProcess, ServeFailure> {
        if let fixed, !fixed.contains(pid) {
            return .failure(ServeFailure(status: 404, message: "pid \(pid) is not served (gospy serve --pid \(fixed.map(String.init).joined(separator: " --pid ")))"))
        }
        _ = list()
        if let known = lock.withLock({ processes[pid] }), !known.exited { return .success(known) }
        let procfs = ProcFS(pid: pid)
        guard procfs.exists else { return .failure(ServeFailure(status: 404, message: "no process with pid \(pid)")) }
        guard let host = scan.inspect(pid) else {
            return .failure(ServeFailure(status: 404, message: "process \(pid) is not a Go program"))
        }
        // Started since the last scan: served from now on.
        let start = (try? procfs.stat().startTimeTicks) ?? 0
        let served = ServedProcess(pid: pid, executable: host.executable, startTicks: start)
        lock.withLock { processes[pid] = served }
        return .success(served)
    }
}
