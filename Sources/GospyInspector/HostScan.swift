import Dispatch
import FoundationEssentials
import GospyBinary
import GospyMemory
import GospyProcess
import GospyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// One Go process found on the host, as `gospy ps` lists it. `problem` is set when something
/// about it could not be read: the process is still listed, with what is known.
public struct HostProcess: Sendable, Codable, Equatable {
    public var pid: Int32
    /// Its pid inside its own pid namespace (a container), when that differs.
    public var namespacePID: Int32?
    public var user: String?
    public var goVersion: String?
    /// The main module's path ("mod" line of the build info), else the main package's.
    public var mainModule: String?
    public var executable: String
    public var uptimeSeconds: Double?
    public var rssBytes: UInt64?
    public var threads: Int?
    /// runtime.allglen read while the target runs: every g the runtime allocated, the dead
    /// ones it keeps for reuse included (an upper bound of runtime.NumGoroutine()).
    public var goroutines: Int?
    /// A container or pod id from the process's cgroup.
    public var container: String?
    public var problem: String?
}

/// Finds every Go process on the host: walks /proc, tests each executable cheaply (a cached
/// probe per distinct file), and reads allglen without stopping anything. Never fails as a
/// whole: a process that cannot be read is listed with the reason.
public final class HostScan: @unchecked Sendable {
    let procRoot: String
    let binaries = GoBinaryCache()

    public init(procRoot: String = "/proc") {
        self.procRoot = procRoot
    }

