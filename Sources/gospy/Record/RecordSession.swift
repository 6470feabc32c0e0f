import Dispatch
import Synchronization
import FoundationEssentials
import GospyInspector
import GospyOutput
import GospyProcess
import GospyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// One `gospy record` run: samples on a schedule, each goroutine's stack counted under its
/// state, the file written at the end (and every --flush), a progress line on stderr.
final class RecordSession {
    let command: RecordCommand
    let inspector: Inspector
    let output: RecordOutput
    let sampler: GoroutineSampler
    var profile: SampleProfile { sampler.profile }

    /// Sampling rounds that started more than one interval late, and that failed outright.
    private(set) var behind = 0
    private(set) var failedSamples = 0
    /// Goroutines left out of a sample because they changed while their stack was read.
    var inconsistent: Int { sampler.inconsistent }
    private var lastFailure: String?
    /// Running goroutines walked from perf samples, and those whose threads were stopped instead.
    var perfSampled: Int { sampler.perfSampled }
    var stoppedForRegisters: Int { sampler.stoppedForRegisters }
    /// The perf events on the target's threads, unless --blocking, --no-perf or not allowed.
    private var perf: PerfSampler?
    /// Set from the signal thread on Ctrl-C.
    private let interrupted = Atomic()

    init(command: RecordCommand, inspector: Inspector, output: RecordOutput) {
        self.command = command
        self.inspector = inspector
        self.output = output
        sampler = GoroutineSampler(inspector: inspector, settings: .init(
            blocking: command.blocking, state: command.state, all: command.systemGoroutines.included, goroutines: command.goroutines, labels: command.labels))
    }

    func run() throws {
        EmergencyResume.onNextInterrupt { [interrupted] _ in interrupted.set() }
        let terminal = isatty(STDERR_FILENO) == 1
        let progress = command.progress || (!command.noProgress && terminal)
        startPerfEvents()
        defer { perf?.close() }
        var lastRescan = DispatchTime.now().uptimeNanoseconds
        let interval = 1 / command.rate
        let started = DispatchTime.now()
        profile.startNanos = Self.unixNanos()
        var next = started.uptimeNanoseconds
        var lastProgress = started.uptimeNanoseconds
        var lastFlush = started.uptimeNanoseconds
        var exited: ProcessError?
        while !interrupted.isSet {
            let now = DispatchTime.now().uptimeNanoseconds
            if let duration = command.duration, Double(now - started.uptimeNanoseconds) / 1e9 >= duration { break }
            do {
                try sample()
            } catch {
                if let gone = exitError(error) {
                    exited = gone
                    break
                }
                failedSamples += 1
                lastFailure = Diagnosis.describe(error).message
            }
            profile.durationNanos = Int64(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds)
            // The next sample is due about one interval after this one was: drawn from
            // [0.5, 1.5) intervals so that samples cannot lock onto a periodic workload (at
            // exactly 100/s, a 20 ms loop would be seen at two phases only). A late sample
            // counts as behind, and the schedule restarts from it rather than bursting.
            next += UInt64(interval * Double.random(in: 0.5..<1.5) * 1e9)
            let after = DispatchTime.now().uptimeNanoseconds
            if after > next {
                if after > next + UInt64(interval * 1e9) { behind += 1 }
                // Late: not at once either, but after a random part of an interval, so the
                // next sample does not land just after this one's end (for --blocking, just
                // after the target resumed) every time.
                next = after + UInt64(interval * Double.random(in: 0..<1) * 1e9)
            }
            if progress, after - lastProgress >= 250_000_000 {
                Output.error(terminal ? "\r\u{1b}[K" + statusLine() : "gospy: " + statusLine() + "\n")
                lastProgress = after
            }
            if let perf, after - lastRescan >= 1_000_000_000 {
                // Threads created since get events; those gone release theirs.
                if let threads = try? inspector.procfs.threadIDs() {
                    perf.forget(except: Set(threads))
                    perf.watch(threads)
                }
                lastRescan = after
            }
            if let flush = command.flush, Double(after - lastFlush) / 1e9 >= flush {
                try? write()
                lastFlush = after
            }
            if next > after { Self.sleep(nanoseconds: next - after, unless: interrupted) }
        }
        profile.durationNanos = Int64(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds)
        if progress && terminal { Output.error("\r\u{1b}[K") }
        perf?.close()
        if !command.blocking { profile.notes.append(runningNote) }
        if let exited {
            profile.notes.append("process \(inspector.pid) exited after \(TextFormat.fixed(Double(profile.durationNanos) / 1e9, decimals: 1)) s of recording")
            _ = exited
        }
        try write()
        Output.error("gospy: wrote \(output.path) (\(command.format.rawValue)): " + statusLine() + "\n")
        if let lastFailure, failedSamples > 0 { Output.error("gospy: last failed sample: \(lastFailure)\n") }
        if let exited {
            Output.error("gospy: \(exited.description); the file holds the samples taken until then\n")
            Glibc.exit(ExitStatus.processExited.rawValue)
        }
    }

