import GospyMemory
import GospyProcess
import GospyRuntime

/// Repeated non-blocking samples whose cost follows what changed (record, serve's flame
/// graphs). Each round reads only the validation prefix of every g (one coalesced gather: the
/// fields a walk and a header depend on, through `trackingSeq`, which the runtime bumps
/// whenever a goroutine stops running) and compares it with the previous round's. A g whose
/// prefix is unchanged and that is on no thread has not run since: its stack, walked before,
/// stands, and nothing about it is reported. Goroutines whose prefix changed are read whole and
/// walked again; those on a thread are read every round (running ones from perf samples or a
/// brief stop of their thread). A stack that changed while read is counted, never guessed, and
/// its g read again next round.
public final class SamplingRounds {
    /// What became of one g since the previous round.
    public enum Outcome {
        /// Parked: this goroutine and stack stand until the g's prefix changes.
        case standing(Goroutine, UnwoundStack)
        /// On a thread (running, in a system call, or with an M): for this round only.
        case thisRoundOnly(Goroutine, UnwoundStack)
        /// Changed while read, or unreadable (nil when not even its record could be decoded):
        /// in no stack this round, read again next round.
        case inconsistent(Goroutine?)
        /// Dead, gone from allgs, or no longer a plausible g.
        case gone
    }

    /// One round: the gs whose outcome changed, by slot (a g's index in allgs, which only
    /// grows: a slot names one g for the life of the process).
    public struct Round {
        /// The round before failed: everything reported until then is void (the consumer
        /// forgets it) and this round reports every goroutine afresh.
        public var restarted = false
        public var changes: [(slot: Int, outcome: Outcome)] = []
        public var phases = Inspector.Phases()
        /// gs whose prefix was read and compared.
        public var compared = 0
        /// gs read whole (changed since the previous round, or on a thread).
        public var reread = 0
    }

    /// allgs at the previous round.
    private var allgs: [UInt64] = []
    /// The slots of plausible g pointers, in ascending address order (the gather's order).
    private var order: [Int] = []
    /// The previous round's prefixes, in `order`.
    private var previous: GatheredMemory?
    /// Slots to read whole next round whatever their prefix then (changed while read, or read
    /// whole from a record newer than the prefix compared).
    private var forced: [Bool] = []
    /// Slots whose last reported outcome was not `gone`.
    private var reported: [Bool] = []

    /// A round failed part way: the next one starts over.
    private var restart = false

    public init() {}

    /// Takes one round on `inspector` (which must sample running threads: `samplesRunningThreads`).
    public func next(on inspector: Inspector) throws -> Round {
        let deadline = SnapshotDeadline(seconds: inspector.deadlineSeconds)
        inspector.activeDeadline = deadline
        defer { inspector.activeDeadline = nil }
        do {
            var round = try round(inspector)
            round.restarted = restart
            restart = false
            return round
        } catch {
            // What this round learnt is lost with it: start over rather than leave a slot
            // counted that the lost round found gone.
            allgs = []
            order = []
            previous = nil
            forced = []
            reported = []
            restart = true
            throw inspector.mapReadError(error, during: "reading its memory")
        }
    }

