import Dispatch
import FoundationEssentials
import GospyMemory
import GospyProcess
import GospyRuntime

/// Non-blocking captures for sampling (`samplesRunningThreads`, record): the process is never
/// stopped as a whole. Goroutines were validated
/// one by one as their gs were read; stacks of goroutines on no thread are read while the
/// target runs and checked afterwards (a g that changed meanwhile has its stack voided and
/// counted); a running goroutine's stack starts in its thread's registers, so only the threads
/// running goroutines are stopped, briefly, to read them.
extension Inspector {
    /// The origin of the empty stack a goroutine gets when it changed while its stack was read.
    public static let changedWhileRead = "changed while read"

    func captureNonBlocking(_ snapshot: RuntimeSnapshot, stacks wantStacks: Bool, arguments: Bool,
                            incremental: Bool, readStarted: UInt64 = 0) throws -> (RuntimeSnapshot, [UnwoundStack]?, Phases) {
        guard wantStacks else { return (snapshot, nil, Phases()) }
        let (stacks, phases) = try nonBlockingStacks(snapshot.goroutines, machines: snapshot.machines, arguments: arguments,
                                                     incremental: incremental, readStarted: readStarted)
        return (snapshot, stacks, phases)
    }

    /// The stacks of `goroutines` (in their order), read without stopping the target as a
    /// whole; `machines` are the Ms read with them. Sampling rounds call it with only the
    /// goroutines that changed since the previous round.
    func nonBlockingStacks(_ goroutines: [Goroutine], machines allMachines: [Machine], arguments: Bool,
                           incremental: Bool, readStarted: UInt64) throws -> ([UnwoundStack], Phases) {
        var phases = Phases()
        guard samplesRunningThreads else {
            // dump, top: every stack read live, a running goroutine's from its saved state;
            // each batch walked as it is read, on several threads (as a blocking capture does).
            let collector = stackCollector()
            var captures = [collector.capture(goroutines.map(\.stackExtent), walking: true, arguments: arguments)]
            phases.stacksReadWhileRunning = captures[0].count
            let stacks = collector.unwind(goroutines, taking: &captures, arguments: arguments)
            return (stacks, phases)
        }
        // Argument words are not kept per stack in the baseline: tracebacks walk afresh.
        // Taken out of the inspector while in use, so it is updated in place, not copied.
        var kept = incremental && !arguments ? liveBaseline ?? [:] : nil
        liveBaseline = nil
        var machines: [UInt64: Machine] = [:]
        for machine in allMachines { machines[machine.address] = machine }

        var stacks = [UnwoundStack?](repeating: nil, count: goroutines.count)
        var onThread: [Int] = []
        var parked: [Int] = []
        for (index, goroutine) in goroutines.enumerated() {
            if goroutine.status == .running, let machine = machines[goroutine.m],
               machine.threadID > 0, machine.threadID <= Int64(Int32.max) {
                onThread.append(index)
            } else if let entry = kept?[goroutine.address], goroutine.m == 0,
                      goroutine.status != .running, goroutine.status != .syscall, entry.extent == goroutine.stackExtent {
                stacks[index] = entry.stack
                phases.stacksReused += 1
            } else {
                parked.append(index)
            }
        }

        let collector = stackCollector()
        var clock = DispatchTime.now()
        if !parked.isEmpty {
            let extents = parked.map { goroutines[$0].stackExtent }
            var captures = [collector.capture(extents, walking: true, arguments: arguments)]
            // A g whose walk-relevant fields changed after its stack was read may have been
            // read half old, half new: void it.
            let now = try SnapshotReader(image: image, memory: memory).currentExtents(of: extents.map(\.address))
            let walked = collector.unwind(parked.map { goroutines[$0] }, taking: &captures, arguments: arguments)
            for (position, index) in parked.enumerated() {
                guard now[position] == extents[position] else {
                    phases.inconsistent += 1
                    continue
                }
                stacks[index] = walked[position]
            }
            phases.stacksReadWhileRunning = parked.count
        }
        phases.readWhileRunning = Self.seconds(since: clock)

        if let perf = perfSampler, !onThread.isEmpty || perf.threadCount > 0 {
            let walked = walkFromPerfSamples(perf, goroutines, &onThread, machines: machines, collector: collector,
                                             readStarted: readStarted)
            for (index, stack) in walked { stacks[index] = stack }
            phases.perfSampled = walked.count
            phases.perfMissed = onThread.count
        }

        if !onThread.isEmpty {
            clock = DispatchTime.now()
            let threads = Set(onThread.compactMap { machines[goroutines[$0].m].map { Int32($0.threadID) } })
            var confirmed: [Int] = []
            let captured = try stopper.whileStopped(threads: Array(threads)) {
                // While those threads are stopped: each goroutine is still running on its M,
                // and that M (re-read) still runs it; else its registers are not its stack.
                let reader = SnapshotReader(image: image, memory: memory)
                let machinesNow = try reader.readMachines()
                var current: [UInt64: Machine] = [:]
                for machine in machinesNow { current[machine.address] = machine }
                let stopped = Set(stopper.threads)
                let now = try SnapshotReader(image: image, memory: memory).currentExtents(of: onThread.map { goroutines[$0].address })
                for (position, index) in onThread.enumerated() {
                    let goroutine = goroutines[index]
                    guard let extent = now[position], extent.status == .running, extent.m == goroutine.m,
                          let machine = current[goroutine.m], machine.currentG == goroutine.address,
                          machine.threadID <= Int64(Int32.max), stopped.contains(Int32(machine.threadID)) else {
                        phases.inconsistent += 1
                        continue
                    }
                    confirmed.append(index)
                }
                return captureStacks(confirmed.map { goroutines[$0].stackExtent }, machines: machinesNow, whileStopped: true)
            }
            phases.stopped = stopper.stoppedDuration ?? 0
            phases.threadsStopped = threads.count
            phases.stacksReadWhileStopped = confirmed.count
            let walked = collector.unwind(confirmed.map { goroutines[$0] }, captured, arguments: arguments)
            for (position, index) in confirmed.enumerated() { stacks[index] = walked[position] }
            phases.afterResume = Self.seconds(since: clock)
        }

        if kept != nil {
            for index in parked {
                guard let stack = stacks[index] else { continue }
                kept![goroutines[index].address] = (goroutines[index].stackExtent, stack)
            }
            liveBaseline = kept
        }
        let result = stacks.map { $0 ?? UnwoundStack(frames: [], end: .truncated(Self.changedWhileRead), origin: Self.changedWhileRead) }
        return (result, phases)
    }

