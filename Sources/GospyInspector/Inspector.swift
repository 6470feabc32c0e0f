import Foundation
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
        let device = String(format: "%02x:%02x", major, minor)
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

    public struct Capture: Sendable {
        public let snapshot: RuntimeSnapshot
        /// Each goroutine's stack, in `snapshot.goroutines` order, when stacks were asked for.
        public let stacks: [UnwoundStack]?
        /// Thread states read before the stop (while stopped they would all read "t").
        public let threadStates: [Character: Int]
        /// How long the target was stopped (nil in non-blocking mode).
        public let stoppedSeconds: Double?
        /// How long the whole capture took.
        public let elapsedSeconds: Double
    }

    /// Takes one snapshot. Blocking: every thread stopped for the read, resumed on every path.
    /// `arguments` (with `stacks`) also reads each frame's argument words, for tracebacks.
    public func capture(blocking: Bool = true, holdStopped: Double = 0, stacks wantStacks: Bool = false,
                        arguments: Bool = false) throws -> Capture {
        let started = DispatchTime.now()
        let states = threadStates()
        var stopped: Double?
        var snapshot: RuntimeSnapshot?
        var stacks: [UnwoundStack]?
        do {
            if blocking {
                let reader = SnapshotReader(image: image, memory: memory)
                if let bytes = reader.expectedGatherBytes() { memory.reserve(bytes: bytes) }
                let stopper = ProcessStopper(pid: pid)
                try stopper.stop()
                do {
                    if holdStopped > 0 { Thread.sleep(forTimeInterval: holdStopped) }
                    let raw = try reader.collect(consistent: true)
                    var captured: StackCollector.CapturedStacks?
                    if wantStacks {
                        // Stack bytes must be read while the target is stopped: only where the
                        // stacks are is decoded now; the rest and the walks wait until it runs.
                        captured = captureStacks(try reader.stackExtents(raw), machines: raw.machines, stopper: stopper)
                    }
                    stopper.resume()
                    stopped = stopper.stoppedDuration
                    let decoded = try reader.decode(raw)
                    snapshot = decoded
                    if let captured {
                        stacks = StackCollector(symbolizer: symbolizer, memory: memory)
                            .unwind(decoded.goroutines, captured, arguments: arguments)
                    }
                } catch {
                    stopper.resume()
                    throw error
                }
            } else {
                let decoded = try SnapshotReader(image: image, memory: memory).read(consistent: false)
                snapshot = decoded
                if wantStacks {
                    stacks = collectStacks(decoded.goroutines, machines: decoded.machines, stopper: nil, arguments: arguments)
                }
            }
        } catch {
            throw mapReadError(error, during: "reading its memory")
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        guard let snapshot else { throw ProcessError.unreadable(pid: pid, what: "runtime state") }
        return Capture(snapshot: snapshot, stacks: stacks, threadStates: states, stoppedSeconds: stopped, elapsedSeconds: elapsed)
    }
}

extension Inspector {
    /// Reads every goroutine's used stack; when the target is stopped, running goroutines
    /// start from their thread's registers, or from the VDSO call their thread is in.
    func captureStacks(_ extents: [StackExtent], machines: [Machine], stopper: ProcessStopper?) -> StackCollector.CapturedStacks {
        var byAddress: [UInt64: Machine] = [:]
        for machine in machines { byAddress[machine.address] = machine }
        let collector = StackCollector(symbolizer: symbolizer, memory: memory)
        return collector.capture(extents) { goroutine in
            // Threads say where a goroutine is only while the target is stopped.
            guard let stopper, goroutine.m != 0, let machine = byAddress[goroutine.m] else { return nil }
            var context = StackCollector.ThreadContext()
            if machine.vdsoSP != 0 { context.vdso = (machine.vdsoPC, machine.vdsoSP) }
            if goroutine.status == .running {
                context.registers = (try? stopper.registers(of: Int32(truncatingIfNeeded: machine.threadID))).map { ($0.pc, $0.sp) }
            }
            return context
        }
    }

    /// Captures and walks in one go (non-blocking reads).
    func collectStacks(_ goroutines: [Goroutine], machines: [Machine], stopper: ProcessStopper?,
                       arguments: Bool = false) -> [UnwoundStack] {
        StackCollector(symbolizer: symbolizer, memory: memory)
            .unwind(goroutines, captureStacks(goroutines.map(\.stackExtent), machines: machines, stopper: stopper),
                    arguments: arguments)
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
