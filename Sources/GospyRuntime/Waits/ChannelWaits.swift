import GospyMemory

/// Which way a goroutine waits on a channel.
public enum ChannelDirection: String, Sendable, Equatable {
    case send, receive
}

/// One channel a goroutine is queued on: a channel operation, or one case of a select.
public struct ChannelCase: Sendable, Equatable {
    /// The hchan's address: what fmt's %p prints for the channel.
    public let channel: UInt64
    /// Nil when the sudog was in neither of the channel's queues (it is being woken).
    public let direction: ChannelDirection?

    public init(channel: UInt64, direction: ChannelDirection?) {
        self.channel = channel
        self.direction = direction
    }
}

/// A channel's state, as `len`, `cap` and `close` see it.
public struct ChannelState: Sendable, Equatable {
    public let address: UInt64
    public let length: UInt64
    public let capacity: UInt64
    public let closed: Bool
    /// The element type's descriptor (an *abi.Type), 0 when unknown.
    public let elementType: UInt64
    /// Its name as fmt's %T prints it ("*main.job"), nil when it could not be read.
    public let elementTypeName: String?
}

/// What a blocked goroutine waits on, as far as channels go.
public enum WaitObject: Sendable, Equatable {
    /// A channel send or receive.
    case channel(ChannelCase)
    /// A select with at least one non-nil case: every case's channel, in lock order.
    case select([ChannelCase])
    /// A send or receive on a nil channel: blocked for good.
    case nilChannel(ChannelDirection)
    /// `select {}` or a select whose every case is nil: blocked for good.
    case selectWithoutCases
    /// It waits on a channel, but what it records could not be read consistently.
    case unknown(reason: String)

    /// Whether nothing can ever wake it (the runtime gives such a goroutine no way out).
    public var isStuckForGood: Bool {
        switch self {
        case .nilChannel, .selectWithoutCases: return true
        default: return false
        }
    }
}

/// Reads what each goroutine blocked on a channel waits on: g.waiting's sudogs, their channels
/// and the channels' queues. Reads happen while the target runs; a goroutine whose record
/// changed meanwhile is reported as unknown, never guessed.
public struct ChannelWaitReader {
    /// Cases in one select: the runtime allows at most 65536.
    static let maxSelectCases = 1 << 16
    /// Steps walking a channel queue back to its head to tell a select case's direction.
    static let maxQueueWalk = 1 << 20

    let reader: MemoryReader
    let sudog: RuntimeLayout.SudogLayout
    let hchan: RuntimeLayout.HchanLayout
    let g: RuntimeLayout.GLayout
    let typeNames: TypeNameReader?

    public init(image: RuntimeImage, reader: MemoryReader) throws(LayoutError) {
        self.reader = reader
        typeNames = TypeNameReader(image: image, reader: reader)
        sudog = try image.layout.sudog
        hchan = try image.layout.hchan
        g = try image.layout.g
    }

    public struct Result: Sendable {
        /// By goroutine address; only goroutines waiting on channels.
        public var objects: [UInt64: WaitObject] = [:]
        /// By channel address.
        public var channels: [UInt64: ChannelState] = [:]
    }

    /// The wait reasons (the runtime's own text) of channel waits; synctest's variants included.
    static func channelWaitKind(_ text: String) -> String? {
        for kind in ["chan receive (nil chan)", "chan send (nil chan)", "select (no cases)",
                     "chan receive", "chan send", "select"] where text.hasPrefix(kind) {
            return kind
        }
        return nil
    }

    public func read(_ goroutines: [Goroutine]) -> Result {
        var result = Result()
        var pending: [Goroutine] = []
        for goroutine in goroutines where goroutine.status == .waiting || goroutine.status == .leaked {
            guard let text = goroutine.waitReasonText, let kind = Self.channelWaitKind(text) else { continue }
            switch kind {
            case "chan receive (nil chan)": result.objects[goroutine.address] = .nilChannel(.receive)
            case "chan send (nil chan)": result.objects[goroutine.address] = .nilChannel(.send)
            case "select (no cases)": result.objects[goroutine.address] = .selectWithoutCases
            case "select" where goroutine.waiting == 0:
                // Every case nil: selectgo parks with no sudog at all, for good.
                result.objects[goroutine.address] = .selectWithoutCases
            default:
                if goroutine.waiting == 0 {
                    result.objects[goroutine.address] = .unknown(reason: "no sudog recorded")
                } else {
                    pending.append(goroutine)
                }
            }
        }
        for goroutine in pending {
            result.objects[goroutine.address] = readChannels(of: goroutine, into: &result.channels)
        }
        confirmUnchanged(pending, &result)
        return result
    }

