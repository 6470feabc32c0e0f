import ArgumentParser
import GospyInspector

/// `gospy waits --pid N`: what every goroutine blocked on a channel waits on.
struct WaitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waits",
        abstract: "The channels goroutines wait on, most waited-on first, with their state and their waiters.")

    @OptionGroup var process: ProcessOptions

    @OptionGroup var systemGoroutines: SystemGoroutinesOption

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        let inspector = try Inspector(pid: process.pid, binary: process.bin)
        let capture = try inspector.capture(blocking: !process.nonBlocking, holdStopped: process.testHoldStopped, stacks: true)
        let report = try WaitsReport(inspector: inspector, capture: capture, showSystem: systemGoroutines.included)
        Output.write(json ? try report.json() : report.text())
    }
}
