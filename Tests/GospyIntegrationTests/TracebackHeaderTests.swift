import Foundation
import GospyRuntime
import Testing

/// Dumps against the runtime's own in cases the default matrix does not reach: pprof labels in
/// traceback headers (Go 1.26 with GODEBUG=tracebacklabels=1, 1.27 by default for modules
/// whose go directive is 1.27+), labels that need quoting, Go 1.19's "?" marks on the
/// arguments of a frame blocked in an inlined call (`-scenario headers`), and the runtime's
/// view with its own frames and creators (its SIGQUIT dump).
@Suite struct TracebackHeaderTests {
    struct HeaderCase: Sendable, CustomTestStringConvertible {
        let binary: TargetBinary
        /// GODEBUG=tracebacklabels=<this> in the target's environment; nil: the binary's default.
        let tracebackLabels: Int?
        var testDescription: String {
            binary.testDescription + (tracebackLabels.map { " tracebacklabels=\($0)" } ?? "")
        }
    }

    /// Every release in plain and distro (the "?" rule; from 1.26 also with the setting on,
    /// which overrides the go 1.19 directive), and the modern builds with the setting from the
    /// binary, off and on.
    static var cases: [HeaderCase] {
        let classic = TestTargets.matrix.filter { ["plain", "distro"].contains($0.mode) }
        return classic.map { HeaderCase(binary: $0, tracebackLabels: nil) }
            + classic.filter { (GoVersionParts($0.release)?.minor ?? 0) >= 26 }.map { HeaderCase(binary: $0, tracebackLabels: 1) }
            + TestTargets.modern.flatMap { binary in [nil, 0, 1].map { HeaderCase(binary: binary, tracebackLabels: $0) } }
    }

