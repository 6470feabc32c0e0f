import CGospyShims
import Dispatch
import GospyMemory
#if canImport(Glibc)
import Glibc
#endif

/// Reads a live process's memory with process_vm_readv: many ranges per system call, neighbours
/// coalesced. Falls back to /proc/PID/mem where process_vm_readv is refused (some seccomp
/// profiles). Never writes.
public final class LiveMemoryReader: MemoryReader, @unchecked Sendable {
    public let pid: Int32
    private var memFile: Int32 = -1
    private var useProcMem = false
    /// Ranges per process_vm_readv call (the kernel's IOV_MAX).
    static let maxIovecs = 1024
    /// Records closer than this are read as one range (fewer iovecs, a few wasted bytes).
    static let coalesceGap: UInt64 = 512
    /// For variable ranges (stacks): neighbouring goroutine stacks share stack spans, so a
    /// larger gap merges a span's stacks into one remote range; the kernel's cost is mostly
    /// per range, not per byte.
    static let rangeCoalesceGap: UInt64 = 8192

    /// System calls made, for the benchmarks.
    public private(set) var syscalls = 0
    /// A destination buffer paged in ahead of time (see `reserve`).
    private var reserved: [UInt8]?

    public init(pid: Int32) {
        self.pid = pid
    }

    deinit {
        if memFile >= 0 { close(memFile) }
    }

    /// Pages in a destination buffer for the next large `gather`, so that the page faults of
    /// a fresh buffer (hundreds of milliseconds for a million goroutines) are not paid while
    /// the target is stopped.
    public func reserve(bytes: Int) {
        guard bytes > 1 << 20, (reserved?.count ?? 0) < bytes else { return }
        reserved = [UInt8](repeating: 0, count: bytes)
    }

    /// Another reader of the same process: its own buffers, counters and /proc/PID/mem.
    public func readerForAnotherThread() -> MemoryReader {
        let reader = LiveMemoryReader(pid: pid)
        reader.useProcMem = useProcMem
        return reader
    }

    /// The reserved buffer if it holds `bytes`, handed over: the gather's result owns it
    /// alone from here on, so filling it copies nothing.
    private func takeReserved(_ bytes: Int) -> [UInt8]? {
        guard let buffer = reserved, buffer.count >= bytes else { return nil }
        reserved = nil
        return buffer
    }

    /// Keeps a finished gather's buffer (paged in) for the next gather, as `reserve` does.
    public func recycle(_ storage: [UInt8]) {
        guard storage.count > (reserved?.count ?? 0) else { return }
        reserved = storage
    }

