import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What /proc says about a process: its executable, memory map, threads, start time and tracer.
public struct ProcFS: Sendable {
    public let pid: Int32
    let root: String

    public init(pid: Int32, root: String = "/proc") {
        self.pid = pid
        self.root = root
    }

    var directory: String { "\(root)/\(pid)" }

    /// The path through which the executable can be opened even if it was deleted or lives in
    /// another mount namespace.
    public var executablePath: String { "\(directory)/exe" }

    /// Where the executable's link points ("(deleted)" suffix and all), for display.
    public func executableLink() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(executablePath, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func read(_ name: String) throws -> String {
        let path = "\(directory)/\(name)"
        guard let data = FileManager.default.contents(atPath: path) else {
            if access(directory, F_OK) != 0 { throw ProcessError.noSuchProcess(pid: pid) }
            if errno == EACCES || errno == EPERM {
                throw ProcessError.permissionDenied(pid: pid, reason: Permissions.diagnose(pid: pid, errno: errno))
            }
            throw ProcessError.unreadable(pid: pid, what: path)
        }
        return String(decoding: data, as: UTF8.self)
    }

    public var exists: Bool { access(directory, F_OK) == 0 }

    /// Thread ids, from /proc/PID/task.
    public func threadIDs() throws -> [Int32] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/task") else {
            throw exists ? ProcessError.unreadable(pid: pid, what: "task list") : ProcessError.noSuchProcess(pid: pid)
        }
        return names.compactMap { Int32($0) }.sorted()
    }

    /// A /proc/PID/stat (or task stat) line, parsed.
    public struct Stat: Sendable, Equatable {
        public let comm: String
        public let state: Character
        public let flags: UInt64
        public let startTimeTicks: UInt64

        /// Parses "pid (comm) S ppid ...": comm may contain spaces and parentheses.
        public init?(parsing line: String) {
            guard let open = line.firstIndex(of: "("), let close = line.lastIndex(of: ")") else { return nil }
            comm = String(line[line.index(after: open)..<close])
            let rest = line[line.index(after: close)...].split(separator: " ")
            // rest[0] is state (field 3); flags is field 9; starttime field 22.
            guard rest.count >= 20, let state = rest[0].first,
                  let flags = UInt64(rest[6]), let start = UInt64(rest[19]) else { return nil }
            self.state = state
            self.flags = flags
            startTimeTicks = start
        }

        /// PF_KTHREAD.
        public var isKernelThread: Bool { flags & 0x0020_0000 != 0 }
    }

    public func stat() throws -> Stat {
        guard let stat = Stat(parsing: try read("stat")) else { throw ProcessError.unreadable(pid: pid, what: "stat") }
        return stat
    }

    public func threadStat(_ tid: Int32) -> Stat? {
        (try? read("task/\(tid)/stat")).flatMap(Stat.init(parsing:))
    }

    /// Seconds since the process started.
    public func uptime() -> Double? {
        guard let stat = try? stat(),
              let text = try? String(contentsOfFile: "\(root)/uptime", encoding: .utf8),
              let system = Double(text.split(separator: " ").first ?? "") else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return max(0, system - Double(stat.startTimeTicks) / ticks)
    }

    /// TracerPid from /proc/PID/status (0 when untraced).
    public func tracerPID() -> Int32 {
        guard let status = try? read("status") else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("TracerPid:") {
            return Int32(line.dropFirst("TracerPid:".count).trimmingWhitespace()) ?? 0
        }
        return 0
    }

    /// The mappings of /proc/PID/maps.
    public func memoryMap() throws -> MemoryMap {
        MemoryMap(parsing: try read("maps"))
    }
}
