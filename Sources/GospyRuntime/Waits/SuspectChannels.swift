import GospyMemory

/// Channels that look stuck for good: a strong hint, not a proof. A channel with waiters is
/// suspect when no global variable and no goroutine that could still run holds its address
/// in its stack, where "could still run" is every goroutine except those blocked only on such
/// suspect channels (or for good): a leaked pool's workers, a channel cycle's members. What a
/// goroutine refers to through the heap is not seen, which is why it is never called a deadlock.
/// Timer channels (chan time.Time) are never suspect: the runtime's timers send on them.
public struct SuspectChannels {
    /// Stack and global bytes scanned at most; past it nothing is called suspect.
    public static let scanBudget = 256 << 20

    let reader: MemoryReader
    let image: RuntimeImage

    public init(image: RuntimeImage, reader: MemoryReader) {
        self.image = image
        self.reader = reader
    }

    public struct Result: Sendable {
        /// Suspect channels by address, each with the reason.
        public var suspects: [UInt64: String] = [:]
        /// Why no channel was examined, when none was (budget exceeded).
        public var skipped: String?
    }

    /// `now`: the snapshot's CLOCK_MONOTONIC, to say how long the waiters have waited (what
    /// the runtime records from the first collection that saw them blocked).
    /// `stacks`: the goroutines' unwound stacks, in `goroutines` order; with one, a parked
    /// goroutine's stack counts as holding a channel only in the words its frames' stack maps
    /// say are live (LiveStackSlots.swift).
    public func find(_ goroutines: [Goroutine], waits: ChannelWaitReader.Result, now: Int64? = nil,
                     stacks: [UnwoundStack]? = nil) -> Result {
        let slots = LiveStackSlots(executable: image.executable, loadBias: image.loadBias)
        var result = Result()
        let blocked = BlockedOnChannels(goroutines, waits: waits)
        // Candidates, by channel number: the channels that may be suspect, until referenced.
        var candidates = Set<UInt64>()
        var isCandidate = [Bool](repeating: false, count: blocked.channels.count)
        for (number, channel) in blocked.channels.enumerated() {
            guard let state = waits.channels[channel], !state.closed, state.elementTypeName != "time.Time" else { continue }
            candidates.insert(channel)
            isCandidate[number] = true
        }
        guard !candidates.isEmpty else { return result }

        var budget = Self.scanBudget
        // Globals: one in a variable is reachable from anywhere.
        let md = image.executable.moduleData
        for (start, end) in [(md.data, md.edata), (md.bss, md.ebss)] where end > start {
            let size = Int(min(end - start, UInt64(budget)))
            budget -= size
            guard let bytes = try? reader.fetchBytes(from: start &+ image.loadBias, count: size) else { continue }
            bytes.withUnsafeBytes { Self.removeReferenced(in: $0, from: &candidates) }
        }
        guard budget > 0 else {
            result.skipped = "the globals are larger than the scan budget"
            return result
        }

        // Goroutines that may run: not blocked, or blocked on a channel that is no candidate.
        var scanned = [Bool](repeating: false, count: goroutines.count)
        // Goroutines never scanned: parked runtime goroutines and the dead.
        for (index, goroutine) in goroutines.enumerated() {
            // A parked runtime goroutine (sweeper, scavenger, GC workers) holds no user
            // channel, but may hold stale span and object addresses.
            if goroutine.status == .dead || goroutine.status == .deadExtra
                || (goroutine.status == .waiting && image.isSystemGoroutine(goroutine)) { scanned[index] = true }
        }
        while true {
            for (number, channel) in blocked.channels.enumerated() where isCandidate[number] && !candidates.contains(channel) {
                isCandidate[number] = false
            }
            var runnable: [Int] = []
            for index in goroutines.indices where !scanned[index] {
                guard let numbers = blocked.channels(of: index) else {
                    runnable.append(index)
                    continue
                }
                if !numbers.allSatisfy({ isCandidate[Int($0)] }) { runnable.append(index) }
            }
            if runnable.isEmpty { break }
            var ranges: [MemoryRange] = []
            var live: [[Range<Int>]?] = []
            for index in runnable {
                let goroutine = goroutines[index]
                scanned[index] = true
                guard goroutine.stackHi > goroutine.stackLo, goroutine.stackHi - goroutine.stackLo <= 1 << 30 else { continue }
                let sp = goroutine.status == .running || goroutine.schedSP < goroutine.stackLo || goroutine.schedSP >= goroutine.stackHi
                    ? goroutine.stackLo : goroutine.schedSP & ~7
                let size = Int(goroutine.stackHi - sp)
                budget -= size
                ranges.append(MemoryRange(address: sp, size: size))
                let parked = goroutine.status == .waiting || goroutine.status == .leaked
                let stack = stacks.flatMap { index < $0.count ? $0[index] : nil }
                live.append(budget > 0 && parked && sp == goroutine.schedSP ? stack.flatMap {
                    slots.liveOffsets(of: $0, sp: sp, hi: goroutine.stackHi)
                } : nil)
            }
            guard budget > 0 else {
                result.skipped = "the stacks to scan are larger than the scan budget"
                return result
            }
            var gathered = reader.gather(ranges: ranges)
            let offsets = gathered.offsets
            gathered.withUnsafeMutableStorage { bytes, valid in
                for index in 0..<ranges.count where valid[index] {
                    let start = offsets[index]
                    let stack = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + ranges[index].size)])
                    if let offsets = live[index] {
                        Self.removeReferenced(in: stack, at: offsets, from: &candidates)
                    } else {
                        Self.removeReferenced(in: stack, from: &candidates)
                    }
                }
            }
            if candidates.isEmpty { break }
        }
        // Each suspect's waiters (a goroutine once, however many of its cases name the channel)
        // and the longest any of them waited, in one pass.
        for (number, channel) in blocked.channels.enumerated() { isCandidate[number] = candidates.contains(channel) }
        var waiters = [Int](repeating: 0, count: blocked.channels.count)
        var minutes = [Int?](repeating: nil, count: blocked.channels.count)
        var counted = [Int](repeating: -1, count: blocked.channels.count)
        for index in goroutines.indices {
            guard let numbers = blocked.channels(of: index), !numbers.isEmpty else { continue }
            let waited = now.flatMap { goroutines[index].waitMinutes(now: $0) }
            for number in numbers.lazy.map({ Int($0) }) where isCandidate[number] {
                if let waited { minutes[number] = max(minutes[number] ?? 0, waited) }
                if counted[number] != index {
                    counted[number] = index
                    waiters[number] += 1
                }
            }
        }
        for (number, channel) in blocked.channels.enumerated() where isCandidate[number] {
            let waited = minutes[number].map { ", for \($0) minutes at least" } ?? ""
            result.suspects[channel] = "\(waiters[number]) goroutines wait on it\(waited) and none that could run, nor any global, refers to it "
                + "(only goroutines blocked on channels like it do; references from the heap are not seen)"
        }
        return result
    }

    /// The channels each goroutine is blocked on, by goroutine index, as small channel numbers
    /// in one flat array (no dictionary of arrays keyed by goroutine).
    struct BlockedOnChannels {
        /// The channels, each once; a channel's number is its index here.
        var channels: [UInt64] = []
        /// Goroutine i's channel numbers are numbers[starts[i]..<ends[i]]; starts[i] == -1
        /// when it is not blocked on a channel (an empty range: blocked for good).
        private var starts: [Int]
        private var ends: [Int]
        private var numbers: [Int32] = []

        init(_ goroutines: [Goroutine], waits: ChannelWaitReader.Result) {
            starts = [Int](repeating: -1, count: goroutines.count)
            ends = [Int](repeating: -1, count: goroutines.count)
            var numberOf: [UInt64: Int32] = [:]
            var last: (channel: UInt64, number: Int32)?
            func add(_ channel: UInt64) {
                if let last, last.channel == channel {
                    numbers.append(last.number)
                    return
                }
                let number: Int32
                if let known = numberOf[channel] {
                    number = known
                } else {
                    number = Int32(channels.count)
                    numberOf[channel] = number
                    channels.append(channel)
                }
                last = (channel, number)
                numbers.append(number)
            }
            // By index when the result was read from these goroutines, else by address.
            let byIndex = waits.byIndex.count == goroutines.count ? waits.byIndex : nil
            for (index, goroutine) in goroutines.enumerated() {
                let found: WaitObject?
                if let byIndex { found = byIndex[index] } else { found = waits.objects[goroutine.address] }
                guard let object = found else { continue }
                switch object {
                case let .channel(channelCase):
                    starts[index] = numbers.count
                    add(channelCase.channel)
                case let .select(cases):
                    starts[index] = numbers.count
                    for channelCase in cases { add(channelCase.channel) }
                case .nilChannel, .selectWithoutCases:
                    starts[index] = numbers.count
                default: continue
                }
                ends[index] = numbers.count
            }
        }

        /// Goroutine `index`'s channel numbers; nil when it is not blocked on a channel.
        func channels(of index: Int) -> ArraySlice<Int32>? {
            guard starts[index] >= 0 else { return nil }
            return numbers[starts[index]..<ends[index]]
        }
    }

    /// Drops every candidate whose address is a word of `bytes` inside one of `ranges`.
    static func removeReferenced(in bytes: UnsafeRawBufferPointer, at ranges: [Range<Int>], from candidates: inout Set<UInt64>) {
        guard !candidates.isEmpty else { return }
        var low = candidates.min()!, high = candidates.max()!
        for range in ranges where range.lowerBound >= 0 {
            var offset = range.lowerBound
            let end = min(range.upperBound, bytes.count)
            while offset + 8 <= end {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                if word >= low, word <= high, candidates.remove(word) != nil {
                    if candidates.isEmpty { return }
                    (low, high) = (candidates.min()!, candidates.max()!)
                }
                offset += 8
            }
        }
    }

    /// Drops every candidate whose address appears as an aligned word in `bytes`.
    static func removeReferenced(in bytes: UnsafeRawBufferPointer, from candidates: inout Set<UInt64>) {
        guard !candidates.isEmpty else { return }
        let low = candidates.min()!, high = candidates.max()!
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            if word >= low, word <= high, candidates.contains(word) {
                candidates.remove(word)
                if candidates.isEmpty { return }
            }
            offset += 8
        }
    }
}
