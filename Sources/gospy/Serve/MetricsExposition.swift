import FoundationEssentials

/// The Prometheus exposition of `gospy serve`: text format 0.0.4, or OpenMetrics 1.0.0 when the
/// scraper asks for it. Written directly (a few dozen lines) rather than through
/// swift-prometheus: these are per-scrape constant metrics of processes that come and go, not
/// counters a program registers once. Labels stay bounded: pid, executable, state (and the Go
/// version on the info metric); never a goroutine or a stack.
struct MetricsExposition {
    enum Kind: String { case gauge, counter }

    struct Family {
        let name: String
        let kind: Kind
        let help: String
        var samples: [(labels: [(String, String)], value: Double)] = []
    }

    /// One process's figures, from its cached snapshot (or none: `up` 0).
    struct ProcessFigures {
        let pid: Int32
        let executable: String
        let goVersion: String?
        let up: Bool
        let goroutinesByState: [String: Int]
        let unreadableGoroutines: Int
        let threads: Int?
        let snapshotSeconds: Double?
        let pauseSeconds: Double?
        let snapshotAgeSeconds: Double?
        let snapshots: Int
        let errors: Int
    }

    static let openMetricsType = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    static let textType = "text/plain; version=0.0.4; charset=utf-8"

    /// OpenMetrics when the Accept header names it, as Prometheus's does when it prefers it.
    static func wantsOpenMetrics(accept: String?) -> Bool {
        accept?.contains("application/openmetrics-text") ?? false
    }

    static func families(_ processes: [ProcessFigures], intervalSeconds: Double) -> [Family] {
        var up = Family(name: "gospy_target_up", kind: .gauge, help: "1 when gospy's last snapshot of the process succeeded, 0 when it failed or the process exited.")
        var info = Family(name: "gospy_target_info", kind: .gauge, help: "The Go version of each served process (value 1).")
        var goroutines = Family(name: "gospy_goroutines", kind: .gauge, help: "Goroutines by state, from gospy's snapshot (cached up to \(intervalSeconds) s, so scrapes cannot load the target).")
        var unreadable = Family(name: "gospy_goroutines_unreadable", kind: .gauge, help: "Goroutines that changed while being read without stopping and are not counted by state.")
        var threads = Family(name: "gospy_threads", kind: .gauge, help: "OS threads of the process.")
        var duration = Family(name: "gospy_snapshot_duration_seconds", kind: .gauge, help: "How long the last snapshot took.")
        var pause = Family(name: "gospy_snapshot_pause_seconds", kind: .gauge, help: "How long the last snapshot stopped the process (0: read without stopping).")
        var age = Family(name: "gospy_snapshot_age_seconds", kind: .gauge, help: "Age of the snapshot these figures come from.")
        var taken = Family(name: "gospy_snapshots", kind: .counter, help: "Snapshots taken of the process.")
        var errors = Family(name: "gospy_snapshot_errors", kind: .counter, help: "Snapshots of the process that failed.")
        for process in processes {
            let base = [("pid", String(process.pid)), ("executable", process.executable)]
            up.samples.append((base, process.up ? 1 : 0))
            if let version = process.goVersion { info.samples.append((base + [("go_version", version)], 1)) }
            taken.samples.append((base, Double(process.snapshots)))
            errors.samples.append((base, Double(process.errors)))
            guard process.up else { continue }
            for state in process.goroutinesByState.keys.sorted() {
                goroutines.samples.append((base + [("state", state)], Double(process.goroutinesByState[state] ?? 0)))
            }
            unreadable.samples.append((base, Double(process.unreadableGoroutines)))
            if let value = process.threads { threads.samples.append((base, Double(value))) }
            if let value = process.snapshotSeconds { duration.samples.append((base, value)) }
            if let value = process.pauseSeconds { pause.samples.append((base, value)) }
            if let value = process.snapshotAgeSeconds { age.samples.append((base, value)) }
        }
        return [up, info, goroutines, unreadable, threads, duration, pause, age, taken, errors]
    }

    static func render(_ families: [Family], openMetrics: Bool) -> String {
        var out = ""
        for family in families {
            // Counters' samples end in _total. OpenMetrics names the family without it; the
            // 0.0.4 text format has no such distinction and declares the sample's own name.
            let sampleName = family.kind == .counter ? family.name + "_total" : family.name
            let declared = openMetrics ? family.name : sampleName
            out += "# HELP \(declared) \(escapeHelp(family.help))\n"
            out += "# TYPE \(declared) \(family.kind.rawValue)\n"
            for sample in family.samples {
                let labels = sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",")
                out += sampleName + (labels.isEmpty ? "" : "{\(labels)}") + " " + format(sample.value) + "\n"
            }
        }
        if openMetrics { out += "# EOF\n" }
        return out
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func escapeLabel(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
            .replacing("\n", with: "\\n")
    }

    static func escapeHelp(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }
}
