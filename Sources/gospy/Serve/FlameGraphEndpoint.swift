import Dispatch
import FoundationEssentials
import GospyInspector
import GospyOutput
import GospyProcess
#if canImport(Glibc)
import Glibc
#endif

/// `/pid/N/flamegraph?seconds=S`: records the process for S seconds (default 5, at most 60) as
/// `gospy record` does, and answers the interactive SVG flame graph. Always non-blocking
/// (only threads running goroutines are stopped, briefly, for their registers: a scraper or a
/// browser cannot make gospy stop a whole process 100 times a second), with an inspector of
/// its own, on a thread of its own; one recording per process at a time, others get 429.
enum FlameGraphEndpoint {
    static let defaultSeconds = 5
    static let maxSeconds = PprofEndpoint.maxSeconds
    /// `gospy record`'s default rate.
    static let rate = 100.0

    static func parse(_ items: [(name: String, value: String)]) -> Result<Int, ServeFailure> {
        var seconds = defaultSeconds
        for item in items {
            guard item.name == "seconds" else {
                return .failure(ServeFailure(status: 400, message: "unknown query parameter \(item.name.prefix(40).debugDescription) (seconds is)"))
            }
            guard let value = Int(item.value), value > 0 else {
                return .failure(ServeFailure(status: 400, message: "seconds must be a positive whole number, not \(item.value.prefix(40).debugDescription)"))
            }
            guard value <= maxSeconds else {
                return .failure(ServeFailure(status: 400, message: "recording \(value)s exceeds gospy serve's limit of \(maxSeconds)s"))
            }
            seconds = value
        }
        return .success(seconds)
    }

    static func respond(_ process: ServedProcess, seconds: Int) async -> ServeResponse {
        guard process.beginRecording() else {
            var response = ServeResponse.failure(ServeFailure(status: 429, message: "process \(process.pid) is already being recorded; retry when that recording ends"))
            response.headers.append(("Retry-After", String(seconds)))
            return response
        }
        let queue = DispatchQueue(label: "gospy.serve.record.pid\(process.pid)")
        let result: Result<[UInt8], ServeFailure> = await withCheckedContinuation { continuation in
            queue.async {
                let result = record(process, seconds: Double(seconds))
                process.endRecording()
                continuation.resume(returning: result)
            }
        }
        switch result {
        case let .success(svg):
            return ServeResponse(status: 200, contentType: "image/svg+xml", body: Data(svg),
                                 headers: [("X-Content-Type-Options", "nosniff")])
        case let .failure(failure):
            return .failure(failure)
        }
    }

    /// Samples at `rate` (each interval drawn from [0.5, 1.5) of the nominal one, as record
    /// does, so samples cannot lock onto a periodic workload) until `seconds` have passed or
    /// the process exits.
    static func record(_ process: ServedProcess, seconds: Double) -> Result<[UInt8], ServeFailure> {
        let inspector: Inspector
        do {
            guard let stat = try? ProcFS(pid: process.pid).stat(), stat.startTimeTicks == process.startTicks else {
                throw ProcessError.exited(pid: process.pid, during: "being served")
            }
            inspector = try Inspector(pid: process.pid)
        } catch {
            return .failure(ServedProcess.failure(for: error, pid: process.pid))
        }
        let sampler = GoroutineSampler(inspector: inspector, settings: .init())
        let profile = sampler.profile
        let interval = 1 / rate
        let started = DispatchTime.now().uptimeNanoseconds
        let end = started + UInt64(seconds * 1e9)
        profile.startNanos = RecordSession.unixNanos()
        var next = started
        var failed = 0
        var lastFailure: Error?
        var exited = false
        while DispatchTime.now().uptimeNanoseconds < end {
            do {
                try sampler.sample()
            } catch {
                let procfs = ProcFS(pid: process.pid)
                if !procfs.exists || (try? procfs.stat())?.state == "Z" {
                    exited = true
                    break
                }
                failed += 1
                lastFailure = error
            }
            profile.durationNanos = Int64(DispatchTime.now().uptimeNanoseconds - started)
            next += UInt64(interval * Double.random(in: 0.5..<1.5) * 1e9)
            let now = DispatchTime.now().uptimeNanoseconds
            if now > next { next = now + UInt64(interval * Double.random(in: 0..<1) * 1e9) }
            let wake = min(next, end)
            if wake > now {
                var request = timespec(tv_sec: Int((wake - now) / 1_000_000_000), tv_nsec: Int((wake - now) % 1_000_000_000))
                nanosleep(&request, nil)
            }
        }
        profile.durationNanos = Int64(DispatchTime.now().uptimeNanoseconds - started)
        guard profile.samples > 0 else {
            if exited { return .failure(ServeFailure(status: 404, message: "process \(process.pid) exited")) }
            let reason = lastFailure.map { Diagnosis.describe($0).message } ?? "no sample taken"
            return .failure(ServeFailure(status: 500, message: "no sample of process \(process.pid): \(reason)"))
        }
        let elapsed = Double(profile.durationNanos) / 1e9
        if exited { profile.notes.append("process \(process.pid) exited after \(TextFormat.fixed(elapsed, decimals: 1)) s of recording") }
        if failed > 0 { profile.notes.append("\(failed) samples failed") }
        let achieved = elapsed > 0 ? Double(profile.samples) / elapsed : 0
        let title = "gospy serve: pid \(process.pid) (\(inspector.executableName), \(inspector.image.executable.buildInfo.goVersion))"
        var subtitle = "\(profile.samples) samples in \(TextFormat.fixed(elapsed, decimals: 1)) s at \(TextFormat.fixed(achieved, decimals: 1))/s "
            + "(non-blocking), \(profile.stackCount) goroutine stacks, state all"
        if !profile.notes.isEmpty { subtitle += " — " + profile.notes.joined(separator: "; ") }
        return .success(Array(FlameGraphWriter.render(profile, options: .init(title: title, subtitle: subtitle)).utf8))
    }
}
