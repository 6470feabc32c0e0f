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
    /// hchan.timer (1.23+): the runtime timer of a time.Timer's or Ticker's channel, 0 for none.
    public var timer: UInt64 = 0
}

/// What a blocked goroutine waits on.
public enum WaitObject: Sendable, Equatable {
    /// A channel send or receive.
    case channel(ChannelCase)
    /// A select with at least one non-nil case: every case's channel, in lock order.
    case select([ChannelCase])
    /// A send or receive on a nil channel: blocked for good.
    case nilChannel(ChannelDirection)
    /// `select {}` or a select whose every case is nil: blocked for good.
    case selectWithoutCases
    /// It waits, but what it records could not be read consistently.
    case unknown(reason: String)
    /// Parked in the netpoller on a file descriptor (wait reason "IO wait").
    case io(IOWait)
    /// In a system call its thread is blocked in.
    case syscall(SyscallWait)
    /// A sync.Mutex, RWMutex, WaitGroup or Cond, or another semaphore (SemaphoreWaits.swift).
    case sync(SyncWait)
    /// time.Sleep: it wakes at this runtime nanotime (CLOCK_MONOTONIC nanoseconds).
    case sleep(until: Int64)

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
    /// Sudogs read, and queue steps walked, in one `read` at most (damaged waitlink or prev
    /// chains must not cost goroutines x cases reads or entries).
    static let maxSudogs = 1 << 22
    static let maxWalkSteps = 1 << 22
    /// Goroutines re-read at once to confirm they did not move: a buffer of this many
    /// records stays in cache.
    static let confirmChunk = 4096

    let reader: MemoryReader
    let sudog: RuntimeLayout.SudogLayout
    let hchan: RuntimeLayout.HchanLayout
    let g: RuntimeLayout.GLayout
    let typeNames: TypeNameReader?

