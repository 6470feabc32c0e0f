import FoundationEssentials
import GospyInspector
import GospyProcess
import GospyRuntime

/// `gospy waits`: the objects goroutines wait on, most waited-on first, each with its state
/// and its waiters grouped by where they wait. Built once, rendered as text or JSON.
struct WaitsReport: JSONOutput {
    struct Waiters: Encodable {
        let count: Int
        /// Where they wait, as `--pc` names it (by default the program's own innermost frame).
        let location: String
        let state: String
        let goroutines: [UInt64]
    }

    /// One waiter in a sync object's queue (wake order) or one sleeper.
    struct Queued: Encodable {
        let goroutine: UInt64
        /// 1 = woken first; absent when the queue could not be walked to it.
        let position: Int?
        /// How it waits: "Lock", "RLock", "Lock (waiting for readers)", "Wait", "acquire".
        let role: String?
        /// Sleep: the runtime nanotime (CLOCK_MONOTONIC ns) it wakes at, and how far off that is.
        let wakesAt: Int64?
        let wakesInSeconds: Double?
    }

    /// A timer channel's timer: when it fires and a ticker's period, or why that is not known.
    struct Timer: Encodable {
        /// The runtime nanotime (CLOCK_MONOTONIC ns) it fires at, and how far off that is;
        /// absent when it is stopped or not known.
        var firesAt: Int64? = nil
        var firesInSeconds: Double? = nil
        /// A ticker's period.
        var periodSeconds: Double? = nil
        /// Stopped: it does not fire (unless the program resets it).
        var stopped: Bool = false
        /// How gospy tied the channel to its timer: "hchan.timer" or "timer heap".
        var link: String? = nil
        /// Why the timer is not known.
        var unknown: String? = nil
    }

    struct Object: Encodable {
        /// "chan", "nil chan", "select without cases", "sync.Mutex", "sync.RWMutex",
        /// "sync.WaitGroup", "sync.Cond", "semaphore", "sleep", "io", "syscall", "unknown".
        let kind: String
        /// The object as fmt's %p prints it; an IO wait's runtime pollDesc; absent for waits
        /// that name no object.
        let address: String?
        /// The global variable holding it ("main.registryMu", "+0x8" inside one), when the
        /// binary has symbols.
        var global: String? = nil
        /// The channel's type as fmt's %T prints it ("chan *main.job").
        var type: String? = nil
        var length: UInt64? = nil
        var capacity: UInt64? = nil
        var closed: Bool? = nil
        /// A sync object's own state words ("locked, 3 waiters counted"; "counter 1, 2 waiters").
        var state: String? = nil
        /// The descriptor an IO wait polls, or a system call's first argument.
        var fd: Int32? = nil
        /// What that descriptor is (a socket's endpoints, a pipe, a file's path).
        var descriptor: FileDescription? = nil
        /// The system call's name.
        var syscall: String? = nil
        /// Goroutines waiting to read from / write to the descriptor.
        var readers: Int? = nil
        var writers: Int? = nil
        let senders: Int
        let receivers: Int
        /// Nothing can ever wake these waiters: a nil channel, a select without cases, or every
        /// waiter marked leaked by the runtime.
        var stuckForGood: Bool
        /// Waiters the runtime's own leak detection marked leaked (status _Gleaked, "(leaked)" in
        /// its tracebacks: Go 1.27's goroutineleak profile, 1.26's with
        /// GOEXPERIMENT=goroutineleakprofile); absent when none is.
        var leaked: [UInt64]? = nil
        /// A timer channel's timer (time.After, Timer.C, Ticker.C), or why it is not known.
        var timer: Timer? = nil
        /// Why the channel looks stuck for good (a strong hint, not a proof); absent otherwise.
        var suspect: String? = nil
        let longestWaitMinutes: Int?
        let waiters: [Waiters]
        /// Sync objects: the waiters in wake order; sleep: the sleepers, soonest first.
        var queue: [Queued]? = nil
        /// Unknown: why what they wait on could not be read.
        var reasons: [String]? = nil
    }

    let pid: Int32
    let goVersion: String
    let waitingOnChannels: Int
    /// Goroutines with a wait object of any kind (unknown included).
    let waiting: Int
    /// Goroutines the runtime marked leaked, of those.
    let leaked: Int
    /// The target's CLOCK_MONOTONIC when read (the clock sleep's wakesAt counts on).
    let monotonicNow: Int64
    /// Why no channel was examined for being stuck, when none was.
    let suspectsSkipped: String?
    let objects: [Object]

