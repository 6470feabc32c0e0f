import GospyInspector

/// What --verbose says about a snapshot: how long the target was stopped, and the phases.
enum CapturePhasesText {
    static func lines(_ capture: Inspector.Capture) -> [String] {
        let stopped = capture.stoppedSeconds.map { "stopped \(ms($0)), " } ?? "not stopped, "
        var lines = ["Snapshot: \(stopped)took \(ms(capture.elapsedSeconds))"]
        let p = capture.phases
        if let v = p.validation {
            var reasons: [String] = []
            if v.changed > 0 { reasons.append("\(v.changed) changed") }
            if v.added > 0 { reasons.append("\(v.added) new") }
            if v.active > 0 { reasons.append("\(v.active) on a thread") }
            let why = reasons.isEmpty ? "" : " (" + reasons.joined(separator: ", ") + ")"
            lines.append("  read while running: \(ms(p.readWhileRunning)), \(p.stacksReadWhileRunning) stacks")
            lines.append("  stopped: \(ms(p.stopped)), \(v.goroutines) gs compared (\(v.comparedBytes) bytes each), "
                + "\(v.unchanged) unchanged, \(v.reread) re-read\(why), \(p.stacksReadWhileStopped) stacks re-read")
        }
        let reused = p.stacksReused > 0 ? ", \(p.stacksReused) stacks unchanged since the last snapshot" : ""
        lines.append("  after resuming: \(ms(p.afterResume)) decoding and walking\(reused)")
        if let cut = capture.cut {
            lines.append("  deadline (\(cut.seconds) s) reached: \(cut.stacksNotRead) stacks not read, \(cut.stacksNotWalked) not walked")
        }
        return lines
    }

    private static func ms(_ seconds: Double) -> String { TextFormat.fixed(seconds * 1000, decimals: 3) + " ms" }
}