    /// Without an image (tests over synthetic memory): no type names.
    init(reader: MemoryReader, layout: RuntimeLayout) throws(LayoutError) {
        self.reader = reader
        typeNames = nil
        sudog = try layout.sudog
        hchan = try layout.hchan
        g = try layout.g
    }

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
        /// The same objects by index into the goroutines read (nil: no channel wait), for
        /// readers that go through every goroutine (SuspectChannels) without a lookup each.
        public var byIndex: [WaitObject?] = []
    }

    /// The wait reasons (the runtime's own text) of channel waits; synctest's variants included.
    static func channelWaitKind(_ text: String) -> String? {
        for kind in ["chan receive (nil chan)", "chan send (nil chan)", "select (no cases)",
                     "chan receive", "chan send", "select"] where text.hasPrefix(kind) {
            return kind
        }
        return nil
    }

    /// The channel wait kind of each wait reason text met, the texts compared by equality
    /// (the snapshot's texts share their storage, so a hit costs no prefix tests).
    struct WaitKinds {
        static let maxEntries = 64
        private var entries: [(text: String, kind: String?)] = []

        mutating func kind(of goroutine: Goroutine) -> String? {
            guard let text = goroutine.waitReasonText else { return nil }
            for entry in entries where entry.text == text { return entry.kind }
            let kind = ChannelWaitReader.channelWaitKind(text)
            if entries.count < Self.maxEntries { entries.append((text, kind)) }
            return kind
        }
    }

    public func read(_ goroutines: [Goroutine]) -> Result {
        var result = Result()
        var kinds = WaitKinds()
        // Goroutines whose sudogs are read, by index into `goroutines`, with their wait kind.
        var pending: [Int] = []
        var pendingKinds: [String] = []
        var settled: [(index: Int, object: WaitObject)] = []
        for (index, goroutine) in goroutines.enumerated() where goroutine.status == .waiting || goroutine.status == .leaked {
            guard let kind = kinds.kind(of: goroutine) else { continue }
            switch kind {
            case "chan receive (nil chan)": settled.append((index, .nilChannel(.receive)))
            case "chan send (nil chan)": settled.append((index, .nilChannel(.send)))
            case "select (no cases)": settled.append((index, .selectWithoutCases))
            case "select" where goroutine.waiting == 0:
                // Every case nil: selectgo parks with no sudog at all, for good.
                settled.append((index, .selectWithoutCases))
            default:
                if goroutine.waiting == 0 {
                    settled.append((index, .unknown(reason: "no sudog recorded")))
                } else {
                    pending.append(index)
                    pendingKinds.append(kind)
                }
            }
        }
        let chains = readSudogChains(pending.map { goroutines[$0] }, selects: pendingKinds.map { $0 == "select" })
        var channelAddresses = Set<UInt64>()
        var lastChannel: UInt64?
        for queued in chains.sudogs {
            guard let channel = queued.channel, channel != lastChannel else { continue }
            channelAddresses.insert(channel)
            lastChannel = channel
        }
        let queues = readChannelStates(channelAddresses, into: &result.channels)
        var walkBudget = Self.maxWalkSteps
        result.byIndex = [WaitObject?](repeating: nil, count: goroutines.count)
        for (index, object) in settled { result.byIndex[index] = object }
        for (position, index) in pending.enumerated() {
            result.byIndex[index] = object(kind: pendingKinds[position], chains.chain(position), queues, walkBudget: &walkBudget)
        }
        confirmUnchanged(goroutines, pending, &result)
        result.objects.reserveCapacity(settled.count + pending.count)
        for (index, object) in result.byIndex.enumerated() {
            if let object { result.objects[goroutines[index].address] = object }
        }
        return result
    }

    /// One sudog of a goroutine's chain: where it is and the channel it names (nil: unreadable,
    /// or it no longer belongs to the goroutine).
    struct QueuedSudog {
        let address: UInt64
        let channel: UInt64?
        /// Why the chain ends here unread (a loop, or the read's sudog budget spent).
        var cut: String? = nil
    }

    /// Every goroutine's sudog chain in one flat array, each chain's sudogs together in chain
    /// order: no array per goroutine.
    struct SudogChains {
        var sudogs: [QueuedSudog] = []
        /// Chain i is sudogs[starts[i]..<starts[i + 1]].
        var starts: [Int] = [0]

        func chain(_ index: Int) -> ArraySlice<QueuedSudog> { sudogs[starts[index]..<starts[index + 1]] }
    }

    /// Every pending goroutine's sudogs, a round of batched reads per select case depth.
    /// `selects[i]`: goroutine i waits in a select (only a select's sudogs are followed).
    private func readSudogChains(_ goroutines: [Goroutine], selects: [Bool]) -> SudogChains {
        // Found in depth order: (goroutine index, sudog), grouped by goroutine at the end.
        var found: [(owner: Int, sudog: QueuedSudog)] = []
        found.reserveCapacity(goroutines.count)
        var frontier: [(owner: Int, sudog: UInt64)] = goroutines.enumerated().map { ($0.offset, $0.element.waiting) }
        var depth = 0
        // Each sudog belongs to one goroutine: one met twice is a loop (damage, or a change
        // while read) and ends its chain. The first sudogs, sorted, and the links met after them.
        let firstSudogs = goroutines.map(\.waiting).sorted()
        var linked = Set<UInt64>()
        func seenBefore(_ link: UInt64) -> Bool {
            if Self.sortedContains(firstSudogs, link) { return true }
            return !linked.insert(link).inserted
        }
        var budget = Self.maxSudogs
        while !frontier.isEmpty, depth < Self.maxSelectCases {
            depth += 1
            guard budget >= frontier.count else {
                for (owner, address) in frontier {
                    found.append((owner, QueuedSudog(address: address, channel: nil, cut: "more than \(Self.maxSudogs) sudogs in all")))
                }
                break
            }
            budget -= frontier.count
            // Read in address order; record i of the gather is the i-th address of `sorted`
            // (checked, as any reader may return them in request order or address order).
            let sorted = frontier.indices.map { (address: frontier[$0].sudog, position: $0) }.sorted { $0.address != $1.address ? $0.address < $1.address : $0.position < $1.position }
            let records = reader.gather(sorted.map(\.address), size: sudog.size)
            var recordOf = [Int](repeating: -1, count: frontier.count)
            for (i, entry) in sorted.enumerated() where i < records.count && records.addresses[i] == entry.address && records.valid[i] {
                recordOf[entry.position] = i
            }
            var next: [(owner: Int, sudog: UInt64)] = []
            for (position, (owner, address)) in frontier.enumerated() {
                let i = recordOf[position]
                guard i >= 0, records.u64(i, sudog.g) == goroutines[owner].address,
                      let channel = records.u64(i, sudog.c), channel != 0 else {
                    found.append((owner, QueuedSudog(address: address, channel: nil)))
                    continue
                }
                found.append((owner, QueuedSudog(address: address, channel: channel)))
                // Only a select's sudogs are chained through waitlink (from 1.26 a semaphore
                // wait's waitlink leads to another goroutine's sudog).
                if selects[owner], let link = records.u64(i, sudog.waitlink), link != 0 {
                    guard !seenBefore(link) else {
                        found.append((owner, QueuedSudog(address: link, channel: nil, cut: "its select's sudog chain loops")))
                        continue
                    }
                    next.append((owner, link))
                }
            }
            frontier = next
        }
        // Grouped by goroutine, a counting sort: each chain keeps its depth order.
        var chains = SudogChains()
        var counts = [Int](repeating: 0, count: goroutines.count + 1)
        for entry in found { counts[entry.owner + 1] += 1 }
        for i in 0..<goroutines.count { counts[i + 1] += counts[i] }
        chains.starts = counts
        var place = counts
        chains.sudogs = [QueuedSudog](repeating: QueuedSudog(address: 0, channel: nil), count: found.count)
        for entry in found {
            chains.sudogs[place[entry.owner]] = entry.sudog
            place[entry.owner] += 1
        }
        return chains
    }

    /// Whether sorted `values` holds `value` (a binary search).
    static func sortedContains(_ values: [UInt64], _ value: UInt64) -> Bool {
        var low = 0, high = values.count
        while low < high {
            let middle = (low + high) / 2
            if values[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low < values.count && values[low] == value
    }

    /// The first and last sudog of a channel's two wait queues, as read with its state.
    struct QueueEnds {
        let receive: (first: UInt64, last: UInt64)
        let send: (first: UInt64, last: UInt64)
    }

    /// Reads every channel once: its state into `channels`, its queue ends returned (a select
    /// case's direction is told by them).
    private func readChannelStates(_ addresses: Set<UInt64>, into channels: inout [UInt64: ChannelState]) -> [UInt64: QueueEnds] {
        var queues: [UInt64: QueueEnds] = [:]
        let records = reader.gather(Array(addresses), size: hchan.size)
        for (i, address) in records.addresses.enumerated() where records.valid[i] {
            guard let count = records.u64(i, hchan.qcount), let size = records.u64(i, hchan.dataqsiz),
                  let closed = records.u32(i, hchan.closed), let elementType = records.u64(i, hchan.elemtype),
                  count <= size else { continue }
            // A timer channel is buffered inside but presents as unbuffered (chanlen/chancap say 0).
            var timer: UInt64 = 0
            if let offset = hchan.timer, let value = records.u64(i, offset) { timer = value }
            let isTimer = timer != 0
            channels[address] = ChannelState(
                address: address, length: isTimer ? 0 : count, capacity: isTimer ? 0 : size, closed: closed != 0,
                elementType: elementType, elementTypeName: typeNames?.name(ofType: elementType), timer: timer)
            queues[address] = QueueEnds(
                receive: (records.u64(i, hchan.recvqFirst) ?? 0, records.u64(i, hchan.recvqLast) ?? 0),
                send: (records.u64(i, hchan.sendqFirst) ?? 0, records.u64(i, hchan.sendqLast) ?? 0))
        }
        return queues
    }

    /// `kind`: the goroutine's channel wait kind ("chan send", "chan receive", "select").
    private func object(kind: String, _ chain: ArraySlice<QueuedSudog>, _ queues: [UInt64: QueueEnds],
                        walkBudget: inout Int) -> WaitObject {
        var cases: [ChannelCase] = []
        for queued in chain {
            if let cut = queued.cut { return .unknown(reason: cut) }
            guard let channel = queued.channel else {
                return .unknown(reason: "sudog at 0x\(String(queued.address, radix: 16)) changed while read")
            }
            guard let ends = queues[channel] else {
                return .unknown(reason: "channel at 0x\(String(channel, radix: 16)) unreadable")
            }
            guard kind == "select" else {
                return .channel(ChannelCase(channel: channel, direction: kind == "chan send" ? .send : .receive))
            }
            cases.append(ChannelCase(channel: channel, direction: direction(of: queued.address, in: ends, budget: &walkBudget)))
        }
        if chain.count >= Self.maxSelectCases { return .unknown(reason: "more than \(Self.maxSelectCases) select cases") }
        return cases.isEmpty ? .unknown(reason: "no select case recorded") : .select(cases)
    }

    /// A select's sudog carries no direction: it is the queue it sits in, recvq or sendq.
    /// The walk is bounded per case (`maxQueueWalk`, a loop caught by Brent's method) and per
    /// read (`budget`); a walk cut short leaves the direction unknown (nil), not guessed.
    private func direction(of sudogAddress: UInt64, in ends: QueueEnds, budget: inout Int) -> ChannelDirection? {
        if ends.receive.first == sudogAddress || ends.receive.last == sudogAddress { return .receive }
        if ends.send.first == sudogAddress || ends.send.last == sudogAddress { return .send }
        // In the middle of a queue: walk back to its head.
        var current = sudogAddress
        var reachedHead = false
        var anchor = sudogAddress
        var power = 1, steps = 0
        for _ in 0..<Self.maxQueueWalk {
            guard budget > 0, let previous = try? reader.fetchPointer(from: current &+ UInt64(sudog.prev)) else { return nil }
            budget -= 1
            if previous == 0 { reachedHead = true; break }
            current = previous
            if current == anchor { return nil } // the queue loops: damage
            steps += 1
            if steps == power { anchor = current; power <<= 1; steps = 0 }
        }
        guard reachedHead else { return nil }
        if current == ends.receive.first { return .receive }
        if current == ends.send.first { return .send }
        return nil
    }

    /// The objects were read while the target ran: a goroutine whose status or g.waiting
    /// changed meanwhile may have left them, so it becomes unknown. (One that woke and parked
    /// again on the same sudog is reported where it waits now: the sudog names its goroutine.)
    private func confirmUnchanged(_ goroutines: [Goroutine], _ indices: [Int], _ result: inout Result) {
        guard !indices.isEmpty else { return }
        // Both fields in one record, g.atomicstatus through g.waiting: neighbouring gs are read
        // as one range whatever the record, so one gather is one pass over the gs where one per
        // field was two. In chunks through one buffer handed back to the reader (`recycle`):
        // it stays paged in and in cache, where one record per g in a fresh buffer faulted in
        // a page every few gs. Records come back in address order, which is the goroutines'
        // own address order (a fixed offset added).
        let order = indices.map { (address: goroutines[$0].address, index: $0) }.sorted { $0.address < $1.address }
        let first = min(g.atomicstatus, g.waiting)
        let span = max(g.atomicstatus + 4, g.waiting + 8) - first
        let statusAt = g.atomicstatus - first, waitingAt = g.waiting - first
        var chunkStart = 0
        while chunkStart < order.count {
            let chunk = order[chunkStart..<min(order.count, chunkStart + Self.confirmChunk)]
            let records = reader.gather(chunk.map { $0.address &+ UInt64(first) }, size: span)
            for (position, entry) in chunk.enumerated() {
                let goroutine = goroutines[entry.index]
                let moved: Bool
                if position < records.count, records.addresses[position] == goroutine.address &+ UInt64(first) {
                    let status = records.u32(position, statusAt).flatMap { GoroutineStatus(rawValue: $0 & ~0x1000) }
                    moved = status != goroutine.status || records.u64(position, waitingAt) != goroutine.waiting
                } else {
                    moved = true  // the reads do not line up (addresses that wrap): not confirmed
                }
                if moved { result.byIndex[entry.index] = .unknown(reason: "it moved while its wait was read") }
            }
            reader.recycle(records.bytes)
            chunkStart += chunk.count
        }
    }
}
