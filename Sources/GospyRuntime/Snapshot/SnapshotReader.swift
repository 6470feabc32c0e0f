import GospyBinary
#if canImport(Glibc)
import Glibc
#endif

/// Reads goroutines, Ps, Ms and scheduler state from a process's memory through any
/// `MemoryReader`. With the target stopped every read is coherent; without (`consistent:
/// false`) each goroutine is validated, inconsistent ones re-read a bounded number of times,
/// and the rest counted as unreadable instead of being guessed.
public struct SnapshotReader {
    public let image: RuntimeImage
    public let memory: MemoryReader
    /// Upper bounds that keep a damaged runtime from making gospy allocate without end.
    public static let maxGoroutines = 50_000_000
    public static let maxMachines = 100_000
    public static let maxProcessors = 1 << 16

    public init(image: RuntimeImage, memory: MemoryReader) {
        self.image = image
        self.memory = memory
    }

    /// What must be read while the target is stopped; decoding can wait until it runs again.
    public struct RawSnapshot: Sendable {
        /// Every g of allgs, as bytes (blocking reads), or
        fileprivate var records: GatheredMemory?
        /// the goroutines already validated one by one (non-blocking reads).
        fileprivate var goroutines: [Goroutine]
        fileprivate var unreadable: Int
        fileprivate var retried: Int
        fileprivate var processors: [Processor]
        public fileprivate(set) var machines: [Machine]
        fileprivate var scheduler: SchedulerState?
        fileprivate var gomaxprocs: Int32
        fileprivate var monotonicNow: Int64
        /// The g pointers in allgs order.
        fileprivate var allgs: [UInt64] = []
    }

    public func read(consistent: Bool = true, retries: Int = 3) throws -> RuntimeSnapshot {
        try decode(collect(consistent: consistent, retries: retries))
    }

    /// Reads the runtime's state. With `consistent` (the target stopped) only raw bytes are
    /// taken, to keep the pause short; otherwise each goroutine is validated as it is read and
    /// inconsistent ones re-read up to `retries` times.
    public func collect(consistent: Bool = true, retries: Int = 3) throws -> RawSnapshot {
        let g = try image.layout.g
        // allglen before allgptr: allgadd publishes the array before the length, so this order
        // gives a consistent prefix even while goroutines are being created.
        let length = try memory.fetch(UInt64.self, from: try image.address(of: .allglen))
        let array = try memory.fetchPointer(from: try image.address(of: .allgptr))
        guard length <= UInt64(Self.maxGoroutines) else {
            throw SnapshotError.implausible("allglen is \(length)")
        }
        var pointers: [UInt64] = []
        if length > 0 {
            let view = try memory.fetchView(from: array, count: Int(length) * 8)
            pointers = (0..<Int(length)).map { (try? view.u64(at: $0 * 8)) ?? 0 }
        }
        let plausible = pointers.filter { $0 != 0 && $0 % 8 == 0 }
        var raw = RawSnapshot(
            records: nil, goroutines: [], unreadable: pointers.count - plausible.count, retried: 0,
            processors: [], machines: [], scheduler: nil,
            gomaxprocs: (try? memory.fetch(Int32.self, from: try image.address(of: .gomaxprocs))) ?? 0,
            monotonicNow: Self.monotonicNow(), allgs: plausible)
        if consistent {
            raw.records = memory.gather(plausible, size: Self.recordSize(g))
        } else {
            var pending = plausible
            var attempt = 0
            while !pending.isEmpty {
                let gathered = memory.gather(pending, size: Self.recordSize(g))
                var again: [UInt64] = []
                for index in 0..<gathered.count {
                    switch decodeGoroutine(gathered, index, g) {
                    case .some(.some(let goroutine)): raw.goroutines.append(goroutine)
                    case .some(.none): break  // dead
                    case .none: again.append(gathered.addresses[index])
                    }
                }
                if again.isEmpty || attempt >= retries {
                    raw.unreadable += again.count
                    break
                }
                raw.retried += again.count
                attempt += 1
                pending = again
            }
        }
        raw.processors = (try? readProcessors()) ?? []
        raw.machines = (try? readMachines()) ?? []
        raw.scheduler = try? readScheduler()
        return raw
    }

