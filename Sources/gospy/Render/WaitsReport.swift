import FoundationEssentials
import GospyInspector
import GospyRuntime

/// `gospy waits`: the objects goroutines wait on, most waited-on first, each with its state
/// and its waiters grouped by where they wait. Built once, rendered as text or JSON.
struct WaitsReport: JSONOutput {
    struct Waiters: Encodable {
        let count: Int
        /// The innermost frame a traceback shows, as `--pc user` names it.
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

    struct Object: Encodable {
        /// "chan", "nil chan", "select without cases", "sync.Mutex", "sync.RWMutex",
        /// "sync.WaitGroup", "sync.Cond", "semaphore", "sleep", "unknown".
        let kind: String
        /// The object as fmt's %p prints it; absent for waits that name no object.
        let address: String?
        /// The global variable holding it ("main.registryMu", "+0x8" inside one), when the
        /// binary has symbols.
        let global: String?
        /// The channel's type as fmt's %T prints it ("chan *main.job").
        let type: String?
        let length: UInt64?
        let capacity: UInt64?
        let closed: Bool?
        /// A sync object's own state words ("locked, 3 waiters counted"; "counter 1, 2 waiters").
        let state: String?
        let senders: Int
        let receivers: Int
        /// Nothing can ever wake these waiters.
        let stuckForGood: Bool
        /// Why the channel looks stuck for good (a strong hint, not a proof); absent otherwise.
        let suspect: String?
        let longestWaitMinutes: Int?
        let waiters: [Waiters]
        /// Sync objects: the waiters in wake order; sleep: the sleepers, soonest first.
        let queue: [Queued]?
        /// Unknown: why what they wait on could not be read.
        let reasons: [String]?
    }

    let pid: Int32
    let goVersion: String
    let waitingOnChannels: Int
    /// Goroutines in any wait this report names (channels, sync objects, sleep, unknown).
    let waiting: Int
    /// The target's CLOCK_MONOTONIC when read (the clock sleep's wakesAt counts on).
    let monotonicNow: Int64
    /// Why no channel was examined for being stuck, when none was.
    let suspectsSkipped: String?
    let objects: [Object]