    private func round(_ inspector: Inspector) throws -> Round {
        var round = Round()
        let reader = SnapshotReader(image: inspector.image, memory: inspector.memory)
        let g = try inspector.image.layout.g
        let compared = SnapshotReader.validatedFields(g)
        let readStarted = PerfSampler.now()
        let pointers = try reader.allgPointers()
        let sameAllgs = pointers == allgs
        // Where each g's previous prefix is, when allgs changed (grew, as a rule).
        var previousIndex: AddressIndex?
        if !sameAllgs {
            let plausible = pointers.map { $0 != 0 && $0 % 8 == 0 }
            for slot in 0..<max(pointers.count, allgs.count) {
                let now: UInt64? = slot < pointers.count && plausible[slot] ? pointers[slot] : nil
                let before: UInt64? = slot < allgs.count ? allgs[slot] : nil
                if now != before, slot < reported.count, reported[slot] {
                    // Another g in this slot (allgs damaged, or rebuilt): the old one goes now.
                    round.changes.append((slot, .gone))
                    reported[slot] = false
                }
            }
            forced = Array(forced.prefix(pointers.count)) + [Bool](repeating: false, count: max(0, pointers.count - forced.count))
            reported = Array(reported.prefix(pointers.count)) + [Bool](repeating: false, count: max(0, pointers.count - reported.count))
            // A slot that now names another g is read whole, whatever that g's prefix was.
            for slot in 0..<min(pointers.count, allgs.count) where pointers[slot] != allgs[slot] { forced[slot] = true }
            order = pointers.indices.filter { plausible[$0] }.sorted { pointers[$0] < pointers[$1] }
            previousIndex = previous.map { AddressIndex($0.addresses) }
            allgs = pointers
        }
        let now = inspector.memory.gather(order.map { allgs[$0] }, size: compared.span)
        round.compared = now.count
        let unchangedSince = previous.map { RecordMatcher(now, $0, by: compared) }

        // Positions (in `order`) of the gs to read whole.
        var wanted: [Int] = []
        for position in 0..<now.count {
            let slot = order[position]
            // allgs never lists a g twice: a repeat is damage, counted once.
            if position > 0, now.addresses[position] == now.addresses[position - 1] {
                if reported[slot] {
                    round.changes.append((slot, .gone))
                    reported[slot] = false
                }
                continue
            }
            guard let raw = now.u32(position, g.atomicstatus), let status = GoroutineStatus(rawValue: raw & ~0x1000) else {
                wanted.append(position)  // unreadable now: the whole read says so
                continue
            }
            if status.isDead {
                if reported[slot] {
                    round.changes.append((slot, .gone))
                    reported[slot] = false
                }
                forced[slot] = false
                continue
            }
            // On a thread: its stack moves without its g changing.
            if status == .running || status == .syscall || (now.u64(position, g.m) ?? 0) != 0 {
                wanted.append(position)
                continue
            }
            if !forced[slot], let unchangedSince,
               let before = sameAllgs ? position : previousIndex?.position(of: now.addresses[position]),
               unchangedSince.matches(position, before) {
                continue  // has not run since: its stack stands
            }
            wanted.append(position)
        }
        round.reread = wanted.count

        if !wanted.isEmpty {
            // Both in ascending address order: the whole records line up with `wanted`.
            let whole = try reader.readGoroutines(at: wanted.map { now.addresses[$0] })
            let sameAsPrefix = RecordMatcher(whole.records, now, by: compared)
            var live: [Goroutine] = []
            var liveSlots: [Int] = []
            for (index, position) in wanted.enumerated() where index < whole.goroutines.count {
                let slot = order[position]
                forced[slot] = false
                if whole.dead[index] {
                    if reported[slot] { round.changes.append((slot, .gone)) }
                    reported[slot] = false
                    continue
                }
                guard let goroutine = whole.goroutines[index] else {
                    round.changes.append((slot, .inconsistent(nil)))
                    reported[slot] = true
                    forced[slot] = true
                    continue
                }
                // Changed between the two reads: what is walked now is newer than the prefix
                // kept, so the next round must read it again whatever its prefix says.
                if !sameAsPrefix.matches(index, position) { forced[slot] = true }
                live.append(goroutine)
                liveSlots.append(slot)
            }
            let machines = (try? reader.readMachines()) ?? []
            let (stacks, phases) = try inspector.nonBlockingStacks(live, machines: machines, arguments: false,
                                                                   incremental: false, readStarted: readStarted)
            round.phases = phases
            for (index, goroutine) in live.enumerated() where index < stacks.count {
                let slot = liveSlots[index]
                let stack = stacks[index]
                reported[slot] = true
                if stack.origin == Inspector.changedWhileRead {
                    round.changes.append((slot, .inconsistent(goroutine)))
                    forced[slot] = true
                } else if goroutine.status == .running || goroutine.status == .syscall || goroutine.m != 0 {
                    round.changes.append((slot, .thisRoundOnly(goroutine, stack)))
                } else {
                    // A walk cut short (by the deadline, or memory) is tried again next round.
                    if case .truncated = stack.end { forced[slot] = true }
                    round.changes.append((slot, .standing(goroutine, stack)))
                }
            }
        }
        // The old prefixes' buffer serves the next gather (already paged in).
        let old = previous
        previous = now
        if let old { inspector.memory.recycle(old.bytes) }
        return round
    }
}
