import CGospyShims
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

    /// System calls made, for the benchmarks.
    public private(set) var syscalls = 0

    public init(pid: Int32) {
        self.pid = pid
    }

    deinit {
        if memFile >= 0 { close(memFile) }
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
            if code == ESRCH { throw MemoryReadError.systemError(address: address, size: buffer.count, errno: code) }
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

    /// Reads `size` bytes at each address with as few system calls as possible: records are
    /// sorted, neighbours merged into one range, up to 1024 ranges per process_vm_readv. A range
    /// that fails is retried record by record, so one bad pointer costs only its own record.
    public func gather(_ addresses: [UInt64], size: Int) -> GatheredMemory {
        var gathered = GatheredMemory(addresses: addresses, recordSize: size)
        guard !addresses.isEmpty, size > 0 else { return gathered }
        if useProcMem {
            for (index, address) in addresses.enumerated() { gathered.fill(index) { try read(from: address, into: $0) } }
            return gathered
        }
        // Ranges over the sorted, valid addresses.
        let order = addresses.indices.filter { addresses[$0].addingReportingOverflow(UInt64(size)).overflow == false }
            .sorted { addresses[$0] < addresses[$1] }
        struct Range { var start: UInt64; var end: UInt64; var members: [Int] }
        var ranges: [Range] = []
        for index in order {
            let start = addresses[index]
            let end = start + UInt64(size)
            // Mutate in place: copying a Range out would copy its member list every time.
            if let last = ranges.indices.last, start <= ranges[last].end &+ Self.coalesceGap,
               end - ranges[last].start <= 1 << 20 {
                ranges[last].end = max(ranges[last].end, end)
                ranges[last].members.append(index)
            } else {
                ranges.append(Range(start: start, end: end, members: [index]))
            }
        }
        var scratch = [UInt8](repeating: 0, count: 0)
        var failed: [Int] = []
        var position = 0
        while position < ranges.count {
            let batch = ranges[position..<min(ranges.count, position + Self.maxIovecs)]
            let total = batch.reduce(0) { $0 + Int($1.end - $1.start) }
            if scratch.count < total { scratch = [UInt8](repeating: 0, count: total) }
            let readCount: Int = scratch.withUnsafeMutableBytes { buffer in
                var locals: [iovec] = []
                var remotes: [iovec] = []
                locals.reserveCapacity(batch.count)
                remotes.reserveCapacity(batch.count)
                var offset = 0
                for range in batch {
                    let length = Int(range.end - range.start)
                    locals.append(iovec(iov_base: buffer.baseAddress! + offset, iov_len: length))
                    remotes.append(iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(range.start)), iov_len: length))
                    offset += length
                }
                syscalls += 1
                return gospy_process_vm_readv(pid, locals, UInt(batch.count), remotes, UInt(batch.count))
            }
            if readCount < 0 && (errno == EPERM || errno == ENOSYS) && position == 0 {
                useProcMem = true
                return gather(addresses, size: size)
            }
            // Copy out the ranges that were read completely; partial transfers stop at the
            // first range that failed, so continue after it.
            var consumed = 0
            let readBytes = max(0, readCount)
            var copied: [Int] = []
            gathered.withUnsafeMutableBytes { destination in
                scratch.withUnsafeBytes { source in
                    var offset = 0
                    for range in batch {
                        let length = Int(range.end - range.start)
                        guard offset + length <= readBytes else { break }
                        for member in range.members {
                            let start = offset + Int(addresses[member] - range.start)
                            (destination.baseAddress! + member * size)
                                .copyMemory(from: source.baseAddress! + start, byteCount: size)
                            copied.append(member)
                        }
                        consumed += 1
                        offset += length
                    }
                }
            }
            for member in copied { gathered.markValid(member, true) }
            if consumed < batch.count {
                // The range at `consumed` failed: read its records one by one, then go on.
                failed.append(contentsOf: batch[batch.startIndex + consumed].members)
                position += consumed + 1
            } else {
                position += batch.count
            }
        }
        for index in failed {
            gathered.fill(index) { try read(from: addresses[index], into: $0) }
        }
        return gathered
    }
}
