import ArgumentParser

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

    /// For tests: keep the target stopped this long before reading it, so signals and the
    /// target's death can be delivered at a known moment.
    @Option(name: .customLong("test-hold-stopped"), help: .hidden)
    var testHoldStopped: Double = 0

    var pid: Int32 { target.pid }
    var bin: String? { target.bin }
}

/// `--all`: whether the goroutines the runtime hides from its dumps are shown or counted.
struct SystemGoroutinesOption: ParsableArguments {
    @Flag(name: .customLong("all"), help: "Include system goroutines (the runtime hides them from its dumps).")
    var included = false
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
}
