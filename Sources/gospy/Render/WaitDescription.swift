import GospyInspector
import GospyProcess
import GospyRuntime

/// One goroutine's wait object as summary --json, dump --format json and dump --annotate show
/// it, and the key top --group-by object groups by.
struct WaitDescription: Encodable, Equatable {
    /// "chan", "select", "nil chan", "select without cases", "sync.Mutex", "sync.RWMutex",
    /// "sync.WaitGroup", "sync.Cond", "semaphore", "sleep", "io", "syscall", "unknown".
    let kind: String
    /// A channel's or sync object's address (fmt's %p); an IO wait's runtime pollDesc.
    var address: String?
    /// "send"/"receive" on a channel; "read"/"write" on a descriptor.
    var direction: String?
    /// A select's cases.
    var cases: [WaitDescription]?
    var fd: Int32?
    /// What the descriptor is.
    var descriptor: FileDescription?
    /// A system call's name, arguments and thread.
    var syscall: String?
    var arguments: [String]?
    var thread: Int64?
    /// How it waits on a sync object ("Lock", "RLock", "Wait", ...) and its place in the
    /// object's queue (1: woken first).
    var role: String?
    var position: Int?
    /// Sleep: the runtime nanotime (CLOCK_MONOTONIC ns) it wakes at; a timer channel: the
    /// nanotime its timer fires at (absent when stopped or not known).
    var wakesAt: Int64?
    /// A timer channel: "fires", "stopped" or "unknown"; a ticker's period in ns.
    var timer: String?
    var period: Int64?
    /// Why an unknown object is unknown.
    var reason: String?
    /// Nothing can ever wake it.
    var stuckForGood: Bool?

    init(kind: String) {
        self.kind = kind
    }

    init(_ object: WaitObject, waits: Waits) {
        switch object {
        case let .channel(channelCase):
            self = Self.channelCase(channelCase, waits: waits)
        case let .select(cases):
            self.init(kind: "select")
            self.cases = cases.map { Self.channelCase($0, waits: waits) }
        case let .nilChannel(direction):
            self.init(kind: "nil chan")
            self.direction = direction.rawValue
            stuckForGood = true
        case .selectWithoutCases:
            self.init(kind: "select without cases")
            stuckForGood = true
        case let .unknown(reason):
            self.init(kind: "unknown")
            self.reason = reason
        case let .io(wait):
            self.init(kind: "io")
            address = WaitsReport.hex(wait.pollDesc)
            direction = wait.direction.rawValue
            fd = wait.fd
            descriptor = waits.descriptors[wait.fd]
        case let .syscall(wait):
            self.init(kind: "syscall")
            syscall = wait.name
            arguments = wait.arguments.map(WaitsReport.hex)
            thread = wait.threadID
            fd = wait.fd
            descriptor = wait.fd.flatMap { waits.descriptors[$0] }
        case let .sync(wait):
            self.init(kind: wait.kind.rawValue)
            address = WaitsReport.hex(wait.object)
            role = wait.role.rawValue
            position = wait.position
        case let .sleep(until):
            self.init(kind: "sleep")
            wakesAt = until
        }
    }

    static func channelCase(_ channelCase: ChannelCase, waits: Waits) -> WaitDescription {
        var description = WaitDescription(kind: "chan")
        description.address = WaitsReport.hex(channelCase.channel)
        description.direction = channelCase.direction?.rawValue
        if let timer = waits.timers[channelCase.channel] {
            description.timer = timer.when == nil ? "stopped" : "fires"
            description.wakesAt = timer.when
            description.period = timer.period > 0 ? timer.period : nil
        } else if waits.timersUnknown[channelCase.channel] != nil {
            description.timer = "unknown"
        }
        return description
    }

    /// One line naming the object: "chan 0xc000012345 (receive)", "fd 7 read: tcp 127.0.0.1:80 ->
    /// 127.0.0.1:5555 ESTABLISHED", "syscall read(fd 0: pipe:[123]) on thread 42".
    var text: String {
        switch kind {
        case "chan":
            let timerText: String
            switch timer {
            case "fires": timerText = ", timer fires at nanotime \(wakesAt ?? 0)" + (period.map { " every \($0) ns" } ?? "")
            case "stopped": timerText = ", timer stopped"
            case "unknown": timerText = ", timer not known"
            default: timerText = ""
            }
            return "chan \(address ?? "?")" + (direction.map { " (\($0))" } ?? "") + timerText
        case "select":
            return "select on " + (cases ?? []).map(\.text).joined(separator: ", ")
        case "nil chan":
            return "nil chan (\(direction ?? "?")), blocked for good"
        case "select without cases":
            return "select without cases, blocked for good"
        case "io":
            return "fd \(fd.map(String.init) ?? "?") \(direction ?? "?"): \(descriptor?.summary ?? "closed")"
                + " (pollDesc \(address ?? "?"))"
        case "syscall":
            let descriptorText = fd.map { "fd \($0)" + (descriptor.map { ": " + $0.summary } ?? "") }
            let shown = descriptorText ?? (arguments ?? []).prefix(3).joined(separator: ", ")
            return "syscall \(syscall ?? "?")(\(shown)) on thread \(thread.map(String.init) ?? "?")"
        case "sleep":
            return "sleep" + (wakesAt.map { " until nanotime \($0)" } ?? "")
        case "unknown":
            return "unknown (\(reason ?? "?"))"
        default:
            let place = position.map { ", position \($0) in its queue" } ?? ""
            return "\(kind) \(address ?? "?")" + (role.map { " (\($0)\(place))" } ?? "")
        }
    }

    /// The object alone, for grouping (the direction and thread left out: two goroutines
    /// reading and writing one socket wait on the same object).
    var groupKey: String {
        switch kind {
        case "chan": return "chan \(address ?? "?")"
        case "io": return "fd \(fd.map(String.init) ?? "?"): \(descriptor?.summary ?? "closed")"
        case "syscall":
            return "syscall \(syscall ?? "?")" + (fd.map { " fd \($0)" + (descriptor.map { ": " + $0.summary } ?? "") } ?? "")
        case "unknown": return "unknown"
        case "sleep": return "sleep"
        case "select", "nil chan", "select without cases": return text
        default: return "\(kind) \(address ?? "?")"
        }
    }
}