    /// Compares every goroutine both dumps show in a stable state: the header line, every
    /// frame with its arguments, and the creator. Returns the goroutines compared.
    @discardableResult
    /// `moving`: functions of goroutines that wake on their own between the two dumps.
    static func compare(_ mine: GoroutineDump, _ theirs: GoroutineDump, _ context: String,
                        moving: Set<String> = []) -> [GoroutineDump.Goroutine] {
        var compared: [GoroutineDump.Goroutine] = []
        for runtime in theirs.goroutines where runtime.id != 0 {
            guard let gospy = mine.goroutine(runtime.id) else { continue }
            if DumpMatrixTests.isTransient(runtime.state) || DumpMatrixTests.isTransient(gospy.state) { continue }
            if runtime.frames.contains(where: { moving.contains($0.function) }) { continue }
            compared.append(runtime)
            #expect(gospy.header == runtime.header, "\(context) goroutine \(runtime.id)")
            #expect(gospy.frames == runtime.frames,
                    "\(context) goroutine \(runtime.id)\ngospy:   \(gospy.frames)\nruntime: \(runtime.frames)")
            #expect(gospy.createdBy == runtime.createdBy && gospy.creatorID == runtime.creatorID,
                    "\(context) goroutine \(runtime.id) created by: gospy \(String(describing: gospy.createdBy)), runtime \(String(describing: runtime.createdBy))")
        }
        return compared
    }

    /// `gospy dump` of the target (which must succeed without a word on stderr) and the
    /// target's own dump of itself.
    static func dumps(of target: RunningTarget) throws -> (mine: GoroutineDump, theirs: GoroutineDump) {
        let result = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid)])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        return (GoroutineDump(parsing: result.stdout), try target.ownDump())
    }

    @Test(arguments: Self.cases)
    func headersAndArgumentsEqualTheRuntimesDump(_ item: HeaderCase) throws {
        TestTargets.requireMatrix()
        let environment = item.tracebackLabels.map { ["GODEBUG": "tracebacklabels=\($0)"] } ?? [:]
        let target = try RunningTarget(item.binary, arguments: ["-scenario", "headers"], environment: environment)
        defer { target.stop() }
        let (mine, theirs) = try Self.dumps(of: target)
        let compared = Self.compare(mine, theirs, item.testDescription)
        #expect(compared.count >= 25, "too few goroutines in stable states")

        // The scenario's goroutines were among them.
        let reader = try #require(compared.first { $0.frames.contains { $0.function == "main.readHeaderLike" } },
                                  "readHeaderLike not compared")
        #expect(reader.frames.contains { $0.function == "main.readHeaderLike" && $0.arguments?.contains("0x") == true })
        let labelled = try #require(compared.first { $0.frames.contains { $0.function == "main.quotedLabelWorker" } },
                                    "quotedLabelWorker not compared")
        // Whether the runtime printed labels follows the release, the go directive and GODEBUG.
        let release = try #require(GoVersionParts(item.binary.release))
        let modernDirective = TestTargets.modernModes.contains(item.binary.mode)
        let shows = release.minor >= 26 && (item.tracebackLabels ?? (release.minor >= 27 && modernDirective ? 1 : 0)) == 1
        #expect(labelled.header.contains("\"user id\"") == shows, "\(labelled.header)")
        if shows {
            #expect(labelled.header.contains(release.minor >= 27 ? "] {" : " labels:{"), "\(labelled.header)")
        }
    }

    /// The runtime's own view with its runtime frames: what it prints on SIGQUIT (level 2:
    /// runtime frames, every creator, and from Go 1.22 "gp=... m=..." in headers) against
    /// `gospy dump --all --runtime-frames` taken just before, while everything is parked.
    static var quitBinaries: [TargetBinary] {
        TestTargets.matrix.filter { $0.mode == "plain" }
            + [TestTargets.binary(release: "1.19", mode: "distro"), TestTargets.binary(release: TestTargets.newestRelease, mode: "distro")]
            .compactMap { $0 }
    }

    @Test(arguments: Self.quitBinaries)
    func runtimeFramesEqualTheSigquitDump(binary: TargetBinary) throws {
        TestTargets.requireMatrix()
        let target = try RunningTarget(binary, errors: true)
        defer { target.stop() }
        let result = try Subprocess.run(Subprocess.gospy, ["dump", "--all", "--runtime-frames", "--pid", String(target.pid)])
        #expect(result.status == 0, "\(result.stderr)")
        let text = try target.quitDump()
        #expect(text.hasPrefix("SIGQUIT: quit"), "\(text.prefix(200))")
        let mine = GoroutineDump(parsing: result.stdout)
        let theirs = GoroutineDump(parsing: text)
        // The target's parent watcher sleeps a second at a time: the SIGQUIT comes later than
        // runtime.Stack would, long enough for it to have slept again (a new stale "?" word).
        let compared = Self.compare(mine, theirs, binary.testDescription, moving: ["main.watchParent"])
        #expect(compared.count >= 25, "too few goroutines in stable states")
        // Line for line, " fp=... sp=... pc=..." included.
        for runtime in compared {
            #expect(mine.goroutine(runtime.id)?.body == runtime.body, "\(binary.testDescription) goroutine \(runtime.id)")
        }
        // System goroutines with their runtime creators were among them.
        let runtimeCreated = compared.filter { $0.createdBy?.function.hasPrefix("runtime.") == true }
        #expect(runtimeCreated.count >= 2, "goroutines created by the runtime: \(runtimeCreated.map(\.id))")
        // Every goroutine of the runtime's dump (but the signal's g0) is in gospy's.
        let missing = Set(theirs.goroutines.map(\.id)).subtracting(mine.goroutines.map(\.id)).subtracting([0])
        #expect(missing.isEmpty, "goroutines gospy did not list: \(missing.sorted())")
    }
}

/// Where the tracebacklabels setting lives, found without symbols, equals what the symbols say.
@Suite struct TracebackLabelsVariableTests {
    static var unstripped: [TargetBinary] {
        TestTargets.all.filter { !$0.isStripped && (GoVersionParts($0.release)?.minor ?? 0) >= 26 }
    }

    @Test(arguments: Self.unstripped)
    func scanEqualsSymbols(binary: TargetBinary) throws {
        let executable = try GoExecutable(path: binary.path)
        let bySymbol = TracebackLabelsVariable.locate(in: executable)
        let byScan = TracebackLabelsVariable.locate(in: executable, useSymbols: false)
        guard case let .found(address, source) = bySymbol, case let .found(scanned, _) = byScan else {
            Issue.record("symbols: \(bySymbol), scan: \(byScan)")
            return
        }
        #expect(source == .symbol("runtime.dbgvars"))
        #expect(address == scanned)
        let debug = try #require(executable.elf.symbol(named: "runtime.debug"))
        #expect(address >= debug.value && address + 4 <= debug.value + debug.size)
    }

    @Test func olderReleasesHaveNoSetting() throws {
        let binary = try #require(TestTargets.binary(release: "1.25", mode: "plain") ?? TestTargets.binary(release: "1.19", mode: "plain"))
        #expect(TracebackLabelsVariable.locate(in: try GoExecutable(path: binary.path)) == .notInRelease)
    }
}

/// "1.27" -> minor 27.
struct GoVersionParts {
    let minor: Int
    init?(_ release: String) {
        guard release.hasPrefix("1."), let minor = Int(release.dropFirst(2)) else { return nil }
        self.minor = minor
    }
}