    /// Turns raw bytes into goroutines (run after the target has been resumed).
    public func decode(_ raw: RawSnapshot) throws -> RuntimeSnapshot {
        var goroutines = raw.goroutines
        var unreadable = raw.unreadable
        if let records = raw.records {
            let g = try image.layout.g
            goroutines.reserveCapacity(records.count)
            for index in 0..<records.count {
                switch decodeGoroutine(records, index, g) {
                case .some(.some(let goroutine)): goroutines.append(goroutine)
                case .some(.none): break
                case .none: unreadable += 1
                }
            }
        }
        goroutines.sort { $0.id < $1.id }
        return RuntimeSnapshot(
            goroutines: goroutines, processors: raw.processors, machines: raw.machines, scheduler: raw.scheduler,
            gomaxprocs: raw.gomaxprocs, monotonicNow: raw.monotonicNow, unreadableGoroutines: unreadable,
            retries: raw.retried, allgs: raw.allgs)
    }

    /// The fields stack walks need, for every live goroutine (call while the target is stopped:
    /// decoding only these keeps the pause short; `decode` does the rest afterwards).
    public func stackExtents(_ raw: RawSnapshot) throws -> [StackExtent] {
        guard let records = raw.records else { return raw.goroutines.map(\.stackExtent) }
        let g = try image.layout.g
        var extents: [StackExtent] = []
        extents.reserveCapacity(records.count)
        for index in 0..<records.count {
            let address = records.addresses[index]
            guard let rawStatus = records.u32(index, g.atomicstatus),
                  let status = GoroutineStatus(rawValue: rawStatus & ~0x1000), !status.isDead,
                  records.u64(index, g.schedG) == address,
                  let stackLo = records.u64(index, g.stackLo), let stackHi = records.u64(index, g.stackHi),
                  stackLo < stackHi else { continue }
            extents.append(StackExtent(
                address: address, status: status, m: records.u64(index, g.m) ?? 0,
                schedPC: records.u64(index, g.schedPC) ?? 0, schedSP: records.u64(index, g.schedSP) ?? 0,
                syscallPC: records.u64(index, g.syscallpc) ?? 0, syscallSP: records.u64(index, g.syscallsp) ?? 0,
                stackLo: stackLo, stackHi: stackHi))
        }
        return extents
    }

    /// nil: unreadable or inconsistent; .some(nil): a dead goroutine; else the goroutine.
    private func decodeGoroutine(_ records: GatheredMemory, _ index: Int, _ g: RuntimeLayout.GLayout) -> Goroutine?? {
        let address = records.addresses[index]
        guard let rawStatus = records.u32(index, g.atomicstatus),
              let schedG = records.u64(index, g.schedG), schedG == address else { return nil }
        let scanning = rawStatus & 0x1000 != 0
        guard let status = GoroutineStatus(rawValue: rawStatus & ~0x1000) else { return nil }
        if status.isDead { return .some(nil) }
        guard let id = records.u64(index, g.goid), id > 0, id < 1 << 62,
              let stackLo = records.u64(index, g.stackLo), let stackHi = records.u64(index, g.stackHi),
              stackLo < stackHi else { return nil }
        let reason = records.u8(index, g.waitreason) ?? 0
        return .some(Goroutine(
            address: address, id: id, status: status, scanning: scanning,
            waitReason: reason, waitReasonText: image.waitReasonText(reason),
            waitSince: Int64(bitPattern: records.u64(index, g.waitsince) ?? 0),
            m: records.u64(index, g.m) ?? 0, lockedM: records.u64(index, g.lockedm) ?? 0,
            startPC: records.u64(index, g.startpc) ?? 0, creatorPC: records.u64(index, g.gopc) ?? 0,
            parentID: g.parentGoid.flatMap { records.u64(index, $0) },
            schedPC: records.u64(index, g.schedPC) ?? 0, schedSP: records.u64(index, g.schedSP) ?? 0,
            schedBP: records.u64(index, g.schedBP) ?? 0,
            syscallPC: records.u64(index, g.syscallpc) ?? 0, syscallSP: records.u64(index, g.syscallsp) ?? 0,
            stackLo: stackLo, stackHi: stackHi, labels: records.u64(index, g.labels) ?? 0))
    }

