import CGospyShims
#if canImport(Glibc)
import Glibc
#endif

/// Samples a process's threads with perf events, without stopping them: one cpu-clock event
/// per thread (perf_event_open) writing each sample's user registers and a copy of the top of
/// the user stack into a ring buffer gospy maps and drains. Threads the target creates later
/// are added by `watch`; events of threads gone are closed by `forget`. Every fd and mapping
/// is released by `close` (and deinit), on every path.
public final class PerfSampler {
    /// Why perf events cannot be used at all (the first open failed), in a phrase.
    public private(set) var unavailable: String?
    /// Threads watched now.
    public var threadCount: Int { events.count }
    /// Threads whose event could not be opened or mapped (not retried).
    public private(set) var refusedThreads = 0
    /// Newest records written over while being copied, and records that did not parse.
    public private(set) var overwritten = 0
    public private(set) var malformed = 0

    public let pid: Int32
    /// CPU time between two samples of one thread.
    public let periodNanos: UInt64
    /// Stack bytes copied per sample (a multiple of 8; a record must stay under 64 KiB).
    public let stackBytes: UInt32
    /// At most this many threads get an event (fds and locked memory are bounded).
    public let threadLimit: Int

    private struct Event {
        let fd: Int32
        let base: UnsafeMutableRawPointer
        let length: Int
        /// The head at the last drain: unchanged, the thread took no sample since.
        var lastHead: UInt64
    }
    private var events: [Int32: Event] = [:]
    /// Each thread's newest sample so far (a thread that used no CPU since the last drain
    /// keeps its previous one: it has not moved on).
    public private(set) var newest: [Int32: PerfSample] = [:]
    private var refused: Set<Int32> = []
    private let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// Data pages per ring (a power of two): a few samples, so that the newest is not written
    /// over while it is copied.
    static let dataPages = 8
    private var dataSize: Int { pageSize * Self.dataPages }

    public init(pid: Int32, periodNanos: UInt64, stackBytes: UInt32 = 8192, threadLimit: Int = 512) {
        self.pid = pid
        self.periodNanos = max(10_000, periodNanos)
        self.stackBytes = min(16384, max(8, stackBytes / 8 * 8))
        self.threadLimit = max(1, threadLimit)
    }

    deinit { close() }

