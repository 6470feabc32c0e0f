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
    /// `stacks`: parked goroutines' unwound stacks by address; with one, only the words its
    /// frames' stack maps say are live count as holding a channel (LiveStackSlots.swift).
    public func find(_ goroutines: [Goroutine], waits: ChannelWaitReader.Result, now: Int64? = nil,
                     stacks: [UInt64: UnwoundStack] = [:]) -> Result {
        let slots = LiveStackSlots(executable: image.executable, loadBias: image.loadBias)
        var result = Result()
        // Each channel-blocked goroutine's channels; empty for a wait that is blocked for good.
        var blockedOn: [UInt64: [UInt64]] = [:]
        var candidates = Set<UInt64>()
        for (address, object) in waits.objects {
            switch object {
            case let .channel(channelCase): blockedOn[address] = [channelCase.channel]
            case let .select(cases): blockedOn[address] = cases.map(\.channel)
            case .nilChannel, .selectWithoutCases: blockedOn[address] = []
            default: continue
            }
            for channel in blockedOn[address] ?? [] {
                guard let state = waits.channels[channel], !state.closed, state.elementTypeName != "time.Time" else { continue }
                candidates.insert(channel)
            }
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
        var scanned = Set<UInt64>()
        while true {
            let runnable = goroutines.filter { goroutine in
                guard goroutine.status != .dead, goroutine.status != .deadExtra, !scanned.contains(goroutine.address) else { return false }
                // A parked runtime goroutine (sweeper, scavenger, GC workers) holds no user
                // channel, but may hold stale span and object addresses.
                if goroutine.status == .waiting, image.isSystemGoroutine(goroutine) { return false }
                guard let channels = blockedOn[goroutine.address] else { return true }
                return !channels.allSatisfy(candidates.contains)
            }
            if runnable.isEmpty { break }
            var ranges: [MemoryRange] = []
            var live: [[Range<Int>]?] = []
            for goroutine in runnable {
                scanned.insert(goroutine.address)
                guard goroutine.stackHi > goroutine.stackLo, goroutine.stackHi - goroutine.stackLo <= 1 << 30 else { continue }
                let sp = goroutine.status == .running || goroutine.schedSP < goroutine.stackLo || goroutine.schedSP >= goroutine.stackHi
                    ? goroutine.stackLo : goroutine.schedSP & ~7
                let size = Int(goroutine.stackHi - sp)
                budget -= size
                ranges.append(MemoryRange(address: sp, size: size))
                let parked = goroutine.status == .waiting || goroutine.status == .leaked
                live.append(budget > 0 && parked && sp == goroutine.schedSP ? stacks[goroutine.address].flatMap {
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
        var minutes: [UInt64: Int] = [:]
        if let now, !candidates.isEmpty {
            for goroutine in goroutines {
                guard let waited = goroutine.waitMinutes(now: now), let channels = blockedOn[goroutine.address] else { continue }
                for channel in channels where candidates.contains(channel) { minutes[channel] = max(minutes[channel] ?? 0, waited) }
            }
        }
        for channel in candidates {
            let waiters = blockedOn.values.filter { $0.contains(channel) }.count
            let waited = minutes[channel].map { ", for \($0) minutes at least" } ?? ""
            result.suspects[channel] = "\(waiters) goroutines wait on it\(waited) and none that could run, nor any global, refers to it "
                + "(only goroutines blocked on channels like it do; references from the heap are not seen)"
        }
        return result
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
