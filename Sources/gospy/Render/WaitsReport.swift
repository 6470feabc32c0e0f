import FoundationEssentials
import GospyInspector
import GospyProcess
import GospyRuntime

/// `gospy waits`: the objects goroutines wait on, most waited-on first, each with its state
/// and its waiters grouped by where they wait. Built once, rendered as text or JSON.
struct WaitsReport: JSONOutput {
    struct Waiters: Encodable {
        let count: Int
        /// Where they wait, as `--pc` names it (by default the innermost frame of the program's
        /// own code, as `--pc user-code` does).
        let location: String
        let state: String
        let goroutines: [UInt64]
    }

    struct Object: Encodable {
        /// "chan", "nil chan", "select without cases", "io", "syscall", "unknown".
        let kind: String
        /// The channel as fmt's %p prints it; an IO wait's runtime pollDesc; absent otherwise.
        let address: String?
        /// The descriptor an IO wait polls, or a system call's first argument.
        var fd: Int32? = nil
        /// What that descriptor is (a socket's endpoints, a pipe, a file's path).
        var descriptor: FileDescription? = nil
        /// The system call's name.
        var syscall: String? = nil
        /// Goroutines waiting to read from / write to the descriptor.
        var readers: Int? = nil
        var writers: Int? = nil
        /// The channel's type as fmt's %T prints it ("chan *main.job").
        let type: String?
        let length: UInt64?
        let capacity: UInt64?
        let closed: Bool?
        let senders: Int
        let receivers: Int
        /// Nothing can ever wake these waiters.
        let stuckForGood: Bool
        let longestWaitMinutes: Int?
        let waiters: [Waiters]
    }

    let pid: Int32
    let goVersion: String
    let waitingOnChannels: Int
    /// Goroutines with a wait object of any kind.
    let waiting: Int
    let objects: [Object]

