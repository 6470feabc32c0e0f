import FoundationEssentials
import GospyMemory
import GospyProcess
import GospyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Inspects one live Go process: finds its executable and load bias, then takes snapshots,
/// stopping the process around each read unless asked not to.
public final class Inspector: @unchecked Sendable {
    public let pid: Int32
    public let procfs: ProcFS
    /// What /proc/PID/exe points at (for display; may end in " (deleted)").
    public let executableName: String
    /// The file analysed: /proc/PID/exe, or --bin.
    public let binaryPath: String
    public let image: RuntimeImage
    public let symbolizer: Symbolizer
    public let memory: LiveMemoryReader
    /// Stops and resumes the target for every snapshot: one tracer thread for the life of
    /// the inspector, however many snapshots it takes.
    let stopper: ProcessStopper
    /// The last snapshot's goroutines and walked stacks, kept by `capture(incremental:)` so
    /// the next one re-reads and re-walks only goroutines that changed.
    var baseline: Baseline?
    /// The same for non-blocking captures: each parked goroutine's stack, by g address.
    var liveBaseline: [UInt64: (extent: StackExtent, stack: UnwoundStack)]?
    /// Non-blocking captures with stacks stop the threads running goroutines, briefly, for
    /// their registers, and void stacks that changed while read (record); otherwise they never
    /// stop anything and read running goroutines from their saved state (dump, top).
    public var samplesRunningThreads = false
    /// The overall time each snapshot may take (see `SnapshotDeadline`).
    public var deadlineSeconds = SnapshotDeadline.defaultSeconds
    /// The deadline of the capture under way.
    var activeDeadline: SnapshotDeadline?

    /// A stack collector bound to the capture under way's deadline.
    func stackCollector() -> StackCollector {
        StackCollector(symbolizer: symbolizer, memory: memory, deadline: activeDeadline)
    }
    /// With `samplesRunningThreads`: perf events on the target's threads. A running goroutine
    /// whose thread's newest sample is recent (`perfMaxAgeNanos`) and in its own Go code is
    /// walked from that sample, without stopping anything; the others' threads are stopped
    /// briefly as without perf events.
    public var perfSampler: PerfSampler?
    public var perfMaxAgeNanos: UInt64 = 20_000_000

    public init(pid: Int32, binary: String? = nil) throws {
        self.pid = pid
        procfs = ProcFS(pid: pid)
        guard procfs.exists else { throw ProcessError.noSuchProcess(pid: pid) }
        let stat = try procfs.stat()
        if stat.state == "Z" || stat.state == "X" { throw ProcessError.zombie(pid: pid) }
        if stat.isKernelThread { throw ProcessError.kernelThread(pid: pid) }
        executableName = procfs.executableLink() ?? procfs.executablePath

        // The running executable, read through /proc/PID/exe (works across mount namespaces
        // and after the file was deleted or replaced).
        let exePath = procfs.executablePath
        if access(exePath, R_OK) != 0 && (errno == EACCES || errno == EPERM) {
            throw ProcessError.permissionDenied(pid: pid, reason: Permissions.diagnose(pid: pid, errno: errno))
        }
        let running: GoExecutable
        do {
            running = try GoExecutable(path: exePath)
        } catch BinaryError.notGo, BinaryError.pclntabNotFound, BinaryError.notELF {
            throw InspectorError.notGoProcess(pid: pid, executable: executableName)
        }
        let analysed: GoExecutable
        if let binary {
            analysed = try GoExecutable(path: binary)
            try Self.checkSameBuild(running: running, given: analysed, path: binary)
            binaryPath = binary
        } else {
            analysed = running
            binaryPath = exePath
        }
        let bias = try Self.loadBias(procfs: procfs, executable: running)
        image = try RuntimeImage(executable: analysed, loadBias: bias)
        symbolizer = Symbolizer(image: image)
        memory = LiveMemoryReader(pid: pid)
        stopper = ProcessStopper(pid: pid)
        try checkReadable()
    }