    public func read(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        if useProcMem { return try readProcMem(from: address, into: buffer) }
        var local = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
        var remote = iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(address)), iov_len: buffer.count)
        syscalls += 1
        let result = gospy_process_vm_readv(pid, &local, 1, &remote, 1)
        if result == buffer.count { return }
        if result < 0 {
            let code = errno
            if code == EPERM || code == ENOSYS {
                // Refused outright: try /proc/PID/mem before giving up.
                if (try? readProcMem(from: address, into: buffer)) != nil {
                    useProcMem = true
                    return
                }
            }
            throw MemoryReadError.systemError(address: address, size: buffer.count, errno: code)
        }
        throw MemoryReadError.shortRead(address: address, size: buffer.count, got: result)
    }

    private func readProcMem(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        if memFile < 0 {
            memFile = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
            guard memFile >= 0 else { throw MemoryReadError.systemError(address: address, size: buffer.count, errno: errno) }
        }
        guard address <= UInt64(Int64.max) else { throw MemoryReadError.unmapped(address: address, size: buffer.count) }
        syscalls += 1
        let result = pread(memFile, buffer.baseAddress, buffer.count, off_t(address))
        guard result == buffer.count else {
            throw result < 0 ? MemoryReadError.systemError(address: address, size: buffer.count, errno: errno)
                : MemoryReadError.shortRead(address: address, size: buffer.count, got: result)
        }
    }

    /// Reads `size` bytes at each address with few system calls and one copy: records are
    /// sorted and neighbours merged into one remote range, while the local side scatters each
    /// record straight into its slot (the gaps between records go to a sink). Up to IOV_MAX
    /// iovecs per side per call. A range that fails is retried record by record, so one bad
    /// pointer costs only its own record.
    /// The records come back in address order (`addresses` of the result says which is which):
    /// sorting plain integers is several times faster than sorting indices, and it is done
    /// while the target is stopped.
    public func gather(_ unsorted: [UInt64], size: Int) -> GatheredMemory {
        gather(unsorted, shape: .whole(size), threads: 1)
    }

    /// `gather` split across up to `threads` threads, each with its own reader and one part of
    /// the sorted addresses, scattering straight into its place in the one result: for the
    /// gs of a large target read while it runs, where the kernel's copy and the destination's
    /// page faults are the whole cost. Only `shape`'s bytes of each record are kept: the
    /// remote ranges are the same, the rest of each record is copied to the sink.
    public func gather(_ unsorted: [UInt64], shape: RecordShape, threads: Int) -> GatheredMemory {
        let addresses = unsorted.sorted()
        let size = shape.size
        var gathered = GatheredMemory(addresses: addresses, shape: shape,
                                      storage: takeReserved(addresses.count * shape.storedSize))
        guard !addresses.isEmpty, shape.storedSize > 0 else { return gathered }
        if useProcMem {
            for (index, address) in addresses.enumerated() { gathered.fill(index) { try read(from: address, into: $0) } }
            return gathered
        }
        let parts = max(1, min(threads, addresses.count / Self.recordsPerThread))
        let readers = parts == 1 ? [self] : (0..<parts).map { _ in LiveMemoryReader(pid: pid) }
        var failures = [[Int]](repeating: [], count: parts)
        gathered.withUnsafeMutableStorage { records, valid in
            failures.withUnsafeMutableBufferPointer { slots in
                nonisolated(unsafe) let (slots, records, valid) = (slots, records, valid)
                let work = { (part: Int) in
                    let range = (part * addresses.count / parts)..<((part + 1) * addresses.count / parts)
                    slots[part] = readers[part].scatter(order: Array(range), addresses: addresses, size: { _ in size },
                                                        offset: { $0 * shape.storedSize }, shape: shape,
                                                        gap: Self.coalesceGap, into: records, valid: valid)
                }
                nonisolated(unsafe) let job = work
                if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts) { job($0) } }
            }
        }
        if parts > 1 {
            syscalls += readers.reduce(0) { $0 + $1.syscalls }
            if readers.contains(where: \.useProcMem) { useProcMem = true }
        }
        // Refused outright: everything again, through /proc/PID/mem.
        if useProcMem { return gather(addresses, shape: shape, threads: 1) }
        for index in failures.joined() {
            gathered.fill(index) { try read(from: addresses[index], into: $0) }
        }
        return gathered
    }

    /// Fewer records than this per thread are not worth a thread.
    static let recordsPerThread = 16_384

    /// Ranges of different sizes (goroutine stacks), results in request order.
    public func gather(ranges requests: [MemoryRange]) -> GatheredRanges {
        var gathered = GatheredRanges(requests, storage: takeReserved(requests.reduce(0) { $0 + $1.size }))
        guard !requests.isEmpty else { return gathered }
        if useProcMem {
            for index in requests.indices { gathered.fill(index) { try read(from: requests[index].address, into: $0) } }
            return gathered
        }
        let order = requests.indices.filter { requests[$0].size > 0 }.sorted { requests[$0].address < requests[$1].address }
        let addresses = requests.map(\.address)
        let offsets = gathered.offsets
        let failed = gathered.withUnsafeMutableStorage { bytes, valid in
            scatter(order: order, addresses: addresses, size: { requests[$0].size }, offset: { offsets[$0] },
                    gap: Self.rangeCoalesceGap, into: bytes, valid: valid)
        }
        if useProcMem { return gather(ranges: requests) }
        for index in failed {
            gathered.fill(index) { try read(from: requests[index].address, into: $0) }
        }
        return gathered
    }

    /// The common core: reads record `i` (at `addresses[i]`, `size(i)` bytes) to `offset(i)` in
    /// `records`, visiting them in `order` (ascending address). Neighbours share one remote
    /// range; the local side scatters each record straight into place (gaps go to a sink), up
    /// to IOV_MAX iovecs per side per call. With a `shape` that keeps part of each record, see
    /// `scatterPacked`. Returns the records to retry one by one (in a failed range, or
    /// overlapping another).
    private func scatter(order: [Int], addresses: [UInt64], size: (Int) -> Int, offset: (Int) -> Int,
                         shape: RecordShape? = nil, gap coalesceGap: UInt64,
                         into records: UnsafeMutableRawBufferPointer, valid: UnsafeMutableBufferPointer<Bool>) -> [Int] {
        if let shape, !shape.isWhole {
            return scatterPacked(order: order, addresses: addresses, shape: shape, offset: offset, gap: coalesceGap,
                                 into: records, valid: valid)
        }
        // Each member needs up to two local iovecs (record, gap).
        var plan = CoalescedRanges(order: order, addresses: addresses, size: size, gap: coalesceGap,
                                   maxMembers: Self.maxIovecs / 2 - 1, maxBytes: 1 << 22)
        var sink = [UInt8](repeating: 0, count: Int(coalesceGap))
        var locals: [iovec] = []
        var remotes: [iovec] = []
        locals.reserveCapacity(Self.maxIovecs)
        remotes.reserveCapacity(Self.maxIovecs)
        let firstCall = syscalls
        sink.withUnsafeMutableBytes { sinkBuffer in
            var position = 0
            while position < plan.ranges.count {
                locals.removeAll(keepingCapacity: true)
                remotes.removeAll(keepingCapacity: true)
                var limit = position
                while limit < plan.ranges.count, remotes.count < Self.maxIovecs,
                      locals.count + 2 * plan.ranges[limit].count <= Self.maxIovecs {
                    let range = plan.ranges[limit]
                    remotes.append(iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(range.start)),
                                         iov_len: Int(range.end - range.start)))
                    var cursor = range.start
                    for member in plan.members(of: range) {
                        let gap = Int(addresses[member] - cursor)
                        if gap > 0 { locals.append(iovec(iov_base: sinkBuffer.baseAddress, iov_len: gap)) }
                        locals.append(iovec(iov_base: records.baseAddress! + offset(member), iov_len: size(member)))
                        cursor = addresses[member] + UInt64(size(member))
                    }
                    limit += 1
                }
                guard let completed = call(locals: locals, remotes: remotes, ranges: plan.ranges[position..<limit], firstCall: firstCall)
                else { return }
                plan.settle(position..<limit, completed: completed, valid: valid)
                position = completed == limit - position ? limit : position + completed + 1
            }
        }
        return plan.failed
    }

    /// Records of which `shape` keeps only some bytes: each call reads its remote ranges whole
    /// into one scratch buffer (one local iovec a range), and the kept segments are copied out
    /// of it. Scattering a record's segments and holes straight from the kernel costs two local
    /// iovecs a segment, and the kernel's per-iovec work made that slower than the copy.
    private func scatterPacked(order: [Int], addresses: [UInt64], shape: RecordShape, offset: (Int) -> Int,
                               gap coalesceGap: UInt64, into records: UnsafeMutableRawBufferPointer,
                               valid: UnsafeMutableBufferPointer<Bool>) -> [Int] {
        let scratchSize = max(Self.packedScratch, shape.size)
        var plan = CoalescedRanges(order: order, addresses: addresses, size: { _ in shape.size }, gap: coalesceGap,
                                   maxMembers: Int.max, maxBytes: UInt64(scratchSize))
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: scratchSize, alignment: 16)
        defer { scratch.deallocate() }
        var locals: [iovec] = []
        var remotes: [iovec] = []
        var scratchStarts: [Int] = []
        let firstCall = syscalls
        var position = 0
        while position < plan.ranges.count {
            locals.removeAll(keepingCapacity: true)
            remotes.removeAll(keepingCapacity: true)
            scratchStarts.removeAll(keepingCapacity: true)
            var used = 0
            var limit = position
            while limit < plan.ranges.count, remotes.count < Self.maxIovecs {
                let range = plan.ranges[limit]
                let length = Int(range.end - range.start)
                guard used + length <= scratchSize else { break }
                remotes.append(iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(range.start)), iov_len: length))
                locals.append(iovec(iov_base: scratch.baseAddress! + used, iov_len: length))
                scratchStarts.append(used)
                used += length
                limit += 1
            }
            guard let completed = call(locals: locals, remotes: remotes, ranges: plan.ranges[position..<limit], firstCall: firstCall)
            else { return [] }
            for (index, range) in plan.ranges[position..<(position + completed)].enumerated() {
                for member in plan.members(of: range) {
                    let from = UnsafeRawBufferPointer(rebasing: scratch[(scratchStarts[index] + Int(addresses[member] - range.start))...])
                    shape.pack(from, into: UnsafeMutableRawBufferPointer(rebasing: records[offset(member)...]))
                }
            }
            plan.settle(position..<limit, completed: completed, valid: valid)
            position = completed == limit - position ? limit : position + completed + 1
        }
        return plan.failed
    }

    /// Scratch for one packed call (fits in a core's L2 cache, where the segments are copied
    /// out of it).
    static let packedScratch = 256 * 1024

    /// One process_vm_readv of `locals` from `remotes` (the `ranges` in order): how many of the
    /// ranges were read whole (a partial transfer stops at the first remote range that failed);
    /// nil when process_vm_readv is refused outright (the caller starts again on /proc/PID/mem).
    private func call(locals: [iovec], remotes: [iovec], ranges: ArraySlice<CoalescedRanges.Range>, firstCall: Int) -> Int? {
        syscalls += 1
        let result = gospy_process_vm_readv(pid, locals, UInt(locals.count), remotes, UInt(remotes.count))
        if result < 0 && (errno == EPERM || errno == ENOSYS) && syscalls == firstCall + 1 {
            useProcMem = true
            return nil
        }
        var readBytes = max(0, result)
        var completed = 0
        for range in ranges {
            let length = Int(range.end - range.start)
            guard length <= readBytes else { break }
            readBytes -= length
            completed += 1
        }
        return completed
    }
}

