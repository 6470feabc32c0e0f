import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

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
            return UInt64(line.dropFirst(field.count + 1).trimmingWhitespace(), radix: 16)
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
            .flatMap { Int($0.trimmingWhitespace()) }
    }
}
