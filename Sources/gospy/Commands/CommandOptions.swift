import ArgumentParser
import GospyInspector
import GospyRuntime

/// The target: a process and, optionally, a copy of its binary.
struct TargetOptions: ParsableArguments {
    @Option(name: .long, help: "The process id of the Go program.")
    var pid: Int32

    @Option(name: .long, help: "Read symbols, pclntab and layouts from this copy of the binary (must be the same build).")
    var bin: String?
}

/// The Go executable a command reads without a process (info, addr2line).
struct ExecutableOption: ParsableArguments {
    @Option(name: .long, help: "The Go executable.")
    var bin: String
}

/// Options every snapshot command shares.
struct ProcessOptions: ParsableArguments {
    @OptionGroup var target: TargetOptions

    @Flag(name: .long, help: "Read without stopping the target (goroutines that change meanwhile are re-read or reported).")
    var nonBlocking = false

    @Flag(name: .long, help: "Say how long the target was stopped and what the snapshot cost.")
    var verbose = false

    @Option(name: .long, help: ArgumentHelp(
        "The most seconds one snapshot may take; stacks not read or walked by then are shown truncated (exit 15).",
        valueName: "seconds"))
    var deadline: Double = SnapshotDeadline.defaultSeconds

    /// For tests: keep the target stopped this long before reading it, so signals and the
    /// target's death can be delivered at a known moment.
    @Option(name: .customLong("test-hold-stopped"), help: .hidden)
    var testHoldStopped: Double = 0

    var pid: Int32 { target.pid }
    var bin: String? { target.bin }

    func validate() throws {
        guard deadline > 0, deadline.isFinite else {
            throw ValidationError("--deadline must be a positive number of seconds")
        }
    }

    /// An inspector of --pid (with --bin), its snapshots bound by --deadline.
    func inspector() throws -> Inspector {
        let inspector = try Inspector(pid: pid, binary: bin)
        inspector.deadlineSeconds = deadline
        return inspector
    }
}

/// `--all`: whether the goroutines the runtime hides from its dumps are shown or counted.
struct SystemGoroutinesOption: ParsableArguments {
    @Flag(name: .customLong("all"), help: "Include system goroutines (the runtime hides them from its dumps).")
    var included = false
}

/// `--json` for the commands whose report is one JSON object (info, summary, waits).
struct JSONReportOption: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON object.")
    var json = false
}

/// `--no-color` for the commands that colour a terminal.
struct ColorOption: ParsableArguments {
    @Flag(name: .long, help: "No colours, even on a terminal.")
    var noColor = false
}

/// Which PC labels a goroutine's location.
enum LocationKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// The innermost frame a traceback shows (runtime internals skipped): where user code waits.
    case user
    /// The function the goroutine was started with.
    case start
    /// The `go` statement that created it.
    case caller
    /// The PC it is stopped at (its saved scheduler PC, or the syscall PC).
    case current
    /// The innermost frame in the program's own code (its main module and dependencies, not
    /// the standard library or the runtime): where the program waits, not where the library
    /// parks (a lock, a socket read). The innermost shown frame when the stack has none.
    case userCode = "user-code"
}