    /// Opens events on those of `threads` that have none yet. The first failure before any
    /// event was opened makes perf events unavailable (`unavailable` says why); later failures
    /// only leave that thread out. A thread that is gone meanwhile is skipped.
    public func watch<S: Sequence>(_ threads: S) where S.Element == Int32 {
        guard unavailable == nil else { return }
        for tid in threads where events[tid] == nil && !refused.contains(tid) {
            guard events.count < threadLimit else { return }
            let fd = gospy_perf_open_sampler(tid, periodNanos, stackBytes)
            if fd < 0 {
                let code = errno
                if code == ESRCH { continue }
                if events.isEmpty && refused.isEmpty {
                    unavailable = Self.explain(code)
                    return
                }
                if code == EMFILE || code == ENFILE { return }
                refused.insert(tid)
                refusedThreads += 1
                continue
            }
            let length = pageSize * (Self.dataPages + 1)
            // Read-only: the kernel writes over the oldest records instead of waiting for a reader.
            let mapped = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0)
            guard let mapped, mapped != MAP_FAILED else {
                let code = errno
                Glibc.close(fd)
                if events.isEmpty && refused.isEmpty {
                    unavailable = "mapping a perf ring buffer failed: " + String(cString: strerror(code))
                        + (code == EPERM ? " (locked memory limit: kernel.perf_event_mlock_kb)" : "")
                    return
                }
                refused.insert(tid)
                refusedThreads += 1
                continue
            }
            events[tid] = Event(fd: fd, base: mapped, length: length, lastHead: gospy_perf_data_head(mapped))
        }
    }

    /// Closes the events of threads not in `alive` (threads that exited).
    public func forget(except alive: Set<Int32>) {
        for (tid, event) in events where !alive.contains(tid) {
            release(event)
            events[tid] = nil
            newest[tid] = nil
        }
        refused.formIntersection(alive)
    }

    /// Each thread's sample taken since the last drain, the newest one only (also kept in
    /// `newest`). The rings are written backward over their oldest records, so the newest is at
    /// the head whatever happened before: a slow round never finds a full ring and only old
    /// samples. Its bytes are copied, then the head read again: a record the kernel wrote over
    /// meanwhile is dropped (counted in `overwritten`), never parsed half old, half new.
    public func drain() -> [Int32: PerfSample] {
        var fresh: [Int32: PerfSample] = [:]
        for tid in Array(events.keys) {
            guard var event = events[tid] else { continue }
            let head = gospy_perf_data_head(event.base)
            guard head != event.lastHead else { continue }
            event.lastHead = head
            events[tid] = event
            if let sample = newestSample(in: event, head: head) {
                guard sample.tid == tid else { malformed += 1; continue }
                fresh[tid] = sample
                if sample.time >= newest[tid]?.time ?? 0 { newest[tid] = sample }
            }
        }
        return fresh
    }

    /// The newest PERF_RECORD_SAMPLE from `head` on (other records, e.g. throttling notes, are
    /// stepped over, a few at most).
    private func newestSample(in event: Event, head: UInt64) -> PerfSample? {
        let data = UnsafeRawPointer(event.base + pageSize)
        var walked = 0
        for _ in 0..<8 {
            guard walked + PerfRecords.headerSize <= dataSize else { return nil }
            let at = head &+ UInt64(walked)
            let header = copy(from: data, at: at, count: PerfRecords.headerSize)
            let type = PerfRecords.u32(header, 0)
            let size = Int(PerfRecords.u16(header, 6))
            // Size 0: the part of a new ring the kernel has not written yet.
            guard size >= PerfRecords.headerSize, size % 8 == 0, walked + size <= dataSize else { return nil }
            guard type == PerfRecords.recordSample else {
                walked += size
                continue
            }
            let bytes = copy(from: data, at: at, count: size)
            // The kernel writes below the head: this record is intact if what it wrote since
            // did not reach around the ring to it.
            let moved = head &- gospy_perf_data_head(event.base)
            guard moved <= UInt64(dataSize - walked - size) else {
                overwritten += 1
                return nil
            }
            let parsed = PerfRecords.parse(bytes)
            malformed += parsed.malformed
            return parsed.samples.first
        }
        return nil
    }

    /// `count` bytes of the ring from position `at` (wrapping at its end).
    private func copy(from data: UnsafeRawPointer, at: UInt64, count: Int) -> [UInt8] {
        let start = Int(at % UInt64(dataSize))
        let first = min(count, dataSize - start)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            base.copyMemory(from: data + start, byteCount: first)
            if first < count { (base + first).copyMemory(from: data, byteCount: count - first) }
            initialized = count
        }
    }

    /// Closes every event and unmaps every ring.
    public func close() {
        for event in events.values { release(event) }
        events = [:]
        newest = [:]
    }

    private func release(_ event: Event) {
        munmap(event.base, event.length)
        Glibc.close(event.fd)
    }

    /// The current CLOCK_MONOTONIC time, the clock samples are stamped with.
    public static func now() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// kernel.perf_event_paranoid, as /proc/sys says it.
    static func paranoidSetting() -> String? {
        let fd = open("/proc/sys/kernel/perf_event_paranoid", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self).trimmingWhitespace()
    }

    static func explain(_ code: Int32) -> String {
        let reason = String(cString: strerror(code))
        switch code {
        case EACCES, EPERM:
            let paranoid = Self.paranoidSetting() ?? "?"
            return "perf_event_open was refused (\(reason); kernel.perf_event_paranoid is \(paranoid), or a seccomp filter in a container)"
        case ENOENT, ENOSYS, EOPNOTSUPP:
            return "this kernel has no perf events for it (\(reason))"
        default:
            return "perf_event_open failed (\(reason))"
        }
    }
}