    /// Opens perf events on every thread of the target, or says once why running goroutines
    /// will be read by stopping their threads instead.
    private func startPerfEvents() {
        guard !command.blocking else { return }
        guard !command.noPerf else {
            perfUnavailable = "--no-perf"
            return
        }
        let interval = 1 / command.rate
        // Four samples per record interval of a busy thread's CPU time (at most 1000/s). A
        // thread's newest sample counts if at most four intervals old by the clock: a thread
        // the machine starves of CPU takes longer to use up a period, but then it has not
        // moved on either (the sample must still be in its goroutine's stack, see below).
        let sampler = PerfSampler(pid: inspector.pid, periodNanos: UInt64(max(0.001, interval / 4) * 1e9))
        sampler.watch((try? inspector.procfs.threadIDs()) ?? [])
        if let reason = sampler.unavailable {
            sampler.close()
            perfUnavailable = reason
            Output.error("gospy: perf events are not available: \(reason); running goroutines are read by stopping their threads briefly instead\n")
            return
        }
        inspector.perfSampler = sampler
        inspector.perfMaxAgeNanos = UInt64(min(1, max(0.05, 4 * interval)) * 1e9)
        perf = sampler
    }

    /// Why perf events are not used (nil: they are, or --blocking).
    private(set) var perfUnavailable: String?

    /// How running goroutines were read, for the output's notes.
    var runningNote: String {
        if let perfUnavailable {
            return "running goroutines read by brief stops of their threads (no perf events: \(perfUnavailable))"
        }
        return "running goroutines: \(perfSampled) walked from perf event samples, \(stoppedForRegisters) by brief stops of their threads"
    }

    /// "Samples: N (R/s), behind: B, errors: E", py-spy style, with the elapsed time.
    func statusLine() -> String {
        let seconds = Double(profile.durationNanos) / 1e9
        let achieved = seconds > 0 ? Double(profile.samples) / seconds : 0
        return "\(TextFormat.fixed(seconds, decimals: 1)) s, samples: \(profile.samples) (\(TextFormat.fixed(achieved, decimals: 1))/s of "
            + "\(TextFormat.fixed(command.rate, decimals: 0))/s), behind: \(behind), errors: \(failedSamples + inconsistent) "
            + "(\(failedSamples) failed samples, \(inconsistent) goroutines changed while read), goroutine stacks: \(profile.stackCount)"
            + (command.blocking ? "" : perf != nil
                ? ", running goroutines from perf samples: \(perfSampled), from thread stops: \(stoppedForRegisters)"
                : ", running goroutines from thread stops: \(stoppedForRegisters) (no perf events)")
            + (command.blocking ? "" : ", goroutines re-read: \(sampler.reread) of \(sampler.compared) compared")
    }

    private func exitError(_ error: Error) -> ProcessError? {
        if let error = error as? ProcessError, case .exited = error { return error }
        if !inspector.procfs.exists || (try? inspector.procfs.stat())?.state == "Z" {
            return .exited(pid: inspector.pid, during: "recording it")
        }
        return nil
    }

    /// One round of samples.
    func sample() throws {
        try sampler.sample()
    }

    func write() throws {
        let seconds = Double(profile.durationNanos) / 1e9
        let title = "gospy record --pid \(inspector.pid) (\(inspector.executableName), \(inspector.image.executable.buildInfo.goVersion))"
        let rate = seconds > 0 ? Double(profile.samples) / seconds : 0
        let subtitle = "\(profile.samples) samples in \(TextFormat.fixed(seconds, decimals: 1)) s at \(TextFormat.fixed(rate, decimals: 1))/s "
            + "(\(command.blocking ? "blocking" : "non-blocking")), \(profile.stackCount) goroutine stacks, state \(command.state.rawValue)"
        let bytes = try output.render(profile, title: title, subtitle: subtitle, rate: command.rate, inspector: inspector)
        try output.write(bytes)
    }

    static func unixNanos() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// Sleeps in short steps so that Ctrl-C ends the recording promptly.
    static func sleep(nanoseconds: UInt64, unless flag: Atomic) {
        var left = nanoseconds
        while left > 0, !flag.isSet {
            let step = min(left, 50_000_000)
            var request = timespec(tv_sec: 0, tv_nsec: Int(step))
            nanosleep(&request, nil)
            left -= step
        }
    }
}

/// A flag set from another thread (the signal thread).
final class Atomic: @unchecked Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
