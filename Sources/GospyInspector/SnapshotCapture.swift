import Dispatch
import FoundationEssentials
import GospyMemory
import GospyProcess
import GospyRuntime

/// Taking a snapshot of a live process. Blocking snapshots read everything while the target
/// runs and stop it only to validate: allgs and the first bytes of every g are re-read while
/// stopped, and only goroutines that changed, or that are on a thread, are read again; the
/// rest of what was read while running stands. The result is what a snapshot read wholly
/// while stopped gives.
extension Inspector {
    public struct Capture: Sendable {
        public let snapshot: RuntimeSnapshot
        /// Each goroutine's stack, in `snapshot.goroutines` order, when stacks were asked for.
        public let stacks: [UnwoundStack]?
        /// Thread states read before the stop (while stopped they would all read "t").
        public let threadStates: [Character: Int]
        /// How long the target was stopped (nil in non-blocking mode).
        public let stoppedSeconds: Double?
        /// How long the whole capture took.
        public let elapsedSeconds: Double
        /// Where the time went and what was re-read, for --verbose.
        public let phases: Phases
        /// What the snapshot deadline cut (nil: nothing; the stacks cut say so).
        public var cut: SnapshotCut? = nil
    }

    /// The phases of one capture.
    public struct Phases: Sendable {
        /// Reading gs and the stacks of parked goroutines while the target ran.
        public var readWhileRunning: Double = 0
        /// From the first stop request to the last thread resumed: validating and re-reading.
        public var stopped: Double = 0
        /// Decoding and walking stacks after the target resumed.
        public var afterResume: Double = 0
        /// What validation found (blocking snapshots read while running).
        public var validation: SnapshotReader.ValidationCounts?
        /// Stacks read while the target ran, read while it was stopped, and taken from the
        /// previous snapshot unchanged (incremental captures).
        public var stacksReadWhileRunning = 0
        public var stacksReadWhileStopped = 0
        public var stacksReused = 0
        /// Non-blocking: running goroutines whose threads were stopped briefly for their
        /// registers, and goroutines that changed while their stacks were read (their stacks
        /// are empty, ending in `Inspector.changedWhileRead`: counted, never guessed).
        public var threadsStopped = 0
        public var inconsistent = 0
        /// Non-blocking with perf events: running goroutines walked from their thread's perf
        /// sample, and those that had no usable sample (their threads were stopped instead).
        public var perfSampled = 0
        public var perfMissed = 0
    }

    /// Takes one snapshot, resuming the target on every path. Blocking: read while running,
    /// stopped only to validate; else never stopped, each goroutine validated as it is read.
    /// `stacks` walks every goroutine's stack; `arguments` (with `stacks`) also reads each
    /// frame's argument words, for tracebacks. `incremental` keeps this snapshot so that the
    /// next one re-reads and re-walks only goroutines that changed (for repeated snapshots: top).
    public func capture(blocking: Bool = true, holdStopped: Double = 0, stacks wantStacks: Bool = false,
                        arguments: Bool = false, incremental: Bool = false) throws -> Capture {
        let started = DispatchTime.now()
        let deadline = SnapshotDeadline(seconds: deadlineSeconds)
        activeDeadline = deadline
        defer { activeDeadline = nil }
        let states = threadStates()
        var result: (snapshot: RuntimeSnapshot, stacks: [UnwoundStack]?, phases: Phases)
        do {
            if blocking {
                result = try captureValidated(holdStopped: holdStopped, stacks: wantStacks, arguments: arguments,
                                              incremental: incremental)
            } else {
                let readStarted = PerfSampler.now()
                result = try captureNonBlocking(try SnapshotReader(image: image, memory: memory).read(consistent: false),
                                                stacks: wantStacks, arguments: arguments, incremental: incremental,
                                                readStarted: readStarted)
            }
        } catch {
            throw mapReadError(error, during: "reading its memory")
        }
        if !incremental { baseline = nil; liveBaseline = nil }
        return Capture(snapshot: result.snapshot, stacks: result.stacks, threadStates: states,
                       stoppedSeconds: blocking ? result.phases.stopped : nil,
                       elapsedSeconds: Self.seconds(since: started), phases: result.phases, cut: deadline.cut)
    }

