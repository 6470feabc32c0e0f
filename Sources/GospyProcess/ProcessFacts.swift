import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What /proc/PID/status and /proc/PID/cgroup say about a process, for `gospy ps`: no ptrace,
/// no memory reads.
public struct ProcessFacts: Sendable, Equatable {
    public let pid: Int32
    /// The pid inside the process's own (innermost) pid namespace, when it differs.
    public let namespacePID: Int32?
    public let uid: UInt32?
    public let threads: Int?
    public let rssBytes: UInt64?
    public let command: String
    /// A container or pod id from the cgroup path (docker, containerd, CRI-O, podman, kubepods).
    public let container: String?

    /// Parses the status file's lines (each "Name:\tvalue").
    public init(pid: Int32, status: String, cgroup: String?) {
        self.pid = pid
        var fields: [Substring: Substring] = [:]
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon]] = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
        }
        command = fields["Name"].map(String.init) ?? ""
        uid = fields["Uid"].flatMap { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).first }.flatMap { UInt32($0) }
        threads = fields["Threads"].flatMap { Int($0) }
        // "VmRSS:\t   1234 kB"; absent for kernel threads.
        rssBytes = fields["VmRSS"].flatMap { $0.split(separator: " ").first }.flatMap { UInt64($0) }
            .flatMap { $0.multipliedReportingOverflow(by: 1024).overflow ? nil : $0 * 1024 }
        // "NSpid:\t4242\t7": outermost first; the last is the innermost namespace's.
        let nspids = fields["NSpid"]?.split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { Int32($0) } ?? []
        namespacePID = nspids.count > 1 ? nspids.last : nil
        container = cgroup.flatMap(Self.containerID(cgroup:))
    }

    /// The container (or pod) a process runs in, from its cgroup lines ("0::/path", or
    /// "N:controllers:/path" on cgroup v1): the 64-hex id of a docker-, cri-containerd-,
    /// crio- or libpod- scope, or a plain 64-hex path component; else a kubepods pod uid.
    public static func containerID(cgroup: String) -> String? {
        var pod: String?
        for line in cgroup.split(separator: "\n") {
            guard let path = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).last else { continue }
            for component in path.split(separator: "/").reversed() {
                var name = Substring(component)
                if name.hasSuffix(".scope") { name = name.dropLast(".scope".count) }
                for prefix in ["docker-", "cri-containerd-", "crio-", "libpod-"] where name.hasPrefix(prefix) {
                    name = name.dropFirst(prefix.count)
                }
                if name.count == 64, name.allSatisfy(\.isHexDigit) { return String(name.prefix(12)) }
                // kubepods-burstable-pod1234_5678.slice or pod1234-5678
                if pod == nil, let range = name.firstRange(of: "pod") {
                    var uid = name[range.upperBound...]
                    if uid.hasSuffix(".slice") { uid = uid.dropLast(".slice".count) }
                    if uid.count >= 32, uid.allSatisfy({ $0.isHexDigit || $0 == "-" || $0 == "_" }) {
                        pod = "pod " + String(uid.map { $0 == "_" ? "-" : $0 })
                    }
                }
            }
        }
        return pod
    }

    /// Reads them from /proc; nil when the process is gone.
    public static func read(_ procfs: ProcFS) throws -> ProcessFacts {
        let status = try procfs.read("status")
        return ProcessFacts(pid: procfs.pid, status: status, cgroup: try? procfs.read("cgroup"))
    }

    /// A user name for a uid (the uid as text when the passwd database has none).
    public static func userName(_ uid: UInt32) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else {
            return String(uid)
        }
        return String(cString: name)
    }
}
