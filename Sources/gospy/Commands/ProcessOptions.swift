import ArgumentParser

/// Options every live-process command shares.
struct ProcessOptions: ParsableArguments {
    @Option(name: .long, help: "The process id of the Go program.")
    var pid: Int32

    @Option(name: .long, help: "Read symbols, pclntab and layouts from this copy of the binary (must be the same build).")
    var bin: String?

    @Flag(name: .long, help: "Read without stopping the target (goroutines that change meanwhile are re-read or reported).")
    var nonBlocking = false

    @Flag(name: .long, help: "Say how long the target was stopped and what the snapshot cost.")
    var verbose = false

    /// For tests: keep the target stopped this long before reading it, so signals and the
    /// target's death can be delivered at a known moment.
    @Option(name: .customLong("test-hold-stopped"), help: .hidden)
    var testHoldStopped: Double = 0
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
