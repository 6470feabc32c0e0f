import GospyMemory
import GospyProcess
import GospyRuntime

/// Everything the goroutines of one capture wait on: channels (target memory), descriptors in
/// the netpoller (target memory found through /proc's epoll registrations) and system calls
/// (/proc/PID/task/TID/syscall), with what each descriptor is. Read after the capture, while
/// the target runs: a goroutine whose record moved meanwhile is reported as unknown.
public struct Waits: Sendable {
    /// By goroutine address: only goroutines gospy knows a wait object for (or an unknown one).
    public var objects: [UInt64: WaitObject] = [:]
    /// The same objects by index into the snapshot's goroutines (nil: none), for readers that
    /// go through every goroutine without a lookup each.
    public var byIndex: [WaitObject?] = []
    /// By channel address.
    public var channels: [UInt64: ChannelState] = [:]
    /// The descriptors goroutines wait on (IO wait, or a system call's first argument).
    public var descriptors: [Int32: FileDescription] = [:]
    /// The timers of the timer channels goroutines wait on, by channel address.
    public var timers: [UInt64: TimerChannel] = [:]
    /// Channels of time.Time whose timer (and so when they fire) could not be known, with why.
    public var timersUnknown: [UInt64: String] = [:]
    /// Channels that look stuck for good, when asked for (`readWaits(suspects: true)`).
    public var suspects: SuspectChannels.Result?

    public init() {}

    /// Completes `byIndex` (the channel waits, in `goroutines` order) as `objects` was: `under`
    /// where it holds no channel wait, `over` wherever it has an object.
    mutating func mergeByIndex(_ goroutines: [Goroutine], under: [UInt64: WaitObject], over: [UInt64: WaitObject]) {
        if byIndex.count != goroutines.count { byIndex = [WaitObject?](repeating: nil, count: goroutines.count) }
        guard !under.isEmpty || !over.isEmpty else { return }
        for (index, goroutine) in goroutines.enumerated() {
            if let object = over[goroutine.address] {
                byIndex[index] = object
            } else if byIndex[index] == nil, let object = under[goroutine.address] {
                byIndex[index] = object
            }
        }
    }

    /// The descriptor an object names, when it names one.
    public func descriptor(of object: WaitObject) -> FileDescription? {
        switch object {
        case let .io(wait): return descriptors[wait.fd]
        case let .syscall(wait): return wait.fd.flatMap { descriptors[$0] }
        default: return nil
        }
    }
}

extension Inspector {
    /// Reads what every goroutine of `snapshot` waits on. `stacks` (in `snapshot.goroutines`
    /// order) tell a semaphore's object kind on Go 1.19 and find a Cond's list before 1.26;
    /// without them those are reported as bare semaphores or unknown. `suspects` also looks
    /// for channels that nothing but their waiters refers to (a scan of every stack).
    public func readWaits(_ snapshot: RuntimeSnapshot, stacks: [UnwoundStack]? = nil, suspects: Bool = false) throws -> Waits {
        var waits = Waits()
        var channels = try ChannelWaitReader(image: image, reader: memory).read(snapshot.goroutines)
        if !channels.channels.isEmpty {
            let timers = TimerChannelReader(image: image, reader: memory).read(channels.channels, processors: snapshot.processors)
            waits.timers = timers.timers
            waits.timersUnknown = timers.unknown
        }
        if suspects {
            waits.suspects = SuspectChannels(image: image, reader: memory)
                .find(snapshot.goroutines, waits: channels, now: snapshot.monotonicNow, stacks: stacks)
        }
        waits.channels = channels.channels
        waits.objects = channels.objects
        waits.byIndex = channels.byIndex
        // Released, so the merges below change the objects in place rather than a copy.
        channels.objects = [:]
        channels.byIndex = []
        // Only the semaphore and Cond waiters' stacks are looked at.
        var stacksByGoroutine: [UInt64: UnwoundStack] = [:]
        if let stacks {
            // Asked once per run of goroutines with the same reason text (shared storage: a cheap compare).
            var last: (text: String, reads: Bool)?
            for (index, goroutine) in snapshot.goroutines.enumerated()
            where index < stacks.count && (goroutine.status == .waiting || goroutine.status == .leaked) {
                guard let text = goroutine.waitReasonText else { continue }
                let reads: Bool
                if let last, last.text == text {
                    reads = last.reads
                } else {
                    reads = SemaphoreWaitReader.readsStack(reason: text)
                    last = (text, reads)
                }
                if reads { stacksByGoroutine[goroutine.address] = stacks[index] }
            }
        }
        let sync = try SemaphoreWaitReader(image: image, reader: memory, symbolizer: symbolizer)
            .read(snapshot.goroutines, stacks: stacksByGoroutine)
        waits.objects.merge(sync.objects) { channel, _ in channel }
        // IO and system call waits override what was read before them.
        var overriding: [UInt64: WaitObject] = [:]
        if snapshot.goroutines.contains(where: PollWaitReader.isIOWait) {
            let registrations = procfs.epollRegistrations().map { (fd: $0.fd, data: $0.data) }
            overriding = try PollWaitReader(image: image, reader: memory).read(snapshot.goroutines, registrations: registrations)
        }
        overriding.merge(try readSyscallWaits(snapshot)) { $1 }
        waits.objects.merge(overriding) { $1 }
        waits.mergeByIndex(snapshot.goroutines, under: sync.objects, over: overriding)
        var fds: Set<Int32> = []
        // Only IO and system call waits name descriptors, and every one of them is in `overriding`.
        for object in overriding.values {
            switch object {
            case let .io(wait): fds.insert(wait.fd)
            case let .syscall(wait): if let fd = wait.fd { fds.insert(fd) }
            default: break
            }
        }
        if !fds.isEmpty { waits.descriptors = procfs.describe(fds) }
        return waits
    }

