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

    @Option(name: .long, help: "Which location labels a goroutine: user (innermost frame of its stack a traceback shows), start (its start function), caller (the go statement), current (where it is stopped).")
    var pc: LocationKind = .user

    @OptionGroup var systemGoroutines: SystemGoroutinesOption

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @OptionGroup var color: ColorOption

    func run() throws {
        let inspector = try Inspector(pid: process.pid, binary: process.bin)
        ReleaseWarning.print(for: inspector.image.executable)
        let capture = try inspector.capture(blocking: !process.nonBlocking, holdStopped: process.testHoldStopped,
                                            stacks: pc == .user)
        let report = SummaryReport(inspector: inspector, capture: capture, locationKind: pc, showSystem: systemGoroutines.included)
        if json {
            Output.write(try report.json())
        } else {
            Output.write(report.text(color: !color.noColor && isatty(STDOUT_FILENO) == 1,
                                     snapshotLines: process.verbose ? CapturePhasesText.lines(capture) : []))
        }
    }
}
