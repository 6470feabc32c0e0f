import Foundation
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
            return Int32(line.dropFirst("TracerPid:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }

    /// The mappings of /proc/PID/maps.
    public func memoryMap() throws -> MemoryMap {
        MemoryMap(parsing: try read("maps"))
    }
}

/// /proc/PID/maps, parsed.
public struct MemoryMap: Sendable, Equatable {
    public struct Mapping: Sendable, Equatable {
        public let start: UInt64
        public let end: UInt64
        public let permissions: String
        public let offset: UInt64
        public let device: String
        public let inode: UInt64
        public let path: String

        public var isReadable: Bool { permissions.hasPrefix("r") }
        public var isExecutable: Bool { permissions.count >= 3 && Array(permissions)[2] == "x" }
    }

    public let mappings: [Mapping]

    public init(parsing text: String) {
        mappings = text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { return nil }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                  let offset = UInt64(fields[2], radix: 16), let inode = UInt64(fields[4]) else { return nil }
            let path = fields.count > 5 ? fields[5].trimmingCharacters(in: .whitespaces) : ""
            return Mapping(start: start, end: end, permissions: String(fields[1]), offset: offset,
                           device: String(fields[3]), inode: inode, path: path)
        }
    }

    /// The mappings of the file with this device and inode (the executable), by address.
    public func mappings(device: String, inode: UInt64) -> [Mapping] {
        mappings.filter { $0.inode == inode && $0.device == device }.sorted { $0.start < $1.start }
    }

    public func mapping(containing address: UInt64) -> Mapping? {
        mappings.first { address >= $0.start && address < $0.end }
    }
}

/// Diagnoses why access to a process was refused: root, capabilities, Yama, containers.
public enum Permissions {
    public static func diagnose(pid: Int32, errno code: Int32) -> ProcessError.PermissionReason {
        diagnose(euid: geteuid(), capabilities: capabilities("CapEff", of: "self"),
                 targetCapabilities: capabilities("CapPrm", of: String(pid)), ptraceScope: ptraceScope(), errno: code)
    }

    /// The decision, from what /proc says (kept apart so tests can feed it any situation).
    static func diagnose(euid: uid_t, capabilities: UInt64?, targetCapabilities: UInt64?,
                         ptraceScope: Int?, errno code: Int32) -> ProcessError.PermissionReason {
        let hasPtraceCap = capabilities.map { $0 & (1 << 19) != 0 } ?? false  // CAP_SYS_PTRACE = 19
        if euid != 0 && !hasPtraceCap { return .notRoot }
        if !hasPtraceCap { return .container }
        // Scope 3 forbids ptrace to everyone; at 1 and 2 CAP_SYS_PTRACE is enough.
        if let scope = ptraceScope, scope >= 3 { return .ptraceScope(scope) }
        // A target holding capabilities gospy lacks: some kernels refuse it even with
        // CAP_SYS_PTRACE (the kernel's own test is that the target's are a subset).
        if let ours = capabilities, let theirs = targetCapabilities, theirs & ~ours != 0 {
            return .missingCapabilities(capabilityNames(theirs & ~ours))
        }
        return .other(errno: code)
    }

    static func capabilities(_ field: String, of process: String) -> UInt64? {
        guard let status = try? String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return UInt64(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces), radix: 16)
        }
        return nil
    }

    /// linux/capability.h, by bit.
    static let capabilityNames = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ]

    static func capabilityNames(_ mask: UInt64) -> [String] {
        (0..<64).compactMap { bit in
            guard mask & (UInt64(1) << UInt64(bit)) != 0 else { return nil }
            return bit < capabilityNames.count ? capabilityNames[bit] : "capability \(bit)"
        }
    }

    static func ptraceScope() -> Int? {
        (try? String(contentsOfFile: "/proc/sys/kernel/yama/ptrace_scope", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}
