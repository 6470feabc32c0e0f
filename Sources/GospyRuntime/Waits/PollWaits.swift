import GospyMemory

/// Which way a goroutine waits on a file descriptor.
public enum IODirection: String, Sendable, Equatable, Hashable {
    case read, write
}

/// A goroutine parked in the netpoller (wait reason "IO wait"): the runtime's pollDesc that
/// names it and the descriptor that pollDesc polls.
public struct IOWait: Sendable, Equatable, Hashable {
    /// The runtime's *pollDesc (internal/poll.FD.pd.runtimeCtx).
    public let pollDesc: UInt64
    /// The OS file descriptor (pollDesc.fd).
    public let fd: Int32
    public let direction: IODirection
}

/// A goroutine in a system call (_Gsyscall) and what its thread is blocked in, from
/// /proc/PID/task/TID/syscall.
public struct SyscallWait: Sendable, Equatable, Hashable {
    /// The Linux thread (m.procid).
    public let threadID: Int64
    public let number: Int
    /// "read", "futex"; "syscall N" for one gospy has no name for.
    public let name: String
    public let arguments: [UInt64]
    /// The first argument when the call takes a descriptor there.
    public let fd: Int32?

    public init(threadID: Int64, number: Int, name: String, arguments: [UInt64], fd: Int32?) {
        self.threadID = threadID
        self.number = number
        self.name = name
        self.arguments = arguments
        self.fd = fd
    }
}

/// Reads which pollDesc each goroutine in IO wait is parked on. A parked goroutine has no
/// pointer to its pollDesc, but the pollDesc holds the goroutine: netpollblock stores the *g
/// in pd.rg (read) or pd.wg (write). The pollDescs are found through the netpoller's epoll
/// registrations (/proc/PID/fdinfo of its epoll descriptor: each registration's data is the
/// pollDesc, tagged from Go 1.21), each checked against the descriptor it was registered for.
public struct PollWaitReader {
    let reader: MemoryReader
    let pollDesc: RuntimeLayout.PollDescLayout
    let g: RuntimeLayout.GLayout
    let version: GoVersion

    /// pdReady and pdWait: the values of rg/wg that are no goroutine.
    static let largestSentinel: UInt64 = 2

    public init(image: RuntimeImage, reader: MemoryReader) throws(LayoutError) {
        self.reader = reader
        pollDesc = try image.layout.pollDesc
        g = try image.layout.g
        version = image.executable.version
    }

    /// The wait reason of a goroutine parked in the netpoller.
    public static func isIOWait(_ goroutine: Goroutine) -> Bool {
        (goroutine.status == .waiting || goroutine.status == .leaked) && goroutine.waitReasonText?.hasPrefix("IO wait") == true
    }

    /// The pollDesc an epoll registration's data names, and the tag it must carry (nil: none):
    /// the raw pointer until 1.20; taggedPointerPack(pd, fdseq) from 1.21, with 19 tag bits
    /// (8-byte aligned pointers) until 1.24 and 24 (512-byte aligned) from 1.25.
    func decode(_ data: UInt64) -> (pollDesc: UInt64, tag: UInt64?) {
        guard version.atLeast(1, 21) else { return (data, nil) }
        let (tagBits, alignBits): (UInt64, UInt64) = version.atLeast(1, 25) ? (24, 9) : (19, 3)
        let pointer = UInt64(bitPattern: (Int64(bitPattern: data) >> tagBits) << alignBits)
        return (pointer, data & ((1 << tagBits) - 1))
    }

