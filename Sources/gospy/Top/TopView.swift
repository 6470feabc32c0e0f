import GospyRuntime

/// What top shows, as lines of text: the same content on a terminal and in --plain mode.
struct TopView {
    struct Status {
        var pid: Int32
        var binary: String
        var goVersion: String
        var uptime: Double?
        var gomaxprocs: Int32
        var goroutineCounts: [String: Int]
        var total: Int
        var threads: [Character: Int]
        var snapshotSeconds: Double?
        var stoppedSeconds: Double?
        var interval: Double
        var paused: Bool
        var grouping: String
        var sort: TopModel.Sort
        var filter: String
        var error: String?
        var unreadable: Int
        /// The heap and GC figures of the last snapshot.
        var heap: HeapReport? = nil
    }

    static func header(_ s: Status, style: TerminalStyle) -> [String] {
        let uptime = s.uptime.map { "  uptime \(SummaryReport.duration($0))" } ?? ""
        var lines = [style.bold("gospy top") + " — pid \(s.pid)  \(s.binary)  \(s.goVersion)  GOMAXPROCS \(s.gomaxprocs)\(uptime)"]
        let states = SummaryReport.statusOrder.compactMap { name in s.goroutineCounts[name].map { "\($0) \(name)" } }.joined(separator: ", ")
        let threadTotal = s.threads.values.reduce(0, +)
        let threadStates = [("R", "running"), ("S", "sleeping"), ("D", "disk sleep"), ("t", "stopped"), ("T", "stopped"), ("Z", "zombie")]
            .compactMap { key, name in s.threads[Character(key)].map { "\($0) \(name)" } }.joined(separator: ", ")
        lines.append("Goroutines: \(s.total) total" + (states.isEmpty ? "" : " (\(states))") + "   Threads: \(threadTotal) total" + (threadStates.isEmpty ? "" : " (\(threadStates))"))
        var snapshot = "Snapshot: " + (s.snapshotSeconds.map { TextFormat.fixed($0 * 1000, decimals: 1) + " ms" } ?? "-")
        snapshot += s.stoppedSeconds.map { ", target stopped " + TextFormat.fixed($0 * 1000, decimals: 1) + " ms" } ?? ", not stopped"
        snapshot += "   every \(TextFormat.fixed(s.interval, decimals: 1))s   group by \(s.grouping)   sort by \(s.sort.rawValue)"
        if !s.filter.isEmpty { snapshot += "   filter \"\(s.filter)\"" }
        if s.paused { snapshot += "   " + style.yellow("PAUSED") }
        if let heap = s.heap { lines += [heap.heapLine, heap.gcLine] }
        lines.append(snapshot)
        if let error = s.error { lines.append(style.yellow("last snapshot failed: \(error) (retrying)")) }
        if s.unreadable > 0 { lines.append(style.yellow("\(s.unreadable) goroutines changed while being read")) }
        return lines
    }

    static func left(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func right(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    static func columns(style: TerminalStyle) -> String {
        style.bold(right("COUNT", 7) + " " + right("Δ", 6) + " " + right("ΔSTART", 7) + "  " + left("STATES", 28) + " "
                   + right("WAIT", 8) + "  LOCATION")
    }

    static func row(_ row: TopModel.Row, style: TerminalStyle) -> String {
        func signed(_ value: Int) -> String { value > 0 ? "+\(value)" : "\(value)" }
        let states = row.states.prefix(3).map { "\($0.count) \($0.state)" }.joined(separator: ", ")
        let wait = row.longestWaitSeconds.map { waitText($0) } ?? "-"
        let leak = row.growing ? style.yellow("  ▲ growing (possible leak)") : ""
        let line = right(String(row.count), 7) + " " + right(signed(row.changeSinceLast), 6) + " "
            + right(signed(row.changeSinceStart), 7) + "  " + left(String(states.prefix(28)), 28) + " " + right(wait, 8) + "  " + row.key
        return line + leak
    }

    static func waitText(_ seconds: Double) -> String {
        if seconds < 1 { return "<1s" }
        if seconds < 60 { return "\(Int(seconds))s" }
        if seconds < 3600 { return "\(Int(seconds / 60))m\(Int(seconds) % 60)s" }
        return "\(Int(seconds / 3600))h\(Int(seconds / 60) % 60)m"
    }

    static let help = [
        "Keys:",
        "  c  sort by count        d  sort by change      w  sort by longest wait   n  sort by name",
        "  /  filter (Enter to apply, Esc to clear)       g  next grouping (function, stack, state, object)",
        "  p  pause / resume       r  reset the baseline (ΔSTART)                   ?  this help   q  quit",
        "A row marked ▲ grew at each of the last refreshes: a possible goroutine leak.",
    ]
}