    init(inspector: Inspector, capture: Inspector.Capture, showSystem: Bool, locationKind: LocationKind = .userCode) throws {
        let snapshot = capture.snapshot
        let image = inspector.image
        pid = inspector.pid
        goVersion = image.executable.buildInfo.goVersion
        monotonicNow = snapshot.monotonicNow
        let waits = try inspector.readWaits(snapshot, stacks: capture.stacks, suspects: true)
        suspectsSkipped = waits.suspects?.skipped
        let globals = GlobalNames(executable: image.executable, loadBias: image.loadBias)

        struct Accumulator {
            var senders = 0, receivers = 0, readers = 0, writers = 0, longest: Int?
            /// By place number (`placeNames`).
            var waiters: [Int: (state: String, goroutines: [UInt64])] = [:]
            /// Waiters the runtime itself marked leaked (_Gleaked).
            var leaked: [UInt64] = []
            var queue: [Queued] = []
            var sample: SyncWait?
            var reasons: Set<String> = []

            /// In place: a channel's tens of thousands of waiters append to one array, never a copy.
            mutating func add(_ goroutine: Goroutine, place: Int, minutes: Int?, _ direction: ChannelDirection?, io: IODirection?) {
                if direction == .send { senders += 1 }
                if direction == .receive { receivers += 1 }
                if io == .read { readers += 1 }
                if io == .write { writers += 1 }
                if let minutes { longest = max(longest ?? 0, minutes) }
                if goroutine.status == .leaked { leaked.append(goroutine.id) }
                waiters[place, default: (goroutine.stateText, [])].goroutines.append(goroutine.id)
            }
        }
        /// What the waiters are grouped under: a channel, a sync object, a descriptor, a system
        /// call, or a kind of wait that names none.
        enum Key: Hashable {
            case channel(UInt64), nilChannel, selectWithoutCases, unknown
            case sync(SyncObjectKind, UInt64), sleep
            /// A pollDesc and its descriptor.
            case descriptor(pollDesc: UInt64, fd: Int32)
            /// A system call, on a descriptor when its first argument is one.
            case syscall(name: String, fd: Int32?)
            var kind: String {
                switch self {
                case .channel: return "chan"
                case .nilChannel: return "nil chan"
                case .selectWithoutCases: return "select without cases"
                case .unknown: return "unknown"
                case let .sync(kind, _): return kind.rawValue
                case .sleep: return "sleep"
                case .descriptor: return "io"
                case .syscall: return "syscall"
                }
            }
            var address: UInt64? {
                switch self {
                case let .channel(address), let .sync(_, address): return address
                case let .descriptor(pollDesc, _): return pollDesc
                default: return nil
                }
            }
        }
        // The accumulators in order of first waiter, and each key's number among them.
        var accumulators: [Accumulator] = []
        var keys: [Key] = []
        var numberOf: [Key: Int] = [:]
        var total = 0, onChannels = 0, leakedCount = 0
        // A hundred thousand waiters share a few stacks: each stack's place is named once, and
        // waiters are grouped by the place's number, not by its text.
        var places: [StackPCs: Int] = [:]
        var placeNames: [String] = []
        var placeNumbers: [String: Int] = [:]
        func number(ofPlace name: String) -> Int {
            if let known = placeNumbers[name] { return known }
            placeNames.append(name)
            placeNumbers[name] = placeNames.count - 1
            return placeNames.count - 1
        }
        let stacks = capture.stacks
        let byIndex = waits.byIndex.count == snapshot.goroutines.count ? waits.byIndex : nil
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            let found: WaitObject?
            if let byIndex { found = byIndex[index] } else { found = waits.objects[goroutine.address] }
            guard let object = found else { continue }
            guard showSystem || !image.isSystemGoroutine(goroutine) else { continue }
            total += 1
            if goroutine.status == .leaked { leakedCount += 1 }
            switch object {
            case .channel, .select, .nilChannel, .selectWithoutCases: onChannels += 1
            default: break
            }
            let name = {
                let location = GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image,
                                                        symbolizer: inspector.symbolizer, kind: locationKind)
                return location.map { "\($0.function) (\($0.file):\($0.line))" } ?? "?"
            }
            let place: Int
            if locationKind == .user || locationKind == .userCode, let stacks, index < stacks.count {
                place = places.value(for: StackPCs(frames: stacks[index].frames)) { number(ofPlace: name()) }
            } else {
                place = number(ofPlace: name())
            }
            let minutes = goroutine.waitMinutes(now: snapshot.monotonicNow)
            /// The key's accumulator number, after adding the goroutine to it.
            @discardableResult
            func add(_ key: Key, _ direction: ChannelDirection?, io: IODirection? = nil) -> Int {
                let number: Int
                if let known = numberOf[key] {
                    number = known
                } else {
                    number = accumulators.count
                    numberOf[key] = number
                    keys.append(key)
                    accumulators.append(Accumulator())
                }
                accumulators[number].add(goroutine, place: place, minutes: minutes, direction, io: io)
                return number
            }
            switch object {
            case let .channel(channelCase): add(.channel(channelCase.channel), channelCase.direction)
            case let .select(cases): for channelCase in cases { add(.channel(channelCase.channel), channelCase.direction) }
            case let .nilChannel(direction): add(.nilChannel, direction)
            case .selectWithoutCases: add(.selectWithoutCases, nil)
            case let .unknown(reason):
                accumulators[add(.unknown, nil)].reasons.insert(reason)
            case let .io(wait): add(.descriptor(pollDesc: wait.pollDesc, fd: wait.fd), nil, io: wait.direction)
            case let .syscall(wait): add(.syscall(name: wait.name, fd: wait.fd), nil)
            case let .sync(wait):
                let number = add(.sync(wait.kind, wait.object), nil)
                accumulators[number].queue.append(Queued(goroutine: goroutine.id, position: wait.position, role: wait.role.rawValue,
                                                         wakesAt: nil, wakesInSeconds: nil))
                accumulators[number].sample = wait
            case let .sleep(until):
                let seconds = Double(until &- snapshot.monotonicNow) / 1e9
                accumulators[add(.sleep, nil)].queue.append(Queued(goroutine: goroutine.id, position: nil, role: nil, wakesAt: until,
                                                                   wakesInSeconds: (seconds * 1000).rounded() / 1000))
            }
        }
        let version = image.executable.version
        let memory = inspector.memory
        objects = zip(keys, accumulators).map { key, entry in
            let address = key.address
            var channel: ChannelState?
            if case let .channel(value) = key { channel = waits.channels[value] }
            let waiters = entry.waiters.map { Waiters(count: $0.value.goroutines.count, location: placeNames[$0.key], state: $0.value.state,
                                                      goroutines: $0.value.goroutines) }
                .sorted { ($0.count, $1.location) > ($1.count, $0.location) }
            let count = waiters.reduce(0) { $0 + $1.count }
            var object = Object(kind: key.kind, address: address.map(Self.hex),
                                senders: entry.senders, receivers: entry.receivers,
                                stuckForGood: key == .nilChannel || key == .selectWithoutCases
                                    || (key != .unknown && count > 0 && entry.leaked.count == count),
                                longestWaitMinutes: entry.longest, waiters: waiters)
            if !entry.leaked.isEmpty { object.leaked = entry.leaked.sorted() }
            switch key {
            case let .channel(value):
                object.global = globals.name(of: value)
                object.type = channel.map { "chan " + ($0.elementTypeName ?? "?") }
                object.length = channel?.length
                object.capacity = channel?.capacity
                object.closed = channel?.closed
                object.suspect = waits.suspects?.suspects[value]
                object.timer = Self.timer(of: value, waits: waits, now: snapshot.monotonicNow)
            case let .sync(_, value):
                object.global = globals.name(of: value)
                object.state = entry.sample.flatMap { SyncObjectState.text(of: $0, reader: memory, release: version) }
                object.queue = entry.queue.sorted { ($0.position ?? Int.max, $0.goroutine) < ($1.position ?? Int.max, $1.goroutine) }
            case .sleep:
                object.queue = entry.queue.sorted { ($0.wakesAt ?? 0, $0.goroutine) < ($1.wakesAt ?? 0, $1.goroutine) }
            case let .descriptor(_, fd):
                object.fd = fd
                object.descriptor = waits.descriptors[fd]
                object.readers = entry.readers
                object.writers = entry.writers
            case let .syscall(name, fd):
                object.syscall = name
                object.fd = fd
                object.descriptor = fd.flatMap { waits.descriptors[$0] }
            case .unknown:
                object.reasons = entry.reasons.sorted()
            case .nilChannel, .selectWithoutCases:
                break
            }
            return object
        }
        .sorted { lhs, rhs in
            let (l, r) = (lhs.waiters.reduce(0) { $0 + $1.count }, rhs.waiters.reduce(0) { $0 + $1.count })
            return l != r ? l > r : (lhs.address ?? lhs.kind) < (rhs.address ?? rhs.kind)
        }
        waitingOnChannels = onChannels
        waiting = total
        leaked = leakedCount
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    static func timer(of channel: UInt64, waits: Waits, now: Int64) -> Timer? {
        if let reason = waits.timersUnknown[channel] { return Timer(unknown: reason) }
        guard let found = waits.timers[channel] else { return nil }
        var timer = Timer(stopped: found.when == nil, link: found.link.rawValue)
        if let when = found.when {
            timer.firesAt = when
            timer.firesInSeconds = (Double(when &- now) / 1e6).rounded() / 1000
        }
        if found.period > 0 { timer.periodSeconds = Double(found.period) / 1e9 }
        return timer
    }

    /// "3.2s", "12m5s", "1h0m".
    static func duration(_ seconds: Double) -> String {
        if seconds < 0 { return "now" }
        if seconds < 60 { return TextFormat.fixed(seconds, decimals: 1) + "s" }
        let whole = Int(seconds)
        if whole < 3600 { return "\(whole / 60)m\(whole % 60)s" }
        return "\(whole / 3600)h\(whole % 3600 / 60)m"
    }

    /// "fires in 59m59s, every 1h30m", "stopped: it does not fire", "not known: ...".
    static func text(of timer: Timer) -> String {
        if let reason = timer.unknown { return "not known: \(reason)" }
        if timer.stopped { return "stopped: it does not fire" }
        let every = timer.periodSeconds.map { ", every \(duration($0))" } ?? ""
        return "fires in \(timer.firesInSeconds.map(duration) ?? "?")\(every)"
    }

    func text() -> String {
        var out = "pid \(pid)  \(goVersion)  \(waiting) goroutines wait, \(waitingOnChannels) on channels"
            + (leaked > 0 ? ", \(leaked) marked leaked by the runtime" : "") + "\n"
        for object in objects {
            let count = object.waiters.reduce(0) { $0 + $1.count }
            let longest = object.longestWaitMinutes.map { ", longest \($0) min" } ?? ""
            let global = object.global.map { " (\($0))" } ?? ""
            switch object.kind {
            case "chan":
                let closed = object.closed == true ? ", closed" : ""
                out += "\(object.type ?? "chan") \(object.address ?? "?")\(global) len \(object.length ?? 0)/\(object.capacity ?? 0)\(closed), "
                    + "\(object.senders) senders waiting, \(object.receivers) receivers\(longest)\n"
                if let timer = object.timer { out += "  timer: \(Self.text(of: timer))\n" }
                if let suspect = object.suspect { out += "  suspect: \(suspect)\n" }
            case "nil chan":
                out += "nil chan: \(count) goroutines blocked for good\(longest)\n"
            case "select without cases":
                out += "select without cases: \(count) goroutines blocked for good\(longest)\n"
            case "io":
                let what = object.descriptor?.summary ?? "closed"
                out += "fd \(object.fd.map(String.init) ?? "?") \(what) (pollDesc \(object.address ?? "?")), "
                    + "\(object.readers ?? 0) reading, \(object.writers ?? 0) writing\(longest)\n"
            case "syscall":
                let on = object.fd.map { " fd \($0)" + (object.descriptor.map { " " + $0.summary } ?? "") } ?? ""
                out += "syscall \(object.syscall ?? "?")\(on): \(count) goroutines in it\n"
            case "sleep":
                let wakes = (object.queue ?? []).compactMap(\.wakesInSeconds)
                let next = wakes.first.map { ", next wakes in \(Self.duration($0))" } ?? ""
                let last = wakes.count > 1 ? ", last in \(Self.duration(wakes[wakes.count - 1]))" : ""
                out += "sleep: \(count) goroutines\(next)\(last)\n"
            case "unknown":
                out += "unknown (\((object.reasons ?? []).joined(separator: "; "))): \(count) goroutines\n"
            default:
                let state = object.state.map { " \($0)," } ?? ""
                out += "\(object.kind) \(object.address ?? "?")\(global)\(state) \(count) goroutines waiting\(longest)\n"
                let queue = (object.queue ?? []).map { "\($0.goroutine) \($0.role ?? "")" }
                if !queue.isEmpty { out += "  queue (wake order): \(queue.joined(separator: ", "))\n" }
            }
            if let leaked = object.leaked {
                let ids = leaked.prefix(10).map(String.init).joined(separator: ", ") + (leaked.count > 10 ? ", ..." : "")
                out += "  leaked: \(leaked.count) of its \(count) waiters marked leaked by the runtime's own leak detection"
                    + (object.stuckForGood ? ", stuck for good" : "") + " (\(ids))\n"
            }
            for waiters in object.waiters {
                out += "  \(waiters.count)  \(waiters.location)  [\(waiters.state)]\n"
            }
        }
        return out
    }
}
