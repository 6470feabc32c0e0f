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

    struct Object: Encodable {
        /// "chan", "nil chan", "select without cases", "unknown".
        let kind: String
        /// The channel as fmt's %p prints it; absent for objects that are no channel.
        let address: String?
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
    let objects: [Object]

    init(inspector: Inspector, capture: Inspector.Capture, showSystem: Bool) throws {
        let snapshot = capture.snapshot
        let image = inspector.image
        pid = inspector.pid
        goVersion = image.executable.buildInfo.goVersion
        let waits = try ChannelWaitReader(image: image, reader: inspector.memory).read(snapshot.goroutines)

        struct Accumulator {
            var senders = 0, receivers = 0, longest: Int?
            var waiters: [String: (state: String, goroutines: [UInt64])] = [:]
        }
        /// What the waiters are grouped under: a channel, or a kind of wait that names none.
        enum Key: Hashable {
            case channel(UInt64), nilChannel, selectWithoutCases, unknown
            var kind: String {
                switch self {
                case .channel: return "chan"
                case .nilChannel: return "nil chan"
                case .selectWithoutCases: return "select without cases"
                case .unknown: return "unknown"
                }
            }
        }
        var byKey: [Key: Accumulator] = [:]
        var order: [Key] = []
        var total = 0
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            guard let object = waits.objects[goroutine.address] else { continue }
            guard showSystem || !image.isSystemGoroutine(goroutine) else { continue }
            total += 1
            let location = GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image,
                                                    symbolizer: inspector.symbolizer, kind: .user)
            let place = location.map { "\($0.function) (\($0.file):\($0.line))" } ?? "?"
            let minutes = goroutine.waitMinutes(now: snapshot.monotonicNow)
            func add(_ key: Key, _ direction: ChannelDirection?) {
                if byKey[key] == nil { order.append(key) }
                var entry = byKey[key, default: Accumulator()]
                if direction == .send { entry.senders += 1 }
                if direction == .receive { entry.receivers += 1 }
                if let minutes { entry.longest = max(entry.longest ?? 0, minutes) }
                entry.waiters[place, default: (goroutine.stateText, [])].goroutines.append(goroutine.id)
                byKey[key] = entry
            }
            switch object {
            case let .channel(channelCase): add(.channel(channelCase.channel), channelCase.direction)
            case let .select(cases): for channelCase in cases { add(.channel(channelCase.channel), channelCase.direction) }
            case let .nilChannel(direction): add(.nilChannel, direction)
            case .selectWithoutCases: add(.selectWithoutCases, nil)
            case .unknown: add(.unknown, nil)
            }
        }
        objects = order.map { key in
            let entry = byKey[key]!
            var address: UInt64?
            if case let .channel(value) = key { address = value }
            let channel = address.flatMap { waits.channels[$0] }
            let waiters = entry.waiters.map { Waiters(count: $0.value.goroutines.count, location: $0.key, state: $0.value.state,
                                                      goroutines: $0.value.goroutines) }
                .sorted { ($0.count, $1.location) > ($1.count, $0.location) }
            return Object(kind: key.kind, address: address.map(Self.hex),
                          type: channel.map { "chan " + ($0.elementTypeName ?? "?") },
                          length: channel?.length, capacity: channel?.capacity, closed: channel?.closed,
                          senders: entry.senders, receivers: entry.receivers,
                          stuckForGood: key == .nilChannel || key == .selectWithoutCases,
                          longestWaitMinutes: entry.longest, waiters: waiters)
        }
        .sorted { lhs, rhs in
            let (l, r) = (lhs.waiters.reduce(0) { $0 + $1.count }, rhs.waiters.reduce(0) { $0 + $1.count })
            return l != r ? l > r : (lhs.address ?? lhs.kind) < (rhs.address ?? rhs.kind)
        }
        waitingOnChannels = total
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    func text() -> String {
        var out = "pid \(pid)  \(goVersion)  \(waitingOnChannels) goroutines wait on channels\n"
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
            default:
                out += "unknown (changed while read): \(count) goroutines\n"
            }
            for waiters in object.waiters {
                out += "  \(waiters.count)  \(waiters.location)  [\(waiters.state)]\n"
            }
        }
        return out
    }
}
