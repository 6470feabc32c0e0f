import ArgumentParser
import GospyInspector

/// `gospy waits --pid N`: what every blocked goroutine waits on: channels, sync objects, sleep, descriptors, system calls.
struct WaitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waits",
        abstract: "The objects goroutines wait on (channels, sync objects, timers, descriptors, system calls), most waited-on first, with their state and their waiters.")

    @OptionGroup var process: ProcessOptions

    @OptionGroup var systemGoroutines: SystemGoroutinesOption

    @OptionGroup var format: JSONReportOption

    @Option(name: .long, help: "Which location groups the waiters: user-code (innermost frame of the program's own code), user (innermost frame a traceback shows), start, caller, current.")
    var pc: LocationKind = .userCode

    func run() throws {
        let inspector = try process.inspector()
        let capture = try inspector.capture(blocking: !process.nonBlocking, holdStopped: process.testHoldStopped,
                                            stacks: pc == .user || pc == .userCode)
        let report = try WaitsReport(inspector: inspector, capture: capture, showSystem: systemGoroutines.included, locationKind: pc)
        Output.write(format.json ? try report.json() : report.text())
        if process.verbose {
            Output.error("gospy: \(capture.snapshot.goroutines.count) goroutines\n" + CapturePhasesText.lines(capture).joined(separator: "\n") + "\n")
        }
        if let cut = capture.cut { throw cut }
    }
}