    /// `alsoWhileStopped` runs after the validated read, before the target resumes (tests
    /// read the whole snapshot there too, to compare).
    func captureValidated(holdStopped: Double, stacks wantStacks: Bool, arguments: Bool, incremental: Bool,
                          alsoWhileStopped: (() throws -> Void)? = nil) throws -> (RuntimeSnapshot, [UnwoundStack]?, Phases) {
        var phases = Phases()
        let reader = SnapshotReader(image: image, memory: memory)
        let collector = stackCollector()
        let previous = incremental && wantStacks ? baseline.flatMap { $0.arguments == arguments ? $0 : nil } : nil

        // While the target runs: every g, and the stacks of goroutines on no thread (except
        // those unchanged since the previous snapshot, whose walked stacks are kept).
        var clock = DispatchTime.now()
        // (GOMAXPROCS, Ps, Ms and the scheduler are read once, while stopped.)
        let early = try reader.collect(consistent: true, scheduling: false)
        var earlyStacks = StackCollector.CapturedStacks.empty
        // Per record of `early`: the previous snapshot's walked stack, where its g is unchanged.
        // (indices into `previous.stacks`, -1 for none: no stack is copied until the result.)
        var reusable: [Int32] = []
        // Only incremental captures look records up by address.
        let earlyIndex = previous == nil ? nil : AddressIndex(early.readRecords?.addresses ?? [])
        if wantStacks {
            var extents = try reader.stackExtents(early, .parked)
            if let previous, let earlyIndex, let records = early.readRecords {
                reusable = previous.unchangedStacks(in: records, compared: SnapshotReader.validatedFields(try image.layout.g))
                extents.removeAll { extent in earlyIndex.position(of: extent.address).map { reusable[$0] >= 0 } ?? false }
            }
            // Walked batch by batch as read: their bytes never pile up.
            earlyStacks = collector.capture(extents, walking: true, arguments: arguments)
            // (Fewer than asked when the deadline cut the reads.)
            phases.stacksReadWhileRunning = earlyStacks.count
        }
        let plan = reader.planValidation()
        phases.readWhileRunning = Self.seconds(since: clock)

        // Stopped: re-read allgs and the first bytes of each g; re-read whole only what changed.
        try stopper.stop()
        var raw: SnapshotReader.RawSnapshot
        var lateStacks = StackCollector.CapturedStacks.empty
        do {
            defer { stopper.resume() }
            if holdStopped > 0 { OSThread.sleep(seconds: holdStopped) }
            // `consume`: the records read while running live on only in `raw` (no second copy).
            raw = try reader.validate(consume early, plan: plan)
            if wantStacks {
                let extents = try reader.stackExtents(raw, .reread)
                lateStacks = captureStacks(extents, machines: raw.machines, whileStopped: true)
                phases.stacksReadWhileStopped = lateStacks.count
            }
            try alsoWhileStopped?()
        }
        phases.stopped = stopper.stoppedDuration ?? 0
        phases.validation = raw.validation

        // After the target resumed: decode and walk. The raw records go as soon as they are
        // decoded, before the walks allocate a million stacks.
        clock = DispatchTime.now()
        let reread = raw.rereadAddresses
        let standing = raw.standingRecords ?? []
        // The next incremental snapshot compares with the records that stood at this stop:
        // those read while running that validation kept, and those re-read while stopped.
        let standingAtStop = incremental && wantStacks
            ? (early: raw.readRecords, standing: raw.standingRecords, reread: raw.rereadRecords) : nil
        let snapshot = try reader.decode(consume raw)
        var stacks: [UnwoundStack]?
        if wantStacks {
            var captures = [lateStacks, earlyStacks.removing(reread)]
            earlyStacks = .empty  // (`captures` holds the only copy: its stacks are moved out)
            // A goroutine keeps the previous snapshot's stack when its early record stood at
            // the stop (the g unchanged since that snapshot, through both reads).
            let kept: [Int32] = reusable.isEmpty ? [] : snapshot.goroutines.map { goroutine in
                guard let position = earlyIndex?.position(of: goroutine.address),
                      position < standing.count, standing[position] else { return -1 }
                return reusable[position]
            }
            let walk = kept.isEmpty ? snapshot.goroutines : zip(snapshot.goroutines, kept).filter { $0.1 < 0 }.map(\.0)
            let walked = collector.unwind(walk, taking: &captures, arguments: arguments)
            if let previous, !kept.isEmpty {
                var next = walked.makeIterator()
                stacks = kept.map { index in
                    index >= 0 ? previous.stacks[Int(index)]
                        : next.next() ?? UnwoundStack(frames: [], end: .truncated("stack not walked"), origin: "none")
                }
            } else {
                // The walked array itself: copying it would retain and release every stack.
                stacks = walked
            }
            phases.stacksReused = snapshot.goroutines.count - walk.count
        }
        if let standingAtStop, let stacks {
            baseline = Baseline(early: standingAtStop.early, standing: standingAtStop.standing, reread: standingAtStop.reread,
                                goroutines: snapshot.goroutines, stacks: stacks, arguments: arguments)
        }
        phases.afterResume = Self.seconds(since: clock)
        return (snapshot, stacks, phases)
    }

    /// Everything a snapshot needs, read while the target is stopped: the way snapshots were
    /// taken before validation, kept as the oracle validated snapshots are tested against.
    struct StoppedRead {
        let raw: SnapshotReader.RawSnapshot
        let captured: StackCollector.CapturedStacks?
    }