    /// Each goroutine in IO wait whose pollDesc names it: `.io`, or `.unknown` when no
    /// registration leads to it or it changed while read.
    public func read(_ goroutines: [Goroutine], registrations: [(fd: Int32, data: UInt64)]) -> [UInt64: WaitObject] {
        let waiters = goroutines.filter(Self.isIOWait)
        guard !waiters.isEmpty else { return [:] }
        var objects: [UInt64: WaitObject] = [:]
        let waiting = Set(waiters.map(\.address))
        var candidates: [(fd: Int32, pollDesc: UInt64, tag: UInt64?)] = []
        for registration in registrations {
            let (address, tag) = decode(registration.data)
            guard address != 0, address % 8 == 0, registration.fd >= 0 else { continue }
            candidates.append((registration.fd, address, tag))
        }
        let span = [pollDesc.fd, pollDesc.rg, pollDesc.wg, pollDesc.fdseq ?? 0].max()! + 8
        // Records come back in address order.
        let first = reader.gather(candidates.map(\.pollDesc), size: span)
        let firstIndex = Self.recordIndex(first)
        var found: [UInt64: IOWait] = [:]
        for candidate in candidates {
            guard let index = firstIndex[candidate.pollDesc], let fd = first.u64(index, pollDesc.fd),
                  fd == UInt64(candidate.fd) else { continue }
            if let tag = candidate.tag {
                // The registration is for this incarnation of the pollDesc (pollDescs are reused).
                guard let fdseqOffset = pollDesc.fdseq, let seq = first.u64(index, fdseqOffset),
                      seq & (version.atLeast(1, 25) ? 0xff_ffff : 0x7_ffff) == tag else { continue }
            }
            for (offset, direction) in [(pollDesc.rg, IODirection.read), (pollDesc.wg, .write)] {
                guard let value = first.u64(index, offset), value > Self.largestSentinel, waiting.contains(value) else { continue }
                found[value] = IOWait(pollDesc: candidate.pollDesc, fd: candidate.fd, direction: direction)
            }
        }
        // Read while the target ran: a pollDesc must still name the goroutine, and the
        // goroutine must still be in IO wait, after everything else was read.
        let pollDescs = Array(Set(found.values.map(\.pollDesc)))
        let second = reader.gather(pollDescs, size: span)
        var still: [UInt64: (rg: UInt64?, wg: UInt64?)] = [:]
        for (index, address) in second.addresses.enumerated() {
            still[address] = (second.u64(index, pollDesc.rg), second.u64(index, pollDesc.wg))
        }
        let unchanged = GoroutineRecheck(reader: reader, g: g).unchanged(waiters)
        for goroutine in waiters {
            guard let wait = found[goroutine.address] else {
                objects[goroutine.address] = .unknown(reason: "no poll descriptor names it")
                continue
            }
            let now = still[wait.pollDesc]
            let named = wait.direction == .read ? now?.rg : now?.wg
            if named == goroutine.address, unchanged.contains(goroutine.address) {
                objects[goroutine.address] = .io(wait)
            } else {
                objects[goroutine.address] = .unknown(reason: "it moved while its wait was read")
            }
        }
        return objects
    }

    /// Address -> record of a gather (whose records come back in address order).
    static func recordIndex(_ records: GatheredMemory) -> [UInt64: Int] {
        var index: [UInt64: Int] = [:]
        for (i, address) in records.addresses.enumerated() where records.valid[i] { index[address] = i }
        return index
    }
}

/// Re-reads goroutines after their waits were read while the target ran: those whose status,
/// wait reason, M and syscall SP are unchanged have not left the wait they were seen in.
public struct GoroutineRecheck {
    let reader: MemoryReader
    let g: RuntimeLayout.GLayout

    public init(reader: MemoryReader, g: RuntimeLayout.GLayout) {
        self.reader = reader
        self.g = g
    }

    public func unchanged(_ goroutines: [Goroutine]) -> Set<UInt64> {
        guard !goroutines.isEmpty else { return [] }
        let span = [g.atomicstatus + 4, g.waitreason + 1, g.m + 8, g.syscallsp + 8].max()!
        let records = reader.gather(goroutines.map(\.address), size: span)
        let recordIndex = PollWaitReader.recordIndex(records)
        var result: Set<UInt64> = []
        for goroutine in goroutines {
            guard let index = recordIndex[goroutine.address], let raw = records.u32(index, g.atomicstatus), GoroutineStatus(rawValue: raw & ~0x1000) == goroutine.status,
                  records.u64(index, g.m) == goroutine.m, records.u64(index, g.syscallsp) == goroutine.syscallSP else { continue }
            if goroutine.status == .waiting || goroutine.status == .leaked {
                guard records.u8(index, g.waitreason) == goroutine.waitReason else { continue }
            }
            result.insert(goroutine.address)
        }
        return result
    }
}
