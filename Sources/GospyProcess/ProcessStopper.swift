import CGospyShims
import Dispatch
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Stops every thread of a process with PTRACE_SEIZE + PTRACE_INTERRUPT for a coherent snapshot
/// and lets them go again with PTRACE_DETACH, on every path: `resume()`, deinit, Ctrl-C,
/// SIGTERM, SIGHUP (see `EmergencyResume`). If gospy dies outright the kernel detaches the
/// threads and they run on.
public final class ProcessStopper: @unchecked Sendable {
    public struct Registers: Sendable, Equatable {
        public let pc: UInt64
        public let sp: UInt64
        public let bp: UInt64
        /// R14 holds the current g in Go code (ABIInternal, Go 1.17+).
        public let r14: UInt64
        public let fsBase: UInt64
    }

    public let pid: Int32
    private let tracer = TracerThread()
    private let procfs: ProcFS
    /// Stopped threads and the signal each was stopped with (re-delivered on detach).
    private var stopped: [Int32: Int32] = [:]
    private var stopStarted: DispatchTime?
    /// How long the target was stopped for, once resumed.
    public private(set) var stoppedDuration: Double?
    public private(set) var isStopped = false

    public init(pid: Int32) {
        self.pid = pid
        procfs = ProcFS(pid: pid)
    }

    deinit { resume() }

    /// The stopped thread ids.
    public var threads: [Int32] { stopped.keys.sorted() }

    /// Stops every thread, re-listing /proc/PID/task until no new thread appears.
    public func stop(timeout: TimeInterval = 3) throws {
        guard !isStopped else { return }
        EmergencyResume.register(self)
        do {
            try tracer.sync { try self.stopOnTracerThread(timeout: timeout) }
            isStopped = true
        } catch {
            resume()
            throw error
        }
    }

    private func stopOnTracerThread(timeout: TimeInterval) throws {
        stopStarted = .now()
        let deadline = Date().addingTimeInterval(timeout)
        var seized = Set<Int32>()
        var rounds = 0
        while true {
            rounds += 1
            let tids = try procfs.threadIDs()
            let fresh = tids.filter { !seized.contains($0) }
            if fresh.isEmpty { break }
            for tid in fresh {
                seized.insert(tid)
                if gospy_ptrace_seize(tid, 0) != 0 {
                    let code = errno
                    if code == ESRCH { continue }  // the thread exited meanwhile
                    if code == EPERM {
                        let tracer = procfs.tracerPID()
                        if tracer != 0 && tracer != getpid() {
                            let name = (try? ProcFS(pid: tracer).stat())?.comm
                            throw ProcessError.alreadyTraced(pid: pid, tracer: tracer, tracerName: name)
                        }
                        throw ProcessError.permissionDenied(pid: pid, reason: Permissions.diagnose(pid: pid, errno: code))
                    }
                    throw ProcessError.ptraceFailed(pid: pid, tid: tid, operation: "PTRACE_SEIZE", errno: code)
                }
                stopped[tid] = 0
                if gospy_ptrace_interrupt(tid) != 0, errno != ESRCH {
                    throw ProcessError.ptraceFailed(pid: pid, tid: tid, operation: "PTRACE_INTERRUPT", errno: errno)
                }
            }
            try waitForStops(Set(fresh).intersection(stopped.keys), deadline: deadline)
            if rounds > 1000 { break }
        }
        if stopped.isEmpty { throw ProcessError.exited(pid: pid, during: "stopping it") }
    }