    /// Every Go process, by pid. `only` limits the scan to those pids. Processes are looked at
    /// by a few threads at once: most of a listing is waiting for /proc, and on a busy host
    /// for a core.
    public func scan(only: Set<Int32>? = nil) -> [HostProcess] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: procRoot)) ?? []
        var pids = names.compactMap { Int32($0) }.filter { $0 > 0 }
        if let only { pids = pids.filter { only.contains($0) } }
        let own = getpid()
        let listed = pids.filter { $0 != own }.sorted()
        let results = ResultSlots(count: listed.count)
        let workers = min(Self.workers, max(listed.count, 1))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: listed.count, by: workers) {
                results.set(index, inspect(listed[index]))
            }
        }
        binaries.forgetUnused()
        return results.values()
    }

    /// Threads a scan uses.
    static let workers = 4

    /// One result per pid, written by the scan's threads.
    private final class ResultSlots: @unchecked Sendable {
        private let lock = ThreadLock()
        private var slots: [HostProcess?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: HostProcess?) { lock.withLock { slots[index] = value } }
        func values() -> [HostProcess] { lock.withLock { slots.compactMap { $0 } } }
    }

    /// One process: nil when it is not a Go program (or is gone, a zombie or a kernel thread).
    /// A process whose executable is a file seen before costs one stat: kernel threads,
    /// zombies and the gone have no executable (ENOENT), and the file says Go or not.
    public func inspect(_ pid: Int32) -> HostProcess? {
        let procfs = ProcFS(pid: pid, root: procRoot)
        var info = stat()
        guard stat(procfs.executablePath, &info) == 0 else {
            let code = errno
            // EACCES: another user's process without privilege: unknown whether it is Go, so
            // listed with the reason rather than silently dropped (kernel threads and zombies
            // are not processes to list).
            guard code == EACCES || code == EPERM,
                  let procStat = try? procfs.stat(), !procStat.isKernelThread, procStat.state != "Z", procStat.state != "X" else {
                return nil
            }
            return HostProcess(pid: pid, executable: procfs.executableLink() ?? "?", problem: "cannot read its executable: \(String(cString: strerror(code))) (run as root or with CAP_SYS_PTRACE)")
        }
        let key = GoBinaryCache.Key(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                                    modified: Int64(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_mtim.tv_nsec))
        let binary = binaries.binary(key) { Self.analyse(path: procfs.executablePath) }
        guard case let .go(goBinary) = binary else { return nil }
        guard let procStat = try? procfs.stat(), procStat.state != "Z", procStat.state != "X" else { return nil }
        var process = HostProcess(pid: pid, goVersion: goBinary.buildInfo.goVersion,
                                  mainModule: goBinary.buildInfo.mainModule.map { String($0.split(separator: "\t").first ?? "") }
                                      ?? goBinary.buildInfo.mainPath,
                                  executable: procfs.executableLink() ?? procfs.executablePath)
        do {
            let facts = try ProcessFacts.read(procfs)
            process.namespacePID = facts.namespacePID
            process.user = facts.uid.map(userName)
            process.threads = facts.threads
            process.rssBytes = facts.rssBytes
            process.container = facts.container
        } catch {
            process.problem = "\(error)"
            return process
        }
        process.uptimeSeconds = Self.uptime(startTicks: procStat.startTimeTicks)
        if let reason = goBinary.unreadable {
            process.problem = reason
            return process
        }
        do {
            let bias = goBinary.positionIndependent
                ? try Self.loadBias(procfs: procfs, device: UInt64(info.st_dev), inode: UInt64(info.st_ino), firstLoad: goBinary.firstLoad)
                : 0
            let count = try LiveMemoryReader(pid: pid).fetch(UInt64.self, from: goBinary.allglen &+ bias)
            // A count no runtime reaches means a wrong address or damaged memory: not shown.
            guard count < 1 << 32 else {
                process.problem = "implausible allglen \(count)"
                return process
            }
            process.goroutines = Int(count)
        } catch let error as MemoryReadError {
            process.problem = procfs.exists ? "cannot read its memory: \(error)" : "exited while being read"
        } catch {
            process.problem = "\(error)"
        }
        return process
    }

    /// Seconds since a process started: the boot-time clock (what /proc/uptime shows) minus
    /// its start in clock ticks since boot.
    static func uptime(startTicks: UInt64) -> Double? {
        var now = timespec()
        guard clock_gettime(CLOCK_BOOTTIME, &now) == 0 else { return nil }
        let system = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        return max(0, system - Double(startTicks) / Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// User names by uid, looked up once per scan's life (each lookup reads the passwd database).
    private let userNames = ThreadLock()
    private var knownUsers: [UInt32: String] = [:]

    func userName(_ uid: UInt32) -> String {
        if let known = userNames.withLock({ knownUsers[uid] }) { return known }
        let name = ProcessFacts.userName(uid)
        userNames.withLock { knownUsers[uid] = name }
        return name
    }

    /// The cheap probe, then (for Go only) the analysis that finds allglen.
    static func analyse(path: String) -> GoBinaryCache.Binary {
        let probe: GoBinaryProbe.Result
        do {
            probe = try GoBinaryProbe.probe(path: path)
        } catch {
            return .notGo
        }
        switch probe {
        case .notELF, .notGo: return .notGo
        case .go, .undecided: break
        }
        // A supported release with its symbols: allglen is its symbol (what RuntimeGlobals
        // would find first), no need to analyse the whole runtime (pclntab, moduledata) as a
        // snapshot must.
        if case let .go(info) = probe, let version = GoVersion(parsing: info.goVersion), version.isSupported,
           let elf = try? ElfFile(path: path), let symbol = elf.symbol(named: RuntimeGlobals.Name.allglen.rawValue), symbol.value != 0 {
            let firstLoad = elf.segments.filter(\.isLoad).map(\.virtualAddress).min() ?? 0
            return .go(.init(buildInfo: info, allglen: symbol.value, positionIndependent: elf.isPositionIndependent,
                             firstLoad: firstLoad, unreadable: nil))
        }
        let executable: GoExecutable
        do {
            executable = try GoExecutable(path: path)
        } catch let error as BinaryError {
            switch error {
            case .notGo, .pclntabNotFound, .notELF, .unsupportedELF:
                return .notGo
            case let .unsupportedGoVersion(_, version, supported):
                // Still a Go program: listed, without a goroutine count.
                guard case let .go(info) = probe else { return .notGo }
                return .go(.init(buildInfo: info, allglen: 0, positionIndependent: false, firstLoad: 0,
                                 unreadable: "\(version) is not supported (supported: Go \(BinaryError.ranges(of: supported)))"))
            default:
                guard case let .go(info) = probe else { return .notGo }
                return .go(.init(buildInfo: info, allglen: 0, positionIndependent: false, firstLoad: 0, unreadable: "\(error)"))
            }
        } catch {
            return .notGo
        }
        let firstLoad = executable.elf.segments.filter(\.isLoad).map(\.virtualAddress).min() ?? 0
        do {
            return .go(.init(buildInfo: executable.buildInfo, allglen: try RuntimeGlobals.locateOne(.allglen, in: executable),
                             positionIndependent: executable.elf.isPositionIndependent, firstLoad: firstLoad, unreadable: nil))
        } catch {
            return .go(.init(buildInfo: executable.buildInfo, allglen: 0, positionIndependent: false, firstLoad: 0,
                             unreadable: "runtime not understood: \(error)"))
        }
    }

    /// A PIE's load bias: where the executable's offset-0 mapping starts (matched by device and
    /// inode) minus its first PT_LOAD's page.
    static func loadBias(procfs: ProcFS, device: UInt64, inode: UInt64, firstLoad: UInt64) throws -> UInt64 {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & 0xffff_f000)
        let minor = (device & 0xff) | ((device >> 12) & 0xffff_ff00)
        let map = try procfs.memoryMap()
        var candidates = map.mappings(device: Self.twoHexDigits(major) + ":" + Self.twoHexDigits(minor), inode: inode)
        if candidates.isEmpty { candidates = map.mappings.filter { $0.inode == inode }.sorted { $0.start < $1.start } }
        guard let first = candidates.first(where: { $0.offset == 0 }) else {
            throw ProcessError.unreadable(pid: procfs.pid, what: "executable mapping in /proc/\(procfs.pid)/maps")
        }
        return first.start &- (firstLoad & ~0xfff)
    }

    /// As /proc/PID/maps prints a device number's halves: lower-case hex, at least two digits.
    static func twoHexDigits(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return digits.count < 2 ? "0" + digits : digits
    }
}

