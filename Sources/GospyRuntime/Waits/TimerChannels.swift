import GospyMemory

/// The runtime timer behind a timer channel (time.After, time.NewTimer(d).C, time.NewTicker(d).C).
public struct TimerChannel: Sendable, Equatable {
    /// How the channel was tied to its timer.
    public enum Link: String, Sendable {
        /// hchan.timer (Go 1.23+ when the program runs with asynctimerchan=0, the default for
        /// go.mod 1.23+ and the only mode from 1.27).
        case channelField = "hchan.timer"
        /// A timer in a P's heap whose f is time.sendTime and whose arg is the channel.
        case timerHeap = "timer heap"
    }

    public let timer: UInt64
    /// The runtime nanotime (CLOCK_MONOTONIC ns) it fires at next; nil when it is stopped and
    /// does not fire.
    public let when: Int64?
    /// A ticker's period in ns; 0 for a one-shot timer.
    public let period: Int64
    public let link: Link

    public init(timer: UInt64, when: Int64?, period: Int64, link: Link) {
        self.timer = timer
        self.when = when
        self.period = period
        self.link = link
    }
}

/// Finds the timer each timer channel belongs to and when it fires. From 1.23 a channel made by
/// package time points at its timer (hchan.timer) unless the program runs with asynctimerchan=1
/// (a go.mod older than 1.23 on 1.23-1.26). Otherwise the only link runs the other way: a timer
/// in some P's heap whose f is time.sendTime and whose arg is the channel; such a timer is in a
/// heap only while armed (or, stopped, until the runtime cleans it out), so a `chan time.Time`
/// found in no heap has no fire time gospy can know, and is reported so, not guessed.
/// Every timer read is checked against the channel it should serve (arg, f, isChan), since the
/// target runs while it is read.
public struct TimerChannelReader {
    /// Entries read from one P's heap, and timers read in all, at most.
    static let maxHeapEntries = 1 << 20
    static let maxTimers = 1 << 22
    /// ≤1.22 timer statuses (runtime/time.go).
    static let statusWaiting: UInt32 = 1, statusRunning: UInt32 = 2, statusDeleted: UInt32 = 3,
               statusRemoving: UInt32 = 4, statusRemoved: UInt32 = 5, statusModifiedEarlier: UInt32 = 7,
               statusModifiedLater: UInt32 = 8

    let reader: MemoryReader
    /// The raw name of the function at a code address (the image's pclntab).
    let functionName: (UInt64) -> String?
    let hchanTimer: Int?
    let timerSize: Int?
    let when: Int?, period: Int?, f: Int?, arg: Int?, isChan: Int?, isFake: Int?, status: Int?, nextwhen: Int?
    /// The P's heap slice, and the stride and timer pointer offset of its entries.
    let heap: Int?, heapStride: Int, heapTimer: Int

    public init(image: RuntimeImage, reader: MemoryReader) {
        self.init(layout: image.layout, reader: reader, functionName: image.rawFunctionName(at:))
    }

    init(layout: RuntimeLayout, reader: MemoryReader, functionName: @escaping (UInt64) -> String?) {
        self.reader = reader
        self.functionName = functionName
        let t = "runtime.timer"
        hchanTimer = layout.optionalOffset("runtime.hchan", "timer")
        timerSize = try? layout.size(of: t)
        when = layout.optionalOffset(t, "when")
        period = layout.optionalOffset(t, "period")
        f = layout.optionalOffset(t, "f")
        arg = layout.optionalOffset(t, "arg")
        isChan = layout.optionalOffset(t, "isChan")
        isFake = layout.optionalOffset(t, "isFake")
        status = layout.optionalOffset(t, "status")
        nextwhen = layout.optionalOffset(t, "nextwhen")
        if let timers = layout.optionalOffset("runtime.p", "timers.heap") {
            heap = timers
            heapStride = (try? layout.size(of: "runtime.timerWhen")) ?? 16
            heapTimer = layout.optionalOffset("runtime.timerWhen", "timer") ?? 0
        } else {
            heap = layout.optionalOffset("runtime.p", "timers")
            heapStride = 8
            heapTimer = 0
        }
    }

    public struct Result: Sendable {
        /// By channel address.
        public var timers: [UInt64: TimerChannel] = [:]
        /// Channels of time.Time whose timer could not be found, each with why.
        public var unknown: [UInt64: String] = [:]
    }