    /// Reads every g and (with `stacks`) every used stack; the target must be stopped. Only
    /// where the stacks are is decoded now; the rest and the walks wait until it runs.
    func readWhileStopped(stacks wantStacks: Bool) throws -> StoppedRead {
        let reader = SnapshotReader(image: image, memory: memory)
        let raw = try reader.collect(consistent: true)
        let captured = wantStacks ? captureStacks(try reader.stackExtents(raw), machines: raw.machines, whileStopped: true) : nil
        return StoppedRead(raw: raw, captured: captured)
    }

    /// Decodes and walks a `readWhileStopped` (after the target resumed).
    func finish(_ read: StoppedRead, arguments: Bool) throws -> (RuntimeSnapshot, [UnwoundStack]?) {
        let snapshot = try SnapshotReader(image: image, memory: memory).decode(read.raw)
        let stacks = read.captured.map {
            stackCollector().unwind(snapshot.goroutines, $0, arguments: arguments)
        }
        return (snapshot, stacks)
    }

    /// Reads goroutines' used stacks. While the target is stopped, goroutines on a thread start
    /// from their thread's registers, or from the VDSO call their thread is in.
    func captureStacks(_ extents: [StackExtent], machines: [Machine], whileStopped: Bool) -> StackCollector.CapturedStacks {
        var byAddress: [UInt64: Machine] = [:]
        for machine in machines { byAddress[machine.address] = machine }
        let stopper = self.stopper
        return stackCollector().capture(extents) { goroutine in
            // Threads say where a goroutine is only while the target is stopped.
            guard whileStopped, goroutine.m != 0, let machine = byAddress[goroutine.m] else { return nil }
            var context = StackCollector.ThreadContext()
            if machine.vdsoSP != 0 { context.vdso = (machine.vdsoPC, machine.vdsoSP) }
            if goroutine.status == .running {
                context.registers = (try? stopper.registers(of: Int32(truncatingIfNeeded: machine.threadID))).map { ($0.pc, $0.sp) }
            }
            return context
        }
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}

/// The last snapshot an incremental capture took: the g records that stood at its stop (read
/// while running and unchanged, or re-read while stopped) and each live goroutine's walked
/// stack. A goroutine whose g still holds the same validation bytes has not run since, so its
/// stack is the same and need not be read or walked again.
struct Baseline {
    /// A set of records, its index, which of them stood, and where each one's stack is.
    struct Part {
        let records: GatheredMemory
        let index: AddressIndex
        let standing: [Bool]?
        /// Per record: its stack's index in `Baseline.stacks`, or -1.
        var stackIndex: [Int32]

        /// Where `address`'s record is, if it stood at the stop.
        func position(of address: UInt64) -> Int? {
            guard let position = index.position(of: address), standing.map({ $0[position] }) ?? true else { return nil }
            return position
        }
    }

    /// The records re-read while stopped first: they supersede the earlier ones.
    let parts: [Part]
    /// The snapshot's walked stacks (shared with its capture, not copied).
    let stacks: [UnwoundStack]
    let arguments: Bool

    init(early: GatheredMemory?, standing: [Bool]?, reread: GatheredMemory?, goroutines: [Goroutine],
         stacks: [UnwoundStack], arguments: Bool) {
        var parts: [Part] = []
        for (records, standing) in [(reread, nil), (early, standing)] {
            guard let records else { continue }
            parts.append(Part(records: records, index: AddressIndex(records.addresses), standing: standing,
                              stackIndex: [Int32](repeating: -1, count: records.count)))
        }
        for (slot, goroutine) in goroutines.enumerated() where slot < stacks.count && slot <= Int(Int32.max) {
            guard stacks[slot].frames.count > 0 || stacks[slot].end == .complete else { continue }
            for part in parts.indices {
                if let position = parts[part].position(of: goroutine.address) {
                    parts[part].stackIndex[position] = Int32(slot)
                    break
                }
            }
        }
        self.parts = parts
        self.stacks = stacks
        self.arguments = arguments
    }

    /// For each record of `current`: the index in `stacks` of the baseline's stack when that g
    /// still holds the validation bytes it held at the baseline's stop, else -1.
    func unchangedStacks(in current: GatheredMemory, compared: RecordComparison) -> [Int32] {
        var unchanged = [Int32](repeating: -1, count: current.count)
        let matchers = parts.map { RecordMatcher($0.records, current, by: compared) }
        for position in 0..<current.count {
            let address = current.addresses[position]
            for (part, matcher) in zip(parts, matchers) {
                guard let previous = part.position(of: address) else { continue }
                let stack = part.stackIndex[previous]
                if stack >= 0, matcher.matches(previous, position) {
                    unchanged[position] = stack
                }
                break
            }
        }
        return unchanged
    }
}