    /// Re-reads of running threads' system call state, over all goroutines in system calls.
    static let syscallRereads = 20

    /// Goroutines in _Gsyscall: the system call their thread (g.m's procid) is blocked in.
    func readSyscallWaits(_ snapshot: RuntimeSnapshot) throws -> [UInt64: WaitObject] {
        let inSyscall = snapshot.goroutines.filter { $0.status == .syscall }
        guard !inSyscall.isEmpty else { return [:] }
        var threads: [UInt64: Int64] = [:]
        for machine in snapshot.machines { threads[machine.address] = machine.threadID }
        var objects: [UInt64: WaitObject] = [:]
        // A thread the stop interrupted in a blocking call restarts it once it is scheduled
        // again: until then (longer on a busy machine) it reads as running. Such a thread is
        // read again for a moment, all of them together for at most `syscallRereads` * 5 ms.
        var rereads = Self.syscallRereads
        for goroutine in inSyscall {
            guard let tid = threads[goroutine.m], tid > 0 else {
                objects[goroutine.address] = .unknown(reason: "no thread recorded for it")
                continue
            }
            var state = procfs.syscallState(thread: tid)
            while rereads > 0, case .running? = state {
                rereads -= 1
                OSThread.sleep(seconds: 0.005)
                state = procfs.syscallState(thread: tid)
            }
            switch state {
            case let .inSyscall(number, arguments):
                let fd: Int32? = LinuxSyscalls.takesDescriptorFirst.contains(number) && arguments[0] <= UInt64(Int32.max)
                    ? Int32(arguments[0]) : nil
                objects[goroutine.address] = .syscall(SyscallWait(
                    threadID: tid, number: number, name: LinuxSyscalls.name(number), arguments: arguments, fd: fd))
            case .running:
                objects[goroutine.address] = .unknown(reason: "thread \(tid) is running, in no system call")
            case .notInSyscall:
                objects[goroutine.address] = .unknown(reason: "thread \(tid) is in no system call")
            case nil:
                objects[goroutine.address] = .unknown(reason: "thread \(tid) unreadable")
            }
        }
        // Read while the target ran: a goroutine that left its system call meanwhile may
        // have left its thread in another one.
        let unchanged = GoroutineRecheck(reader: memory, g: try image.layout.g).unchanged(inSyscall)
        for goroutine in inSyscall where !unchanged.contains(goroutine.address) {
            objects[goroutine.address] = .unknown(reason: "it moved while its wait was read")
        }
        return objects
    }
}
