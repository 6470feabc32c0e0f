#if canImport(Glibc)
import Glibc
#endif

/// Why gospy could not inspect a process. Each case carries what the message needs to name the
/// fix.
public enum ProcessError: Error, Equatable, CustomStringConvertible {
    case noSuchProcess(pid: Int32)
    case zombie(pid: Int32)
    case kernelThread(pid: Int32)
    /// Reading memory or attaching was refused; `reason` says which fix applies.
    case permissionDenied(pid: Int32, reason: PermissionReason)
    case alreadyTraced(pid: Int32, tracer: Int32, tracerName: String?)
    case exited(pid: Int32, during: String)
    case ptraceFailed(pid: Int32, tid: Int32, operation: String, errno: Int32)
    case stopTimedOut(pid: Int32, tids: [Int32])
    case unreadable(pid: Int32, what: String)

    public enum PermissionReason: Equatable, Sendable {
        case notRoot
        /// Yama's ptrace_scope at 3 (at 1 and 2 CAP_SYS_PTRACE suffices, so those are not it).
        case ptraceScope(Int)
        case container
        /// The target holds capabilities gospy lacks (named).
        case missingCapabilities([String])
        /// Refused although gospy has root and CAP_SYS_PTRACE.
        case other(errno: Int32)
    }

    public var description: String {
        switch self {
        case let .noSuchProcess(pid):
            return "no process with pid \(pid)"
        case let .zombie(pid):
            return "process \(pid) is a zombie (it has exited; its parent has not reaped it)"
        case let .kernelThread(pid):
            return "pid \(pid) is a kernel thread, not a Go program"
        case let .permissionDenied(pid, reason):
            switch reason {
            case .notRoot:
                return "no permission to read process \(pid): run gospy as root (sudo) or give it CAP_SYS_PTRACE (setcap cap_sys_ptrace+ep gospy)"
            case let .ptraceScope(scope):
                return "no permission to read process \(pid): kernel.yama.ptrace_scope is \(scope), which forbids ptrace to everyone until the next boot; boot with a lower setting"
            case let .missingCapabilities(names):
                return "no permission to read process \(pid): it holds capabilities gospy lacks (\(names.joined(separator: ", "))); run gospy with at least the target's capabilities, e.g. as full root on the host"
            case .container:
                return "no permission to read process \(pid): this container lacks CAP_SYS_PTRACE; run it with --cap-add SYS_PTRACE (Docker) or the SYS_PTRACE capability (Kubernetes securityContext)"
            case let .other(errno):
                return "no permission to read process \(pid) (\(String(cString: strerror(errno)))) although gospy has root and CAP_SYS_PTRACE: a security module (AppArmor, SELinux) or sandbox confines gospy or the target; run gospy outside that profile, on the host"
            }
        case let .alreadyTraced(pid, tracer, name):
            return "process \(pid) is already traced by pid \(tracer)\(name.map { " (\($0))" } ?? ""): detach that debugger first"
        case let .exited(pid, during):
            return "process \(pid) exited while gospy was \(during)"
        case let .ptraceFailed(pid, tid, operation, errno):
            return "\(operation) of thread \(tid) of process \(pid) failed: \(String(cString: strerror(errno)))"
        case let .stopTimedOut(pid, tids):
            return "threads \(tids.prefix(8).map(String.init).joined(separator: ", ")) of process \(pid) did not stop in time"
        case let .unreadable(pid, what):
            return "cannot read \(what) of process \(pid)"
        }
    }
}
