import ArgumentParser
import GospyInspector
#if canImport(Glibc)
import Glibc
#endif

/// `gospy top --pid N`: a live view of a Go program's goroutines grouped by function.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live view of a running Go program's goroutines, grouped by function, refreshed in place.")

    @OptionGroup var process: ProcessOptions

    @Option(name: .long, help: "Seconds between refreshes.")
    var interval: Double = 1

    @Option(name: .customLong("group-by"), help: "function, stack, state or label:KEY.")
    var groupBy: String = "function"

    @Option(name: .long, help: "Which location names a goroutine's function group: user, start, caller, current.")
    var pc: LocationKind = .user

    @Flag(name: .long, help: "Print one plain-text snapshot per interval instead of a full-screen view (the default when stdout is not a terminal).")
    var plain = false

    @Option(name: .long, help: "Stop after this many refreshes.")
    var iterations: Int?

    @OptionGroup var systemGoroutines: SystemGoroutinesOption

    @OptionGroup var color: ColorOption

    func validate() throws {
        guard interval > 0, interval <= 3600 else { throw ValidationError("--interval must be between 0 and 3600 seconds") }
        guard TopModel.Grouping(parsing: groupBy) != nil else {
            throw ValidationError("--group-by must be function, stack, state or label:KEY")
        }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
    }

    func run() throws {
        let inspector = try Inspector(pid: process.pid, binary: process.bin)
        ReleaseWarning.print(for: inspector.image.executable)
        let session = TopSession(command: self, inspector: inspector)
        if plain || isatty(STDOUT_FILENO) != 1 {
            try session.runPlain()
        } else {
            try session.runFullScreen()
        }
    }
}
