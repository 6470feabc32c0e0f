import FoundationEssentials
import GospyInspector

/// `gospy ps`'s output: a table, or JSON (the same data `serve` gives at /processes).
enum ProcessTable {
    static func json(_ processes: [HostProcess]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(processes), as: UTF8.self) + "\n"
    }

    static func text(_ processes: [HostProcess]) -> String {
        let header = ["PID", "NSPID", "USER", "GO", "GOROUTINES", "THREADS", "RSS", "UPTIME", "CONTAINER", "MODULE", "EXECUTABLE"]
        var rows = [header]
        var problems: [String] = []
        for p in processes {
            rows.append([
                String(p.pid), p.namespacePID.map(String.init) ?? "-", p.user ?? "-", p.goVersion ?? "-",
                p.goroutines.map(String.init) ?? "?", p.threads.map(String.init) ?? "-",
                p.rssBytes.map(bytes) ?? "-", p.uptimeSeconds.map(SummaryReport.duration) ?? "-",
                p.container ?? "-", p.mainModule ?? "-", p.executable,
            ])
            if let problem = p.problem { problems.append("pid \(p.pid): \(problem)") }
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for row in rows {
            let cells = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[i] - cell.count))
            }
            out += cells.joined(separator: "  ") + "\n"
        }
        for line in problems { out += line + "\n" }
        return out
    }

    static func bytes(_ value: UInt64) -> String {
        let mib = Double(value) / 1_048_576
        return mib >= 1024 ? TextFormat.fixed(mib / 1024, decimals: 1) + "G" : TextFormat.fixed(mib, decimals: 1) + "M"
    }
}