/// What the host scan learnt about each distinct executable file, keyed by device, inode, size
/// and modification time: twenty copies of one binary are analysed once, and a rebuilt file
/// (new mtime) again.
final class GoBinaryCache: @unchecked Sendable {
    struct Key: Hashable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modified: Int64
    }

    struct GoBinary {
        let buildInfo: BuildInfo
        /// allglen's link-time address.
        let allglen: UInt64
        let positionIndependent: Bool
        let firstLoad: UInt64
        /// Why allglen cannot be read (unsupported release, runtime not understood).
        let unreadable: String?
    }

    enum Binary {
        case notGo
        case go(GoBinary)
    }

    private let lock = ThreadLock()
    private var entries: [Key: Binary] = [:]
    private var used: Set<Key> = []
    /// Files being analysed now: a thread that meets one waits for that analysis instead of
    /// repeating it (twenty copies of one binary, four threads).
    private var analysing: [Key: DispatchGroup] = [:]

    func binary(_ key: Key, analyse: () -> Binary) -> Binary {
        while true {
            lock.lock()
            if let known = entries[key] {
                used.insert(key)
                lock.unlock()
                return known
            }
            if let pending = analysing[key] {
                lock.unlock()
                pending.wait()
                continue
            }
            let group = DispatchGroup()
            group.enter()
            analysing[key] = group
            lock.unlock()
            let result = analyse()
            lock.lock()
            entries[key] = result
            used.insert(key)
            analysing[key] = nil
            lock.unlock()
            group.leave()
            return result
        }
    }

    /// Drops the files no process ran since the last call (a long-running `serve` would
    /// otherwise keep every binary it ever saw).
    func forgetUnused() {
        lock.lock()
        entries = entries.filter { used.contains($0.key) }
        used.removeAll(keepingCapacity: true)
        lock.unlock()
    }
}