    public func readProcessors() throws -> [Processor] {
        let p = try image.layout.p
        let header = try image.address(of: .allp)
        let array = try memory.fetchPointer(from: header)
        let count = try memory.fetch(UInt64.self, from: header &+ 8)
        guard count <= UInt64(Self.maxProcessors) else { throw SnapshotError.implausible("len(allp) is \(count)") }
        guard count > 0 else { return [] }
        let view = try memory.fetchView(from: array, count: Int(count) * 8)
        let pointers = (0..<Int(count)).compactMap { try? view.u64(at: $0 * 8) }.filter { $0 != 0 }
        let records = memory.gather(pointers, size: p.size)
        return (0..<records.count).compactMap { index in
            guard let id = records.load(Int32.self, record: index, offset: p.id),
                  let status = records.u32(index, p.status) else { return nil }
            let head = records.u32(index, p.runqhead) ?? 0
            let tail = records.u32(index, p.runqtail) ?? 0
            let next = records.u64(index, p.runnext) ?? 0
            return Processor(
                address: records.addresses[index], id: id, status: Processor.Status(rawValue: status), rawStatus: status,
                schedtick: records.u32(index, p.schedtick) ?? 0, syscalltick: records.u32(index, p.syscalltick) ?? 0,
                m: records.u64(index, p.m) ?? 0,
                runQueueLength: Int(min(tail &- head, 256)) + (next != 0 ? 1 : 0), runNext: next)
        }
    }

    public func readMachines() throws -> [Machine] {
        let m = try image.layout.m
        var result: [Machine] = []
        var seen = Set<UInt64>()
        var next = try memory.fetchPointer(from: try image.address(of: .allm))
        while next != 0, !seen.contains(next), result.count < Self.maxMachines {
            seen.insert(next)
            let view = try memory.fetchView(from: next, count: m.size)
            result.append(Machine(
                address: next, id: try view.load(Int64.self, at: m.id),
                threadID: try view.load(Int64.self, at: m.procid),
                currentG: try view.u64(at: m.curg), p: try view.u64(at: m.p),
                spinning: try view.u8(at: m.spinning) != 0, blocked: try view.u8(at: m.blocked) != 0,
                lockedG: try view.u64(at: m.lockedg), g0: try view.u64(at: m.g0), gsignal: try view.u64(at: m.gsignal),
                vdsoSP: try view.u64(at: m.vdsoSP), vdsoPC: try view.u64(at: m.vdsoPC)))
            next = try view.u64(at: m.alllink)
        }
        return result.sorted { $0.id < $1.id }
    }

    public func readScheduler() throws -> SchedulerState {
        let s = try image.layout.schedt
        let view = try memory.fetchView(from: try image.address(of: .sched), count: s.size)
        return SchedulerState(
            goidgen: try view.u64(at: s.goidgen), idleMs: try view.i32(at: s.nmidle), idlePs: try view.i32(at: s.npidle),
            spinningMs: try view.i32(at: s.nmspinning), globalRunQueue: try view.i32(at: s.runqSize),
            gcWaiting: try view.u8(at: s.gcwaiting) != 0)
    }

    /// The bytes of a g that decoding uses: its prefix up to the last field read.
    public static func recordSize(_ g: RuntimeLayout.GLayout) -> Int {
        let used = [g.stackLo, g.stackHi, g.m, g.schedSP, g.schedPC, g.schedG, g.schedBP, g.syscallsp, g.syscallpc,
                    g.atomicstatus, g.goid, g.waitsince, g.waitreason, g.lockedm, g.gopc, g.startpc, g.labels,
                    g.parentGoid ?? 0, g.syscallbp ?? 0]
        return min(g.size, (used.max() ?? g.size) + 8)
    }

    /// How many bytes a blocking read of `goroutines` will gather (for `LiveMemoryReader.reserve`).
    public func expectedGatherBytes() -> Int? {
        guard let g = try? image.layout.g,
              let length = try? memory.fetch(UInt64.self, from: try image.address(of: .allglen)),
              length <= UInt64(Self.maxGoroutines) else { return nil }
        // Room for goroutines created before the stop.
        return (Int(length) + Int(length) / 8 + 1024) * Self.recordSize(g)
    }

    static func monotonicNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

public enum SnapshotError: Error, Equatable, CustomStringConvertible {
    case implausible(String)
    public var description: String {
        switch self {
        case let .implausible(what): return "the target's runtime state looks damaged: \(what)"
        }
    }
}
