import ArgumentParser
import GospyInspector
import GospyProcess
#if canImport(Glibc)
import Glibc
#endif

/// `gospy summary --pid N`: one snapshot of a live Go process.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "One snapshot of a running Go program: Ps, threads, and every goroutine's state and location.")

    @OptionGroup var process: ProcessOptions

    @Option(name: .long, help: "Which location labels a goroutine: user (innermost frame of its stack a traceback shows), user-code (innermost frame of the program's own code, not the standard library's), start (its start function), caller (the go statement), current (where it is stopped).")
    var pc: LocationKind = .user

    @OptionGroup var systemGoroutines: SystemGoroutinesOption

    @OptionGroup var format: JSONReportOption

    @OptionGroup var color: ColorOption

    func run() throws {
        let inspector = try process.inspector()
        ReleaseWarning.print(for: inspector.image.executable)
        let capture = try inspector.capture(blocking: !process.nonBlocking, holdStopped: process.testHoldStopped,
                                            stacks: pc == .user || pc == .userCode)
        // Each goroutine's wait object in the JSON (read after the capture, while the target runs).
        let waits = format.json ? try inspector.readWaits(capture.snapshot, stacks: capture.stacks) : nil
        let report = SummaryReport(inspector: inspector, capture: capture, locationKind: pc, showSystem: systemGoroutines.included)
        if format.json {
            try SummaryJSONDocument.write(report, inspector: inspector, capture: capture, locationKind: pc,
                                          showSystem: systemGoroutines.included, waits: waits) { Output.write($0) }
        } else {
            var output = BufferedOutput()
            report.writeText(color: !color.noColor && isatty(STDOUT_FILENO) == 1,
                             snapshotLines: process.verbose ? CapturePhasesText.lines(capture) : [],
                             lines: SummaryLines(inspector: inspector, capture: capture, locationKind: pc,
                                                 showSystem: systemGoroutines.included),
                             to: &output)
            output.flush()
        }
        LeftForExit.keep(capture)
        if let cut = capture.cut { throw cut }
    }
}