    /// Running goroutines walked from their threads' newest perf samples (thread -> M by
    /// m.procid, M -> goroutine by m.curg), taken out of `onThread`; those left there had no
    /// usable sample. Only the newest sample of a thread counts (an older one chosen because
    /// it walks would bias the profile against what the newest shows: VDSO calls, g0 stacks).
    func walkFromPerfSamples(_ perf: PerfSampler, _ goroutines: [Goroutine], _ onThread: inout [Int],
                             machines: [UInt64: Machine], collector: StackCollector,
                             readStarted: UInt64) -> [(Int, UnwoundStack)] {
        // Threads that became Ms since the last rescan get events now (they sample from now on).
        perf.watch(onThread.compactMap { machines[goroutines[$0].m].map { Int32(truncatingIfNeeded: $0.threadID) } })
        _ = perf.drain()
        let newest = perf.newest
        // Fresh: at most perfMaxAgeNanos before the gs were read (the goroutine was running
        // then), however long reading 100k gs took; not after now.
        let now = PerfSampler.now()
        let oldest = min(readStarted, now) &- min(min(readStarted, now), perfMaxAgeNanos)
        var walked: [(Int, UnwoundStack)] = []
        onThread.removeAll { index in
            let goroutine = goroutines[index]
            guard let machine = machines[goroutine.m], machine.currentG == goroutine.address,
                  let sample = newest[Int32(truncatingIfNeeded: machine.threadID)],
                  sample.time <= now, sample.time >= oldest,
                  let stack = collector.unwind(goroutine, sampledPC: sample.pc, sp: sample.sp, stackCopy: sample.stack) else {
                return false
            }
            walked.append((index, stack))
            return true
        }
        return walked
    }
}