    private func readChannels(of goroutine: Goroutine, into channels: inout [UInt64: ChannelState]) -> WaitObject {
        let isSelect = goroutine.waitReasonText.map { Self.channelWaitKind($0) == "select" } ?? false
        var cases: [ChannelCase] = []
        var next = goroutine.waiting
        while next != 0 {
            guard cases.count < Self.maxSelectCases else { return .unknown(reason: "more than \(Self.maxSelectCases) select cases") }
            guard let record = try? reader.fetchView(from: next, count: sudog.size),
                  let owner = try? record.u64(at: sudog.g), owner == goroutine.address,
                  let channel = try? record.u64(at: sudog.c), channel != 0 else {
                return .unknown(reason: "sudog at 0x\(String(next, radix: 16)) changed while read")
            }
            guard let state = channelState(at: channel, cache: &channels) else {
                return .unknown(reason: "channel at 0x\(String(channel, radix: 16)) unreadable")
            }
            if isSelect {
                cases.append(ChannelCase(channel: channel, direction: direction(of: next, in: state.address)))
                next = (try? record.u64(at: sudog.waitlink)) ?? 0
            } else {
                let direction: ChannelDirection = goroutine.waitReasonText?.hasPrefix("chan send") == true ? .send : .receive
                return .channel(ChannelCase(channel: channel, direction: direction))
            }
        }
        return cases.isEmpty ? .unknown(reason: "no select case recorded") : .select(cases)
    }

    private func channelState(at address: UInt64, cache: inout [UInt64: ChannelState]) -> ChannelState? {
        if let known = cache[address] { return known }
        guard let view = try? reader.fetchView(from: address, count: hchan.size),
              let count = try? view.u64(at: hchan.qcount), let size = try? view.u64(at: hchan.dataqsiz),
              let closed = try? view.u32(at: hchan.closed), let elementType = try? view.u64(at: hchan.elemtype),
              count <= size else { return nil }
        // A timer channel is buffered inside but presents as unbuffered (chanlen/chancap say 0).
        var isTimer = false
        if let timer = hchan.timer, let value = try? view.u64(at: timer) { isTimer = value != 0 }
        let state = ChannelState(address: address, length: isTimer ? 0 : count, capacity: isTimer ? 0 : size,
                                 closed: closed != 0, elementType: elementType,
                                 elementTypeName: typeNames?.name(ofType: elementType))
        cache[address] = state
        return state
    }

    /// A select's sudog carries no direction: it is the queue it sits in, recvq or sendq.
    private func direction(of sudogAddress: UInt64, in channel: UInt64) -> ChannelDirection? {
        guard let view = try? reader.fetchView(from: channel, count: hchan.size) else { return nil }
        let ends: [(ChannelDirection, Int, Int)] = [(.receive, hchan.recvqFirst, hchan.recvqLast),
                                                     (.send, hchan.sendqFirst, hchan.sendqLast)]
        for (direction, first, last) in ends {
            if (try? view.u64(at: first)) == sudogAddress || (try? view.u64(at: last)) == sudogAddress { return direction }
        }
        // In the middle of a queue: walk back to its head.
        var current = sudogAddress
        for _ in 0..<Self.maxQueueWalk {
            guard let previous = try? reader.fetchPointer(from: current &+ UInt64(sudog.prev)) else { return nil }
            if previous == 0 { break }
            current = previous
        }
        for (direction, first, _) in ends where (try? view.u64(at: first)) == current { return direction }
        return nil
    }

    /// The objects were read while the target ran: a goroutine whose status or g.waiting
    /// changed meanwhile may have left them, so it becomes unknown. (One that woke and parked
    /// again on the same sudog is reported where it waits now: the sudog names its goroutine.)
    private func confirmUnchanged(_ goroutines: [Goroutine], _ result: inout Result) {
        guard !goroutines.isEmpty else { return }
        let span = max(g.atomicstatus + 4, g.waiting + 8)
        var byAddress: [UInt64: Goroutine] = [:]
        for goroutine in goroutines { byAddress[goroutine.address] = goroutine }
        let records = reader.gather(goroutines.map(\.address), size: span)
        for (index, address) in records.addresses.enumerated() {
            guard let goroutine = byAddress[address] else { continue }
            let status = records.u32(index, g.atomicstatus).flatMap { GoroutineStatus(rawValue: $0 & ~0x1000) }
            if status != goroutine.status || records.u64(index, g.waiting) != goroutine.waiting {
                result.objects[address] = .unknown(reason: "it moved while its wait was read")
            }
        }
    }
}
