import ArgumentParser
import FoundationEssentials
import GospyInspector

/// `gospy record --pid N`: wall-clock samples of every goroutine, written as a flame graph,
/// speedscope file, collapsed stacks or pprof profile.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Sample every goroutine's stack at a rate (on-CPU and waiting alike) and write a flame graph or profile.",
        discussion: """
        Samples are taken without stopping the process: parked goroutines are read while it runs \
        (and only those that changed since the last sample are read again); running goroutines \
        are walked from perf event samples of their threads (user registers and a copy of the \
        top of the stack, no stop). Where perf events are not allowed (kernel.perf_event_paranoid, \
        a container's seccomp filter) or with --no-perf, the threads running goroutines are \
        stopped briefly instead, one by one, to read their registers. --blocking stops the \
        whole process for each sample instead (coherent samples, more overhead). Ctrl-C ends the \
        recording and writes the file.
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case flamegraph, speedscope, collapsed, pprof
        var fileExtension: String {
            switch self {
            case .flamegraph: return "svg"
            case .speedscope: return "speedscope.json"
            case .collapsed: return "txt"
            case .pprof: return "pb.gz"
            }
        }
    }

    enum StateFilter: String, ExpressibleByArgument, CaseIterable {
        /// Only goroutines on a CPU.
        case running
        /// Only goroutines off CPU (runnable, in a system call or waiting).
        case waiting
        case all
    }

    @OptionGroup var target: TargetOptions

    @Option(name: .shortAndLong, help: "Write to this file (default gospy-record-PID.EXT in the current directory).")
    var output: String?

    @Option(name: .long, help: "flamegraph (interactive SVG), speedscope (JSON), collapsed (flamegraph.pl input) or pprof (gzipped profile.proto).")
    var format: Format = .flamegraph

    @Option(name: .long, help: "Samples per second.")
    var rate: Double = 100

    @Option(name: .long, help: "Seconds to record (default: until Ctrl-C or the process exits).")
    var duration: Double?

    @Flag(name: .long, help: "Stop the whole process for each sample (coherent samples; more overhead).")
    var blocking = false

    @Option(name: .long, help: "Which goroutines to count: running (on-CPU), waiting (off-CPU) or all.")
    var state: StateFilter = .all

    @Flag(name: .long, help: "Root each stack at its goroutine id.")
    var goroutines = false

    @Flag(name: .long, help: "Root each stack at its goroutine's pprof labels.")
    var labels = false

    @OptionGroup var systemGoroutines: SystemGoroutinesOption

    @Option(name: .long, help: "Also write the file every this many seconds, so a killed recording leaves one.")
    var flush: Double?

    @Flag(name: .long, help: "No live progress line on standard error.")
    var noProgress = false

    @Flag(name: .long, help: "The live progress line even when standard error is not a terminal (one line per update).")
    var progress = false

    @Flag(name: .long, help: "No perf events: stop the threads running goroutines briefly to read their registers instead.")
    var noPerf = false

    func validate() throws {
        guard rate.isFinite, rate > 0, rate <= 10_000 else { throw ValidationError("--rate must be between 0 and 10000 samples per second") }
        if let duration, !(duration.isFinite && duration > 0 && duration <= 366 * 86400) {
            throw ValidationError("--duration must be a positive number of seconds")
        }
        if let flush, !(flush.isFinite && flush > 0 && flush <= 86400) {
            throw ValidationError("--flush must be a positive number of seconds")
        }
        if labels && goroutines { throw ValidationError("give --goroutines or --labels, not both") }
        if progress && noProgress { throw ValidationError("give --progress or --no-progress, not both") }
    }

    var outputPath: String { output ?? "gospy-record-\(target.pid).\(format.fileExtension)" }

    func run() throws {
        // The output is checked before anything is sampled: an unwritable path fails now.
        let writer = try RecordOutput(path: outputPath, format: format)
        let inspector = try Inspector(pid: target.pid, binary: target.bin)
        let session = RecordSession(command: self, inspector: inspector, output: writer)
        try session.run()
    }
}
