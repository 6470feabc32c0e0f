import Foundation
import Testing

/// summary's text streams its goroutine lines from the snapshot, while --json builds a record
/// per goroutine: each parked goroutine's line must say exactly what its JSON fields say.
@Suite struct SummaryTextTests {
    static var sample: TargetBinary? { TestTargets.binary(release: "1.27", mode: "distro") ?? TestTargets.matrix.last }

    /// The line summary prints for a goroutine, from its JSON fields.
    static func line(_ g: SummaryJSON.Goroutine) -> String {
        var line = String(g.id)
        if let m = g.m { line += " M\(m)" }
        var state = g.state
        if let minutes = g.waitMinutes { state += ", \(minutes) minutes" }
        if g.lockedToThread { state += ", locked to thread" }
        line += " [\(state)]"
        if let location = g.location { line += "  \(location.function) (\(location.file):\(location.line))" }
        if let creator = g.createdBy { line += "  created by \(creator.function)" + (g.parentId.map { " in goroutine \($0)" } ?? "") }
        return line
    }

    @Test(arguments: [["--pc", "user"], ["--pc", "caller"], ["--pc", "user-code", "--all"]])
    func textLinesMatchTheJSON(options: [String]) throws {
        let sample = try #require(Self.sample)
        let target = try RunningTarget(sample)
        defer { target.stop() }
        let (summary, result) = try SummaryJSON.capture(pid: target.pid, options)
        let report = try #require(summary, "exit \(result.status): \(result.stderr)")
        let text = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid), "--no-color"] + options)
        #expect(text.status == 0, "\(text.stderr)")
        var lines: [Int: String] = [:]
        for line in text.stdout.split(separator: "\n") {
            guard let id = line.split(separator: " ").first.flatMap({ Int($0) }) else { continue }
            lines[id] = String(line)
        }
        // Parked goroutines hold still between the two snapshots; running ones move.
        let parked = report.goroutines.filter { $0.status == "waiting" && $0.m == nil }
        #expect(parked.count > 20)
        for goroutine in parked {
            #expect(lines[goroutine.id] == Self.line(goroutine), "goroutine \(goroutine.id)")
        }
        #expect(text.stdout.contains("Goroutines: \(report.totalGoroutines) total"))
    }
}
