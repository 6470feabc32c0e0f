import ArgumentParser
import GospyInspector
import GospyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// `gospy dump --pid N`: every goroutine's full stack, as the runtime prints it.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Every goroutine's full stack: the runtime's traceback format, grouped, or JSON.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case traceback, grouped, json, pprof
    }

    @OptionGroup var process: ProcessOptions

    @Option(name: .long, help: "traceback (the runtime's debug=2 format), grouped (like debug=1), json, pprof (gzipped profile.proto for go tool pprof; use -o).")
    var format: Format = .traceback

    @OptionGroup var systemGoroutines: SystemGoroutinesOption

    @Flag(name: .long, help: "Show runtime and wrapper frames the runtime hides.")
    var runtimeFrames = false

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    @Flag(name: .long, help: "Traceback format: after each goroutine's header, one comment line naming what it waits on (a channel, a descriptor and its socket, a system call).")
    var annotate = false

    func validate() throws {
        if annotate && format != .traceback {
            throw ValidationError("--annotate is for the traceback format: --format json carries each goroutine's wait object already")
        }
        if format == .pprof && output == nil && isatty(STDOUT_FILENO) == 1 {
            throw ValidationError("--format pprof writes binary data: give -o FILE or redirect standard output")
        }
    }

    func run() throws {
        let inspector = try process.inspector()
        ReleaseWarning.print(for: inspector.image.executable)
        // Arguments only for the formats that print them (the traceback and JSON).
        let capture = try inspector.capture(blocking: !process.nonBlocking, holdStopped: process.testHoldStopped, stacks: true,
                                            arguments: format == .traceback || format == .json)
        // The plain traceback streams: each goroutine is assembled, printed and dropped in turn.
        let streamed = format == .traceback && !annotate
        let assembly = streamed ? nil
            : DumpAssembly(inspector: inspector, capture: capture, all: systemGoroutines.included, runtimeFrames: runtimeFrames)
        var items = assembly?.items ?? []
        let labels = assembly?.labels ?? [:]
        // Wait objects, read after the capture while the target runs, for the formats that show them.
        if annotate || format == .json {
            let waits = try inspector.readWaits(capture.snapshot, stacks: capture.stacks)
            for index in items.indices {
                items[index].wait = waits.objects[items[index].goroutine.address].map { WaitDescription($0, waits: waits) }
            }
        }
        let image = inspector.image
        let symbolizer = inspector.symbolizer
        let snapshot = capture.snapshot
        // Headers show labels as the target's own GODEBUG tracebacklabels says; never guessed.
        if format == .traceback, case let .unreadable(reason) = snapshot.tracebackLabels {
            Output.error("gospy: cannot read the target's GODEBUG tracebacklabels setting (\(reason)); headers show no labels\n")
        }
        var headerStyle = TracebackHeaderStyle(image: image, snapshot: snapshot, runtimeFrames: runtimeFrames)
        headerStyle.annotate = annotate
        // Written as it is produced: to the file, or to standard output.
        var file: Int32?
        if let output {
            let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw DumpError.cannotWrite(output) }
            file = fd
        }
        defer { if let file { close(file) } }
        let sink: (String) -> Void = { text in
            Output.write(text, to: file ?? STDOUT_FILENO)
        }
        var count = items.count
        switch format {
        case .traceback where streamed:
            count = DumpBlockRendering.render(inspector: inspector, capture: capture, all: systemGoroutines.included,
                                              runtimeFrames: runtimeFrames, style: headerStyle) { bytes in
                Output.write(bytes, to: file ?? STDOUT_FILENO)
            }
        case .traceback: TracebackRenderer.render(items, symbolizer: symbolizer, style: headerStyle, to: sink)
        case .grouped: sink(GroupedRenderer.render(items, labels: labels, symbolizer: symbolizer))
        case .json:
            try DumpJSON.write(goVersion: image.executable.buildInfo.goVersion, items: items, labels: labels,
                               runtimeFrames: runtimeFrames, symbolizer: symbolizer) { bytes in
                Output.write(bytes, to: file ?? STDOUT_FILENO)
            }
        case .pprof:
            let bytes = try PprofRenderer.render(items, labels: labels, symbolizer: symbolizer, image: image, binaryName: inspector.executableName)
            Output.write(bytes, to: file ?? STDOUT_FILENO)
        }
        if process.verbose {
            Output.error("gospy: \(count) goroutines\n" + CapturePhasesText.lines(capture).joined(separator: "\n") + "\n")
        }
        // The dump is written: the exit frees the capture and the items wholesale.
        LeftForExit.keep((capture, items))
        // Printed, marked, and still a failure for scripts: exit 15 names what was cut.
        if let cut = capture.cut { throw cut }
    }
}

enum DumpError: Error, CustomStringConvertible {
    case cannotWrite(String)
    var description: String {
        switch self {
        case let .cannotWrite(path): return "cannot write \(path): check the directory exists and is writable"
        }
    }
}
