import FoundationEssentials
import GospyInspector
import GospyOutput
import GospyRuntime

/// The small server-rendered web page of `gospy serve`: the processes, then for one process its
/// goroutines grouped by stack. Plain HTML and CSS, no JavaScript.
enum WebPage {
    static let style = """
    body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
    th,td{padding:.25em .7em;text-align:left;border-bottom:1px solid #ddd;vertical-align:top}
    th{background:#f3f3f3}td.n{text-align:right}pre{margin:.3em 0;font-size:90%}.problem{color:#a00}
    a{color:#0645ad}.group{margin:1em 0;padding:.5em;border:1px solid #ddd}.count{font-weight:bold}
    """

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title><style>\(style)</style></head>
        <body>
        \(body)
        </body></html>

        """
    }

    static func processList(_ processes: [HostProcess], interval: Double) -> String {
        var body = "<h1>gospy: Go processes</h1>\n"
        body += "<p>\(processes.count) Go processes. Snapshots are cached for \(MetricsExposition.format(interval)) s. "
        body += "<a href=\"/metrics\">metrics</a> · <a href=\"/processes\">JSON</a></p>\n"
        body += "<table id=\"processes\">\n<tr><th>pid</th><th>ns pid</th><th>user</th><th>Go</th><th>goroutines</th><th>threads</th><th>RSS</th><th>uptime</th><th>container</th><th>module</th><th>executable</th></tr>\n"
        for p in processes {
            body += "<tr class=\"process\"><td><a class=\"pid\" href=\"/pid/\(p.pid)/\">\(p.pid)</a></td>"
            body += "<td>\(p.namespacePID.map(String.init) ?? "")</td><td>\(escape(p.user ?? ""))</td><td>\(escape(p.goVersion ?? ""))</td>"
            body += "<td class=\"n\">\(p.goroutines.map(String.init) ?? "?")</td><td class=\"n\">\(p.threads.map(String.init) ?? "")</td>"
            body += "<td class=\"n\">\(p.rssBytes.map(ProcessTable.bytes) ?? "")</td><td>\(p.uptimeSeconds.map(SummaryReport.duration) ?? "")</td>"
            body += "<td>\(escape(p.container ?? ""))</td><td>\(escape(p.mainModule ?? ""))</td><td>\(escape(p.executable))"
            if let problem = p.problem { body += "<div class=\"problem\">\(escape(problem))</div>" }
            body += "</td></tr>\n"
        }
        body += "</table>\n<p>Goroutines here are runtime.allglen, read without stopping (dead goroutines kept for reuse included); a process's page takes a snapshot.</p>\n"
        return page(title: "gospy: Go processes", body: body)
    }

    /// One process: counts by state, then its goroutines grouped by identical stack, largest
    /// group first, each with its states.
    static func process(_ snapshot: ServedSnapshot, pid: Int32, flameGraph: Bool = true) -> String {
        let items = snapshot.assembly.items
        let inspector = snapshot.inspector
        struct Group {
            var count = 0
            var states: [String: Int] = [:]
            let item: DumpedGoroutine
        }
        var groups: [StackPCs: Group] = [:]
        var order: [StackPCs] = []
        var states: [String: Int] = [:]
        for item in items {
            let key = StackPCs(frames: item.stack.frames)
            if groups[key] == nil {
                groups[key] = Group(item: item)
                order.append(key)
            }
            let state = item.goroutine.stateText
            groups[key]!.count += 1
            groups[key]!.states[state, default: 0] += 1
            states[state, default: 0] += 1
        }
        let sorted = order.sorted { (groups[$0]!.count, $1.frames.count) > (groups[$1]!.count, $0.frames.count) }
        let base = "/pid/\(pid)/debug/pprof/goroutine"
        var body = "<p><a href=\"/\">← all processes</a></p>\n"
        body += "<h1>pid \(pid): \(escape(inspector.executableName))</h1>\n"
        body += "<p>\(escape(inspector.image.executable.buildInfo.goVersion)) · snapshot \(TextFormat.fixed(snapshot.ageSeconds, decimals: 1)) s old"
        body += snapshot.capture.stoppedSeconds.map { " · paused " + TextFormat.fixed($0 * 1000, decimals: 1) + " ms" } ?? " · read without stopping"
        body += "</p>\n<p><a id=\"full-dump\" href=\"\(base)?debug=2\">full dump</a> · <a href=\"\(base)?debug=1\">grouped (debug=1)</a> · "
        body += "<a id=\"pprof\" href=\"\(base)?debug=0\">pprof file</a>"
        if flameGraph {
            body += " · <a id=\"flamegraph\" href=\"/pid/\(pid)/flamegraph?seconds=\(FlameGraphEndpoint.defaultSeconds)\">flame graph</a> "
            body += "(records \(FlameGraphEndpoint.defaultSeconds) s when followed)"
        }
        body += "</p>\n"
        let stateText = states.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.value) \(escape($0.key))" }.joined(separator: ", ")
        body += "<p id=\"total\">\(items.count) goroutines in \(sorted.count) groups: \(stateText)</p>\n"
        if snapshot.capture.snapshot.unreadableGoroutines > 0 {
            body += "<p class=\"problem\">\(snapshot.capture.snapshot.unreadableGoroutines) goroutines changed while being read and are not shown</p>\n"
        }
        for key in sorted {
            let group = groups[key]!
            let groupStates = group.states.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.value) \(escape($0.key))" }.joined(separator: ", ")
            body += "<div class=\"group\"><span class=\"count\">\(group.count)</span> <span class=\"states\">[\(groupStates)]</span>\n<pre>"
            for frame in group.item.body.frames + group.item.body.tail {
                body += escape("\(frame.function)\n\t\(frame.file):\(frame.line)") + "\n"
            }
            if let creator = group.item.createdBy {
                body += escape("created by \(creator.function)\n\t\(creator.file):\(creator.line)") + "\n"
            }
            body += "</pre></div>\n"
        }
        return page(title: "gospy: pid \(pid)", body: body)
    }

    static func escape(_ text: String) -> String { MarkupText.escape(text) }
}