    /// --bin must be the same build: same Go build id (or GNU build id), same Go version.
    static func checkSameBuild(running: GoExecutable, given: GoExecutable, path: String) throws {
        guard running.buildInfo.goVersion == given.buildInfo.goVersion else {
            throw InspectorError.wrongBinary(path: path, reason: "built with \(given.buildInfo.goVersion), the process runs \(running.buildInfo.goVersion)")
        }
        if let a = running.elf.goBuildID, let b = given.elf.goBuildID, a != b {
            throw InspectorError.wrongBinary(path: path, reason: "Go build id \(b) differs from the running binary's \(a)")
        }
        if let a = running.elf.gnuBuildID, let b = given.elf.gnuBuildID, a != b {
            throw InspectorError.wrongBinary(path: path, reason: "GNU build id \(b) differs from the running binary's \(a)")
        }
        guard running.pclntab.functionCount == given.pclntab.functionCount,
              running.moduleData.text == given.moduleData.text else {
            throw InspectorError.wrongBinary(path: path, reason: "its code differs from the running binary's")
        }
    }

    /// At least two lowercase hex digits, as "%02x" prints (the kernel's maps format).
    private static func hex2(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return digits.count < 2 ? "0" + digits : digits
    }

    /// PIE load bias: where the executable's file-offset-0 mapping starts, minus the first
    /// PT_LOAD's page-aligned address. Mappings are matched by device and inode, since the
    /// path may read "(deleted)".
    static func loadBias(procfs: ProcFS, executable: GoExecutable) throws -> UInt64 {
        guard executable.elf.isPositionIndependent else { return 0 }
        var info = stat()
        guard stat(procfs.executablePath, &info) == 0 else {
            throw ProcessError.unreadable(pid: procfs.pid, what: "executable")
        }
        // glibc's dev_t encoding (gnu_dev_major/minor), printed as /proc/PID/maps prints it.
        let dev = UInt64(info.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000)
        let minor = (dev & 0xff) | ((dev >> 12) & 0xffff_ff00)
        let device = Self.hex2(major) + ":" + Self.hex2(minor)
        let map = try procfs.memoryMap()
        var candidates = map.mappings(device: device, inode: UInt64(info.st_ino))
        if candidates.isEmpty {
            candidates = map.mappings.filter { $0.inode == UInt64(info.st_ino) }.sorted { $0.start < $1.start }
        }
        guard let first = candidates.first(where: { $0.offset == 0 }),
              let firstLoad = executable.elf.segments.filter(\.isLoad).map(\.virtualAddress).min() else {
            throw ProcessError.unreadable(pid: procfs.pid, what: "executable mapping in /proc/\(procfs.pid)/maps")
        }
        return first.start &- (firstLoad & ~0xfff)
    }

    /// One read of a runtime global, to turn a permission problem into a clear error now.
    private func checkReadable() throws {
        let address = try image.address(of: .allglen)
        do {
            _ = try memory.fetch(UInt64.self, from: address)
        } catch let error as MemoryReadError {
            throw mapReadError(error, during: "reading its memory")
        }
    }

    func mapReadError(_ error: Error, during: String) -> Error {
        guard let error = error as? MemoryReadError else { return error }
        if case let .systemError(_, _, code) = error {
            if code == ESRCH || !procfs.exists { return ProcessError.exited(pid: pid, during: during) }
            if code == EPERM || code == EACCES {
                return ProcessError.permissionDenied(pid: pid, reason: Permissions.diagnose(pid: pid, errno: code))
            }
        }
        if !procfs.exists { return ProcessError.exited(pid: pid, during: during) }
        return error
    }

    /// Thread states from /proc/PID/task/*/stat.
    public func threadStates() -> [Character: Int] {
        var counts: [Character: Int] = [:]
        for tid in (try? procfs.threadIDs()) ?? [] {
            if let stat = procfs.threadStat(tid) { counts[stat.state, default: 0] += 1 }
        }
        return counts
    }
}

public enum InspectorError: Error, Equatable, CustomStringConvertible {
    case notGoProcess(pid: Int32, executable: String)
    case wrongBinary(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notGoProcess(pid, executable):
            return "process \(pid) (\(executable)) is not a Go program"
        case let .wrongBinary(path, reason):
            return "--bin \(path) is not the binary the process runs: \(reason); pass the exact build or drop --bin"
        }
    }
}