/// Records in ascending address order grouped into remote ranges: neighbours closer than a gap
/// share one range (fewer iovecs, a few wasted bytes), up to a number of members and bytes.
private struct CoalescedRanges {
    struct Range { var start: UInt64; var end: UInt64; var first: Int; var count: Int }
    private(set) var ranges: [Range] = []
    private var members: [Int] = []
    /// Records to read one by one: in a failed range, overlapping another, or past the address space.
    private(set) var failed: [Int] = []

    init(order: [Int], addresses: [UInt64], size: (Int) -> Int, gap: UInt64, maxMembers: Int, maxBytes: UInt64) {
        members.reserveCapacity(order.count)
        for index in order {
            let start = addresses[index]
            let (end, overflow) = start.addingReportingOverflow(UInt64(size(index)))
            if overflow {
                failed.append(index)
                continue
            }
            if let last = ranges.indices.last {
                if start < ranges[last].end {
                    failed.append(index)  // overlaps the previous record
                    continue
                }
                if start - ranges[last].end <= gap, ranges[last].count < maxMembers, end - ranges[last].start <= maxBytes {
                    ranges[last].end = end
                    ranges[last].count += 1
                    members.append(index)
                    continue
                }
            }
            ranges.append(Range(start: start, end: end, first: members.count, count: 1))
            members.append(index)
        }
    }

    func members(of range: Range) -> ArraySlice<Int> { members[range.first..<(range.first + range.count)] }

    /// After a call over `called`: the first `completed` ranges' records are valid; the next
    /// one failed (its records are retried one by one).
    mutating func settle(_ called: Swift.Range<Int>, completed: Int, valid: UnsafeMutableBufferPointer<Bool>) {
        for range in ranges[called.lowerBound..<(called.lowerBound + completed)] {
            for member in members(of: range) { valid[member] = true }
        }
        if completed < called.count { failed.append(contentsOf: members(of: ranges[called.lowerBound + completed])) }
    }
}
