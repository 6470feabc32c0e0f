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
    /// Samples the kernel dropped (buffer full) and records that did not parse, in all.
    public private(set) var lost: UInt64 = 0
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
        var tail: UInt64
    }
    private var events: [Int32: Event] = [:]
    /// Each thread's newest sample so far (a thread that used no CPU since the last drain
    /// keeps its previous one: it has not moved on).
    public private(set) var newest: [Int32: PerfSample] = [:]
    private var refused: Set<Int32> = []
    private let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// Data pages per ring (a power of two): room for several samples between two drains.
    static let dataPages = 32
    private var dataSize: Int { pageSize * Self.dataPages }
    /// The most bytes one ring can hold; the copy buffer reused by every drain.
    private var scratch: [UInt8] = []

    public init(pid: Int32, periodNanos: UInt64, stackBytes: UInt32 = 8192, threadLimit: Int = 512) {
        self.pid = pid
        self.periodNanos = max(10_000, periodNanos)
        self.stackBytes = min(32768, max(8, stackBytes / 8 * 8))
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
            let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
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
            events[tid] = Event(fd: fd, base: mapped, length: length, tail: gospy_perf_data_head(mapped))
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

    /// Every sample taken since the last drain, by thread, oldest first.
    public func drain() -> [Int32: [PerfSample]] {
        var byThread: [Int32: [PerfSample]] = [:]
        if scratch.count != dataSize { scratch = [UInt8](repeating: 0, count: dataSize) }
        for tid in events.keys {
            guard var event = events[tid] else { continue }
            let head = gospy_perf_data_head(event.base)
            let available = head &- event.tail
            // More than the ring holds cannot be: the positions are not what they should be;
            // skip to the head rather than parse garbage.
            guard available > 0, available <= UInt64(dataSize) else {
                if available != 0 { malformed += 1 }
                event.tail = head
                gospy_perf_set_data_tail(event.base, head)
                events[tid] = event
                continue
            }
            let count = Int(available)
            let start = Int(event.tail % UInt64(dataSize))
            let data = UnsafeRawPointer(event.base + pageSize)
            let first = min(count, dataSize - start)
            scratch.withUnsafeMutableBytes { buffer in
                buffer.baseAddress!.copyMemory(from: data + start, byteCount: first)
                if first < count { (buffer.baseAddress! + first).copyMemory(from: data, byteCount: count - first) }
            }
            event.tail = head
            gospy_perf_set_data_tail(event.base, head)
            events[tid] = event
            let parsed = PerfRecords.parse(Array(scratch[0..<count]))
            lost = lost.addingReportingOverflow(parsed.lost).overflow ? .max : lost + parsed.lost
            malformed += parsed.malformed
            for sample in parsed.samples {
                // A sample of another thread in this ring cannot be: one event, one thread.
                guard sample.tid == tid else { malformed += 1; continue }
                byThread[tid, default: []].append(sample)
            }
            if let last = byThread[tid]?.last, last.time >= newest[tid]?.time ?? 0 { newest[tid] = last }
        }
        return byThread
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