    init(inspector: Inspector, capture: Inspector.Capture, showSystem: Bool, locationKind: LocationKind = .userCode) throws {
        let snapshot = capture.snapshot
        let image = inspector.image
        pid = inspector.pid
        goVersion = image.executable.buildInfo.goVersion
        let waits = try inspector.readWaits(snapshot)

        struct Accumulator {
            var senders = 0, receivers = 0, readers = 0, writers = 0, longest: Int?
            var waiters: [String: (state: String, goroutines: [UInt64])] = [:]

            /// In place: a channel's tens of thousands of waiters append to one array, never a copy.
            mutating func add(_ goroutine: Goroutine, place: String, minutes: Int?, _ direction: ChannelDirection?, io: IODirection?) {
                if direction == .send { senders += 1 }
                if direction == .receive { receivers += 1 }
                if io == .read { readers += 1 }
                if io == .write { writers += 1 }
                if let minutes { longest = max(longest ?? 0, minutes) }
                waiters[place, default: (goroutine.stateText, [])].goroutines.append(goroutine.id)
            }
        }
        /// What the waiters are grouped under: a channel, or a kind of wait that names none.
        enum Key: Hashable {
            case channel(UInt64), nilChannel, selectWithoutCases, unknown
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
                case .descriptor: return "io"
                case .syscall: return "syscall"
                }
            }
        }
        var byKey: [Key: Accumulator] = [:]
        var order: [Key] = []
        var total = 0, onChannels = 0
        // A hundred thousand waiters share a few stacks: each stack's place is named once.
        var places: [[UInt64]: String] = [:]
        let stacks = capture.stacks
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            guard let object = waits.objects[goroutine.address] else { continue }
            guard showSystem || !image.isSystemGoroutine(goroutine) else { continue }
            total += 1
            switch object {
            case .channel, .select, .nilChannel, .selectWithoutCases: onChannels += 1
            default: break
            }
            let name = {
                let location = GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image,
                                                        symbolizer: inspector.symbolizer, kind: locationKind)
                return location.map { "\($0.function) (\($0.file):\($0.line))" } ?? "?"
            }
            let place: String
            if locationKind == .user || locationKind == .userCode, let stacks, index < stacks.count {
                let pcs = stacks[index].frames.map(\.pc)
                if let known = places[pcs] {
                    place = known
                } else {
                    place = name()
                    places[pcs] = place
                }
            } else {
                place = name()
            }
            let minutes = goroutine.waitMinutes(now: snapshot.monotonicNow)
            func add(_ key: Key, _ direction: ChannelDirection?, io: IODirection? = nil) {
                if byKey[key] == nil {
                    order.append(key)
                    byKey[key] = Accumulator()
                }
                byKey[key]!.add(goroutine, place: place, minutes: minutes, direction, io: io)
            }
            switch object {
            case let .channel(channelCase): add(.channel(channelCase.channel), channelCase.direction)
            case let .select(cases): for channelCase in cases { add(.channel(channelCase.channel), channelCase.direction) }
            case let .nilChannel(direction): add(.nilChannel, direction)
            case .selectWithoutCases: add(.selectWithoutCases, nil)
            case .unknown: add(.unknown, nil)
            case let .io(wait): add(.descriptor(pollDesc: wait.pollDesc, fd: wait.fd), nil, io: wait.direction)
            case let .syscall(wait): add(.syscall(name: wait.name, fd: wait.fd), nil)
            }
        }
        objects = order.map { key in
            let entry = byKey[key]!
            var address: UInt64?
            if case let .channel(value) = key { address = value }
            if case let .descriptor(pollDesc, _) = key { address = pollDesc }
            let channel = address.flatMap { waits.channels[$0] }
            let waiters = entry.waiters.map { Waiters(count: $0.value.goroutines.count, location: $0.key, state: $0.value.state,
                                                      goroutines: $0.value.goroutines) }
                .sorted { ($0.count, $1.location) > ($1.count, $0.location) }
            var object = Object(kind: key.kind, address: address.map(Self.hex),
                                type: channel.map { "chan " + ($0.elementTypeName ?? "?") },
                                length: channel?.length, capacity: channel?.capacity, closed: channel?.closed,
                                senders: entry.senders, receivers: entry.receivers,
                                stuckForGood: key == .nilChannel || key == .selectWithoutCases,
                                longestWaitMinutes: entry.longest, waiters: waiters)
            switch key {
            case let .descriptor(_, fd):
                object.fd = fd
                object.descriptor = waits.descriptors[fd]
                object.readers = entry.readers
                object.writers = entry.writers
            case let .syscall(name, fd):
                object.syscall = name
                object.fd = fd
                object.descriptor = fd.flatMap { waits.descriptors[$0] }
            default: break
            }
            return object
        }
        .sorted { lhs, rhs in
            let (l, r) = (lhs.waiters.reduce(0) { $0 + $1.count }, rhs.waiters.reduce(0) { $0 + $1.count })
            return l != r ? l > r : (lhs.address ?? lhs.kind) < (rhs.address ?? rhs.kind)
        }
        waitingOnChannels = onChannels
        waiting = total
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    func text() -> String {
        var out = "pid \(pid)  \(goVersion)  \(waiting) goroutines wait, \(waitingOnChannels) on channels\n"
        for object in objects {
            let count = object.waiters.reduce(0) { $0 + $1.count }
            let longest = object.longestWaitMinutes.map { ", longest \($0) min" } ?? ""
            switch object.kind {
            case "chan":
                let closed = object.closed == true ? ", closed" : ""
                out += "\(object.type ?? "chan") \(object.address ?? "?") len \(object.length ?? 0)/\(object.capacity ?? 0)\(closed), "
                    + "\(object.senders) senders waiting, \(object.receivers) receivers\(longest)\n"
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
            default:
                out += "unknown (not readable consistently): \(count) goroutines\n"
            }
            for waiters in object.waiters {
                out += "  \(waiters.count)  \(waiters.location)  [\(waiters.state)]\n"
            }
        }
        return out
    }
}