    /// `channels`: the channels goroutines wait on (ChannelWaitReader's); `processors`: the
    /// snapshot's Ps, whose heaps are searched for the channels hchan.timer does not name.
    public func read(_ channels: [UInt64: ChannelState], processors: [Processor]) -> Result {
        var result = Result()
        guard let timerSize, let when, let period, let f, let arg, timerSize >= arg + 16 else { return result }
        var sendTime = SendTimeCheck(reader: reader, functionName: functionName)

        // Channels that name their timer.
        var named: [UInt64: UInt64] = [:]
        for (address, state) in channels where state.timer != 0 { named[state.timer] = address }
        if !named.isEmpty {
            let records = reader.gather(Array(named.keys), size: timerSize)
            for (i, timer) in records.addresses.enumerated() where records.valid[i] {
                guard let channel = named[timer] else { continue }
                // A channel timer: isChan set, its arg the channel, its f time.sendTime.
                guard records.u64(i, arg + 8) == channel, isChan.map({ records.u8(i, $0) == 1 }) ?? true,
                      let function = records.u64(i, f), sendTime.isSendTime(function),
                      let fires = records.u64(i, when).map({ Int64(bitPattern: $0) }), fires >= 0,
                      let every = records.u64(i, period).map({ Int64(bitPattern: $0) }), every >= 0 else {
                    result.unknown[channel] = "its timer at 0x\(String(timer, radix: 16)) did not read as this channel's"
                    continue
                }
                if let isFake, records.u8(i, isFake) != 0 {
                    result.unknown[channel] = "a synctest bubble's timer: it fires at \(fires) ns on the bubble's own clock, which gospy does not read"
                    continue
                }
                result.timers[channel] = TimerChannel(timer: timer, when: fires == 0 ? nil : fires, period: every,
                                                      link: .channelField)
            }
            for (timer, channel) in named where result.timers[channel] == nil && result.unknown[channel] == nil {
                result.unknown[channel] = "its timer at 0x\(String(timer, radix: 16)) is unreadable"
            }
        }

        // The others: only a channel of time.Time can be a timer's (time.sendTime sends one).
        let wanted = Set(channels.values.filter { $0.timer == 0 && $0.elementTypeName == "time.Time" }.map(\.address))
        guard !wanted.isEmpty else { return result }
        let notFound = hchanTimer == nil
            ? "no armed runtime timer sends on it (a stopped or fired timer's channel, or no timer's): when it fires cannot be known"
            : "it names no timer (the program runs with asynctimerchan=1, or it is no timer's) and no armed runtime timer sends on it: when it fires cannot be known"
        guard heap != nil else {
            for channel in wanted { result.unknown[channel] = notFound }
            return result
        }
        var found: [UInt64: TimerChannel] = [:]
        let timers = heapTimers(processors)
        if let cut = timers.cut {
            for channel in wanted { result.unknown[channel] = cut }
            return result
        }
        let records = reader.gather(timers.addresses, size: timerSize)
        for (i, timer) in records.addresses.enumerated() where records.valid[i] {
            guard let data = records.u64(i, arg + 8), wanted.contains(data),
                  let function = records.u64(i, f), sendTime.isSendTime(function),
                  let fires = records.u64(i, when).map({ Int64(bitPattern: $0) }),
                  let every = records.u64(i, period).map({ Int64(bitPattern: $0) }), every >= 0 else { continue }
            var next: Int64? = fires > 0 ? fires : nil
            if let status {
                // Before 1.23: a modified timer keeps its old when until the heap is fixed up.
                switch records.u32(i, status) {
                case Self.statusWaiting, Self.statusRunning: break
                case Self.statusModifiedEarlier, Self.statusModifiedLater:
                    guard let nextwhen, let moved = records.u64(i, nextwhen).map({ Int64(bitPattern: $0) }), moved > 0 else { continue }
                    next = moved
                case Self.statusDeleted, Self.statusRemoving, Self.statusRemoved: next = nil
                default: continue // being changed right now: not read as anything
                }
            }
            if let isFake, records.u8(i, isFake) != 0 {
                result.unknown[data] = "a synctest bubble's timer: it fires at \(fires) ns on the bubble's own clock, which gospy does not read"
                continue
            }
            // One timer per channel; if a stale entry shows up too, the armed one wins.
            if found[data]?.when == nil {
                found[data] = TimerChannel(timer: timer, when: next, period: every, link: .timerHeap)
            }
        }
        for channel in wanted where result.unknown[channel] == nil {
            if let timer = found[channel] { result.timers[channel] = timer } else { result.unknown[channel] = notFound }
        }
        return result
    }

    /// Every timer pointer in the Ps' heaps (deduplicated), or why they were not read.
    func heapTimers(_ processors: [Processor]) -> (addresses: [UInt64], cut: String?) {
        guard let heap, heapStride >= heapTimer + 8 else { return ([], nil) }
        var addresses: [UInt64] = []
        var seen = Set<UInt64>()
        for processor in processors {
            guard let header = try? reader.fetchBytes(from: processor.address &+ UInt64(heap), count: 24) else { continue }
            let base = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self) }
            let count = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
            let capacity = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self) }
            guard base != 0, count > 0, count <= capacity else { continue }
            guard count <= UInt64(Self.maxHeapEntries) else {
                return ([], "P \(processor.id)'s timer heap holds \(count) timers, more than \(Self.maxHeapEntries)")
            }
            guard let bytes = try? reader.fetchBytes(from: base, count: Int(count) * heapStride) else { continue }
            bytes.withUnsafeBytes { raw in
                for index in 0..<Int(count) {
                    let timer = raw.loadUnaligned(fromByteOffset: index * heapStride + heapTimer, as: UInt64.self)
                    if timer != 0, seen.insert(timer).inserted { addresses.append(timer) }
                }
            }
            guard addresses.count <= Self.maxTimers else {
                return ([], "the timer heaps hold more than \(Self.maxTimers) timers")
            }
        }
        return (addresses, nil)
    }

    /// Whether a timer's f (a *funcval) is time.sendTime, the function a timer channel's timer
    /// calls; each funcval read and named once.
    struct SendTimeCheck {
        let reader: MemoryReader
        let functionName: (UInt64) -> String?
        var known: [UInt64: Bool] = [:]

        mutating func isSendTime(_ funcval: UInt64) -> Bool {
            if let answer = known[funcval] { return answer }
            var answer = false
            if funcval != 0, let pc = try? reader.fetchPointer(from: funcval) {
                answer = functionName(pc) == "time.sendTime"
            }
            known[funcval] = answer
            return answer
        }
    }
}
