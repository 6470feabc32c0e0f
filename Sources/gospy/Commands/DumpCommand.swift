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

    func validate() throws {
        if format == .pprof && output == nil && isatty(STDOUT_FILENO) == 1 {
            throw ValidationError("--format pprof writes binary data: give -o FILE or redirect standard output")
        }
    }

    func run() throws {
        let inspector = try Inspector(pid: process.pid, binary: process.bin)
        ReleaseWarning.print(for: inspector.image.executable)
        // Arguments only for the formats that print them (the traceback and JSON).
        let capture = try inspector.capture(blocking: !process.nonBlocking, holdStopped: process.testHoldStopped, stacks: true,
                                            arguments: format == .traceback || format == .json)
        let assembly = DumpAssembly(inspector: inspector, capture: capture, all: systemGoroutines.included, runtimeFrames: runtimeFrames)
        let (items, labels) = (assembly.items, assembly.labels)
        let image = inspector.image
        let symbolizer = inspector.symbolizer
        let snapshot = capture.snapshot
        // Headers show labels as the target's own GODEBUG tracebacklabels says; never guessed.
        if format == .traceback, case let .unreadable(reason) = snapshot.tracebackLabels {
            Output.error("gospy: cannot read the target's GODEBUG tracebacklabels setting (\(reason)); headers show no labels\n")
        }
        let headerStyle = TracebackHeaderStyle(image: image, snapshot: snapshot, runtimeFrames: runtimeFrames)
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
        switch format {
        case .traceback: TracebackRenderer.render(items, symbolizer: symbolizer, style: headerStyle, to: sink)
        case .grouped: sink(GroupedRenderer.render(items, labels: labels, symbolizer: symbolizer))
        case .json:
            sink(try DumpJSON(goVersion: image.executable.buildInfo.goVersion, items: items, labels: labels,
                              runtimeFrames: runtimeFrames, symbolizer: symbolizer).json())
        case .pprof:
            let bytes = try PprofRenderer.render(items, labels: labels, symbolizer: symbolizer, image: image, binaryName: inspector.executableName)
            Output.write(bytes, to: file ?? STDOUT_FILENO)
        }
        if process.verbose {
            Output.error("gospy: \(items.count) goroutines\n" + CapturePhasesText.lines(capture).joined(separator: "\n") + "\n")
        }
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