    /// Stops only the given threads (those running goroutines: non-blocking sampling), for a
    /// read of their registers; `resume()` lets them go. Threads that exited meanwhile are
    /// left out; `threads` says which were stopped.
    public func stop(threads tids: [Int32], timeout: TimeInterval = 1) throws {
        guard !isStopped else { return }
        EmergencyResume.register(self)
        do {
            try tracer.sync {
                self.stopStarted = .now()
                var fresh = Set<Int32>()
                for tid in tids where self.stopped[tid] == nil {
                    if gospy_ptrace_seize(tid, 0) != 0 {
                        let code = errno
                        if code == ESRCH { continue }
                        if code == EPERM {
                            throw ProcessError.permissionDenied(pid: self.pid, reason: Permissions.diagnose(pid: self.pid, errno: code))
                        }
                        throw ProcessError.ptraceFailed(pid: self.pid, tid: tid, operation: "PTRACE_SEIZE", errno: code)
                    }
                    self.stopped[tid] = 0
                    fresh.insert(tid)
                    if gospy_ptrace_interrupt(tid) != 0, errno != ESRCH {
                        throw ProcessError.ptraceFailed(pid: self.pid, tid: tid, operation: "PTRACE_INTERRUPT", errno: errno)
                    }
                }
                try self.waitForStops(fresh, deadline: Date().addingTimeInterval(timeout))
            }
            isStopped = true
        } catch {
            resume()
            throw error
        }
    }

    /// Waits until each thread reports a stop (or exits).
    private func waitForStops(_ tids: Set<Int32>, deadline: Date) throws {
        var pending = tids
        var pause: useconds_t = 20
        while !pending.isEmpty {
            for tid in pending {
                var status: Int32 = 0
                let result = waitpid(tid, &status, WNOHANG | __WALL)
                if result == 0 { continue }
                pending.remove(tid)
                if result < 0 {
                    stopped[tid] = nil  // ECHILD: gone
                    continue
                }
                if status & 0x7f == 0x7f {  // WIFSTOPPED
                    let signal = (status >> 8) & 0xff
                    let event = status >> 16
                    // PTRACE_EVENT_STOP is our interrupt; a plain signal stop keeps its signal
                    // for re-delivery on detach.
                    stopped[tid] = (event == 0 && signal != SIGTRAP) ? signal : 0
                } else {
                    stopped[tid] = nil  // exited or killed
                }
            }
            if pending.isEmpty { break }
            // The target died meanwhile: its leader is reported only after every thread, so
            // do not wait for the deadline.
            if !procfs.exists || (try? procfs.stat())?.state == "Z" {
                throw ProcessError.exited(pid: pid, during: "stopping it")
            }
            for tid in pending where access("/proc/\(pid)/task/\(tid)", F_OK) != 0 {
                pending.remove(tid)
                stopped[tid] = nil
            }
            if Date() > deadline { throw ProcessError.stopTimedOut(pid: pid, tids: pending.sorted()) }
            usleep(pause)
            pause = min(pause * 2, 2000)
        }
    }

    /// A stopped thread's registers.
    public func registers(of tid: Int32) throws -> Registers {
        try tracer.sync {
            var raw = gospy_registers()
            guard gospy_ptrace_registers(tid, &raw) == 0 else {
                throw ProcessError.ptraceFailed(pid: self.pid, tid: tid, operation: "PTRACE_GETREGS", errno: errno)
            }
            return Registers(pc: raw.rip, sp: raw.rsp, bp: raw.rbp, r14: raw.r14, fsBase: raw.fs_base)
        }
    }

    /// Runs `body` with the whole target stopped, or only `threads`, and resumes it on every
    /// path out, errors included.
    public func whileStopped<T>(threads: [Int32]? = nil, _ body: () throws -> T) throws -> T {
        if let threads { try stop(threads: threads) } else { try stop() }
        defer { resume() }
        return try body()
    }

    /// Lets every thread run again. Safe to call more than once and from any thread.
    public func resume() {
        guard !stopped.isEmpty || isStopped else { return }
        _ = tracer.sync(timeout: 5) { self.detachAll() }
        EmergencyResume.unregister(self)
    }

    func detachAll() {
        for (tid, signal) in stopped {
            _ = gospy_ptrace_detach(tid, signal)
        }
        stopped.removeAll()
        if let started = stopStarted {
            stoppedDuration = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        }
        isStopped = false
    }

    /// Resume from a signal handler's thread: waits at most briefly for the tracer thread.
    func emergencyResume() {
        _ = tracer.sync(timeout: 2) { self.detachAll() }
    }
}
