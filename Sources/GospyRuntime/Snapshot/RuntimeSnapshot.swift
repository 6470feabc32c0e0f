/// A goroutine's scheduling status (runtime._G* constants).
public enum GoroutineStatus: UInt32, Sendable, Codable, CaseIterable {
    case idle = 0, runnable, running, syscall, waiting, moribund, dead, enqueue, copystack, preempted
    /// Go 1.26+: a goroutine the GC proved leaked; 1.26+: an extra M's dead g.
    case leaked = 10, deadExtra = 11

    /// As the runtime's gStatusStrings names it.
    public var name: String {
        switch self {
        case .idle: return "idle"
        case .runnable: return "runnable"
        case .running: return "running"
        case .syscall: return "syscall"
        case .waiting: return "waiting"
        case .moribund: return "moribund"
        case .dead: return "dead"
        case .enqueue: return "enqueue"
        case .copystack: return "copystack"
        case .preempted: return "preempted"
        case .leaked: return "leaked"
        case .deadExtra: return "dead"
        }
    }

    public var isDead: Bool { self == .dead || self == .deadExtra }
}

/// What a stack walk needs of a goroutine: read while the target is stopped, before (and
/// much faster than) decoding the rest.
public struct StackExtent: Sendable, Equatable {
    public let address: UInt64
    public let status: GoroutineStatus
    /// The M it runs on (g.m), whose thread's registers start a running goroutine's walk.
    public let m: UInt64
    public let schedPC: UInt64
    public let schedSP: UInt64
    public let syscallPC: UInt64
    public let syscallSP: UInt64
    public let stackLo: UInt64
    public let stackHi: UInt64
}

/// One goroutine as read from the target's runtime.g.
public struct Goroutine: Sendable, Equatable {
    public let address: UInt64
    public let id: UInt64
    public let status: GoroutineStatus
    /// The _Gscan bit was set (the GC is scanning its stack).
    public let scanning: Bool
    public let waitReason: UInt8
    /// The runtime's text for the wait reason, from the target's own waitReasonStrings.
    public let waitReasonText: String?
    /// CLOCK_MONOTONIC nanoseconds when it started waiting (0: not recorded).
    public let waitSince: Int64
    /// The M it runs on (g.m), 0 when none.
    public let m: UInt64
    public let lockedM: UInt64
    public let startPC: UInt64
    /// PC of the `go` statement that created it.
    public let creatorPC: UInt64
    /// Go 1.21+: the id of the goroutine that created it.
    public let parentID: UInt64?
    public let schedPC: UInt64
    public let schedSP: UInt64
    public let schedBP: UInt64
    public let syscallPC: UInt64
    public let syscallSP: UInt64
    public let stackLo: UInt64
    public let stackHi: UInt64
    public let labels: UInt64
    /// g.waiting: the sudogs of a channel wait or select (from 1.26 also of a semaphore wait), 0 when none.
    public internal(set) var waiting: UInt64 = 0
    /// The synctest bubble it is in (g.bubble from 1.25, g.syncGroup in 1.24), 0 when none.
    public internal(set) var bubble: UInt64 = 0

    public var lockedToThread: Bool { lockedM != 0 }

    public var stackExtent: StackExtent {
        StackExtent(address: address, status: status, m: m, schedPC: schedPC, schedSP: schedSP,
                    syscallPC: syscallPC, syscallSP: syscallSP, stackLo: stackLo, stackHi: stackHi)
    }

    /// The state exactly as the runtime's dump header shows it: the wait reason for a waiting
    /// goroutine that has one, else the status name; " (scan)" while the GC scans it.
    public var stateText: String {
        var text = status.name
        if (status == .waiting || status == .leaked), waitReason != 0, let reason = waitReasonText {
            text = reason
        }
        // Go 1.26+: a goroutine the GC proved can never wake (goroutine leak detection).
        if status == .leaked { text += " (leaked)" }
        if scanning { text += " (scan)" }
        return text
    }

    /// Whole minutes waited, as the dump header prints them (nil when under a minute or unknown).
    public func waitMinutes(now: Int64) -> Int? {
        guard status == .waiting || status == .syscall, waitSince != 0 else { return nil }
        let minutes = (now &- waitSince) / 60_000_000_000
        return minutes >= 1 ? Int(minutes) : nil
    }
}

/// One P.
public struct Processor: Sendable, Equatable {
    public enum Status: UInt32, Sendable, Codable {
        case idle = 0, running, syscall, gcstop, dead
        public var name: String {
            switch self {
            case .idle: return "idle"
            case .running: return "running"
            case .syscall: return "syscall"
            case .gcstop: return "gcstop"
            case .dead: return "dead"
            }
        }
    }

    public let address: UInt64
    public let id: Int32
    public let status: Status?
    public let rawStatus: UInt32
    public let schedtick: UInt32
    public let syscalltick: UInt32
    public let m: UInt64
    public let runQueueLength: Int
    public let runNext: UInt64
}

/// One M (an OS thread the runtime manages).
public struct Machine: Sendable, Equatable {
    public let address: UInt64
    public let id: Int64
    /// The Linux thread id.
    public let threadID: Int64
    public let currentG: UInt64
    public let p: UInt64
    public let spinning: Bool
    public let blocked: Bool
    public let lockedG: UInt64
    public let g0: UInt64
    public let gsignal: UInt64
    /// Set while the thread is inside a VDSO call (nanotime1, walltime): the caller's SP and
    /// return PC, where the runtime's own tracebacks start instead of the registers.
    public var vdsoSP: UInt64 = 0
    public var vdsoPC: UInt64 = 0
}

/// Scheduler counters from runtime.sched.
public struct SchedulerState: Sendable, Equatable {
    public let goidgen: UInt64
    public let idleMs: Int32
    public let idlePs: Int32
    public let spinningMs: Int32
    public let globalRunQueue: Int32
    public let gcWaiting: Bool
}

/// Everything one snapshot read.
public struct RuntimeSnapshot: Sendable {
    public var goroutines: [Goroutine]
    public var processors: [Processor]
    public var machines: [Machine]
    public var scheduler: SchedulerState?
    public var gomaxprocs: Int32
    /// CLOCK_MONOTONIC when read, to compare with waitsince.
    public var monotonicNow: Int64
    /// Goroutines listed in allgs that could not be read consistently (non-blocking mode).
    public var unreadableGoroutines: Int
    /// How many times inconsistent goroutines were re-read.
    public var retries: Int
    /// The g pointers in allgs order: the order the runtime's own tracebacks print goroutines
    /// in (`goroutines` is sorted by id).
    public var allgs: [UInt64] = []
    /// Whether traceback headers show pprof labels (GODEBUG tracebacklabels, Go 1.26+).
    public var tracebackLabels: TracebackLabelsSetting = .notInRelease
    /// The heap and GC figures, read with the scheduler's (nil when not read).
    public var heap: HeapStatistics? = nil

    public func machine(at address: UInt64) -> Machine? {
        machines.first { $0.address == address }
    }
}