    init(inspector: Inspector, capture: Inspector.Capture, showSystem: Bool) throws {
        let snapshot = capture.snapshot
        let image = inspector.image
        pid = inspector.pid
        goVersion = image.executable.buildInfo.goVersion
        monotonicNow = snapshot.monotonicNow
        let channelWaits = try ChannelWaitReader(image: image, reader: inspector.memory).read(snapshot.goroutines)
        var stacks: [UInt64: UnwoundStack] = [:]
        if let captured = capture.stacks {
            for (index, goroutine) in snapshot.goroutines.enumerated() where index < captured.count {
                stacks[goroutine.address] = captured[index]
            }
        }
        let syncWaits = try SemaphoreWaitReader(image: image, reader: inspector.memory, symbolizer: inspector.symbolizer)
            .read(snapshot.goroutines, stacks: stacks)
        let suspects = SuspectChannels(image: image, reader: inspector.memory).find(snapshot.goroutines, waits: channelWaits)
        suspectsSkipped = suspects.skipped
        let globals = GlobalNames(executable: image.executable, loadBias: image.loadBias)

        struct Accumulator {
            var senders = 0, receivers = 0, longest: Int?
            var waiters: [String: (state: String, goroutines: [UInt64])] = [:]
            var queue: [Queued] = []
            var sample: SyncWait?
            var reasons: Set<String> = []
        }
        /// What the waiters are grouped under: a channel, a sync object, or a kind of wait that names none.
        enum Key: Hashable {
            case channel(UInt64), nilChannel, selectWithoutCases, unknown
            case sync(SyncObjectKind, UInt64), sleep
            var kind: String {
                switch self {
                case .channel: return "chan"
                case .nilChannel: return "nil chan"
                case .selectWithoutCases: return "select without cases"
                case .unknown: return "unknown"
                case let .sync(kind, _): return kind.rawValue
                case .sleep: return "sleep"
                }
            }
            var address: UInt64? {
                switch self {
                case let .channel(address), let .sync(_, address): return address
                default: return nil
                }
            }
        }
        var byKey: [Key: Accumulator] = [:]
        var order: [Key] = []
        var channelTotal = 0, total = 0
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            guard let object = channelWaits.objects[goroutine.address] ?? syncWaits.objects[goroutine.address] else { continue }
            guard showSystem || !image.isSystemGoroutine(goroutine) else { continue }
            total += 1
            if channelWaits.objects[goroutine.address] != nil { channelTotal += 1 }
            let location = GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image,
                                                    symbolizer: inspector.symbolizer, kind: .user)
            let place = location.map { "\($0.function) (\($0.file):\($0.line))" } ?? "?"
            let minutes = goroutine.waitMinutes(now: snapshot.monotonicNow)
            func add(_ key: Key, _ direction: ChannelDirection?, queued: Queued? = nil, sync: SyncWait? = nil) {
                if byKey[key] == nil { order.append(key) }
                var entry = byKey[key, default: Accumulator()]
                if direction == .send { entry.senders += 1 }
                if direction == .receive { entry.receivers += 1 }
                if let minutes { entry.longest = max(entry.longest ?? 0, minutes) }
                entry.waiters[place, default: (goroutine.stateText, [])].goroutines.append(goroutine.id)
                if let queued { entry.queue.append(queued) }
                if let sync { entry.sample = sync }
                byKey[key] = entry
            }
            switch object {
            case let .channel(channelCase): add(.channel(channelCase.channel), channelCase.direction)
            case let .select(cases): for channelCase in cases { add(.channel(channelCase.channel), channelCase.direction) }
            case let .nilChannel(direction): add(.nilChannel, direction)
            case .selectWithoutCases: add(.selectWithoutCases, nil)
            case let .unknown(reason):
                add(.unknown, nil)
                byKey[.unknown]?.reasons.insert(reason)
            case let .sync(wait):
                add(.sync(wait.kind, wait.object), nil,
                    queued: Queued(goroutine: goroutine.id, position: wait.position, role: wait.role.rawValue, wakesAt: nil, wakesInSeconds: nil),
                    sync: wait)
            case let .sleep(until):
                let seconds = Double(until &- snapshot.monotonicNow) / 1e9
                add(.sleep, nil, queued: Queued(goroutine: goroutine.id, position: nil, role: nil, wakesAt: until,
                                                wakesInSeconds: (seconds * 1000).rounded() / 1000))
            }
        }
        let version = image.executable.version
        let memory = inspector.memory
        objects = order.map { key in
            let entry = byKey[key]!
            let address = key.address
            var channel: ChannelState?
            if case let .channel(value) = key { channel = channelWaits.channels[value] }
            let waiters = entry.waiters.map { Waiters(count: $0.value.goroutines.count, location: $0.key, state: $0.value.state,
                                                      goroutines: $0.value.goroutines) }
                .sorted { ($0.count, $1.location) > ($1.count, $0.location) }
            var queue: [Queued]?
            switch key {
            case .sync: queue = entry.queue.sorted { ($0.position ?? Int.max, $0.goroutine) < ($1.position ?? Int.max, $1.goroutine) }
            case .sleep: queue = entry.queue.sorted { ($0.wakesAt ?? 0, $0.goroutine) < ($1.wakesAt ?? 0, $1.goroutine) }
            default: queue = nil
            }
            var suspect: String?
            if case let .channel(value) = key { suspect = suspects.suspects[value] }
            return Object(kind: key.kind, address: address.map(Self.hex), global: address.flatMap { globals.name(of: $0) },
                          type: channel.map { "chan " + ($0.elementTypeName ?? "?") },
                          length: channel?.length, capacity: channel?.capacity, closed: channel?.closed,
                          state: entry.sample.flatMap { SyncObjectState.text(of: $0, reader: memory, release: version) },
                          senders: entry.senders, receivers: entry.receivers,
                          stuckForGood: key == .nilChannel || key == .selectWithoutCases, suspect: suspect,
                          longestWaitMinutes: entry.longest, waiters: waiters, queue: queue,
                          reasons: key == .unknown ? entry.reasons.sorted() : nil)
        }
        .sorted { lhs, rhs in
            let (l, r) = (lhs.waiters.reduce(0) { $0 + $1.count }, rhs.waiters.reduce(0) { $0 + $1.count })
            return l != r ? l > r : (lhs.address ?? lhs.kind) < (rhs.address ?? rhs.kind)
        }
        waitingOnChannels = channelTotal
        waiting = total
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// "3.2s", "12m5s", "1h0m".
    static func duration(_ seconds: Double) -> String {
        if seconds < 0 { return "now" }
        if seconds < 60 { return TextFormat.fixed(seconds, decimals: 1) + "s" }
        let whole = Int(seconds)
        if whole < 3600 { return "\(whole / 60)m\(whole % 60)s" }
        return "\(whole / 3600)h\(whole % 3600 / 60)m"
    }

    func text() -> String {
        var out = "pid \(pid)  \(goVersion)  \(waiting) goroutines wait (\(waitingOnChannels) on channels)\n"
        for object in objects {
            let count = object.waiters.reduce(0) { $0 + $1.count }
            let longest = object.longestWaitMinutes.map { ", longest \($0) min" } ?? ""
            let global = object.global.map { " (\($0))" } ?? ""
            switch object.kind {
            case "chan":
                let closed = object.closed == true ? ", closed" : ""
                out += "\(object.type ?? "chan") \(object.address ?? "?")\(global) len \(object.length ?? 0)/\(object.capacity ?? 0)\(closed), "
                    + "\(object.senders) senders waiting, \(object.receivers) receivers\(longest)\n"
                if let suspect = object.suspect { out += "  suspect: \(suspect)\n" }
            case "nil chan":
                out += "nil chan: \(count) goroutines blocked for good\(longest)\n"
            case "select without cases":
                out += "select without cases: \(count) goroutines blocked for good\(longest)\n"
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
            for waiters in object.waiters {
                out += "  \(waiters.count)  \(waiters.location)  [\(waiters.state)]\n"
            }
        }
        return out
    }
}
