import CTestSpawn
import Foundation
import GospyBinary
import GospyRuntime
import GospyTestSupport
import Testing

/// One Go test target binary built by scripts/build-targets.sh.
struct TargetBinary: Sendable, CustomTestStringConvertible, Hashable {
    let release: String
    let mode: String
    let goVersion: String
    let path: String

    var testDescription: String { "go\(release)/\(mode)" }
    var isStripped: Bool { ["stripped", "distro", "modern-stripped", "modern-distro", "synctest-go124", "leakprofile-go126"].contains(mode) }
}

/// The matrix of test targets, from the manifest scripts/build-targets.sh writes.
enum TestTargets {
    static var cacheDirectory: String {
        ProcessInfo.processInfo.environment["GOSPY_CACHE"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/gospy")
    }

    static var manifestPath: String { cacheDirectory + "/targets/manifest.tsv" }

    /// Every binary in the manifest. Empty (and the tests that use it fail, saying why) when
    /// scripts/build-targets.sh has not been run.
    static let all: [TargetBinary] = {
        guard let text = try? String(contentsOfFile: manifestPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count >= 4 else { return nil }
            return TargetBinary(release: fields[0], mode: fields[1], goVersion: fields[2], path: fields[3])
        }
    }()

    /// The modes gospy must support; oracle-only builds (e.g. "distro-unstripped") excluded.
    static let supportedModes: Set<String> = ["plain", "stripped", "trimpath", "pie", "cgo", "distro"]

    static var matrix: [TargetBinary] { all.filter { supportedModes.contains($0.mode) } }

    /// Go 1.26+ builds whose go directive is the toolchain's own version (plain, stripped and
    /// distro flags): GODEBUG defaults of the release itself, e.g. labels in 1.27's headers.
    static let modernModes: Set<String> = ["modern", "modern-stripped", "modern-distro"]

    static var modern: [TargetBinary] { all.filter { modernModes.contains($0.mode) } }

    static func binary(release: String, mode: String) -> TargetBinary? {
        all.first { $0.release == release && $0.mode == mode }
    }

    /// Records a failure when the matrix is missing, so a run without targets cannot pass.
    static func requireMatrix() {
        if matrix.isEmpty {
            Issue.record("no test targets at \(manifestPath): run scripts/build-targets.sh (the README's test command does)")
        }
    }

    /// The `go` command of Go `release`'s toolchain (under GOSPY_TOOLCHAINS).
    static func toolchain(release: String) -> String { GoProbe.goroot(release) + "/bin/go" }

    /// The Python of the venv scripts/install-deps.sh gives selenium, for the browser tests.
    static let seleniumPython = (ProcessInfo.processInfo.environment["GOSPY_TOOLCHAINS"]
        ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/gospy/toolchains")) + "/venv-selenium/bin/python"

    /// The newest release gospy supports.
    static let newestRelease = GoVersion.supportedReleases.last!
}

/// Runs programs for tests.
enum Subprocess {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// A program running in the background, which the test signals, kills or waits for.
    struct Child {
        let process: Process
        /// Its standard output and error when asked for; otherwise they go to /dev/null.
        let output: Pipe?
        let errors: Pipe?
        var pid: Int32 { process.processIdentifier }

        /// SIGKILL, not SIGTERM (the test runner's children may inherit a mask that blocks
        /// it), then reaps it.
        func killAndWait() {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Starts a program in the background: the tests' one way to start a child they do not
    /// simply run to completion (`run`) or leave as a daemon (`runDetached`).
    static func start(_ executable: String, _ arguments: [String], output: Bool = false, errors: Bool = false) throws -> Child {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let child = Child(process: process, output: output ? Pipe() : nil, errors: errors ? Pipe() : nil)
        process.standardOutput = child.output ?? FileHandle.nullDevice
        process.standardError = child.errors ?? FileHandle.nullDevice
        try process.run()
        return child
    }

    /// Starts gospy holding `pid` stopped for `seconds` (`summary --test-hold-stopped`), its
    /// output discarded; the caller waits for it or signals it.
    static func startHoldingStopped(_ pid: Int32, seconds: Double) throws -> Child {
        try start(gospy, ["summary", "--pid", String(pid), "--test-hold-stopped", String(seconds)])
    }

    /// Runs a program that may leave a daemon behind (tmux starts its server). Not through
    /// Foundation's Process: it gives each child a socket whose closing marks the child's exit,
    /// and a daemon inheriting that socket keeps waitUntilExit from ever returning. The child
    /// gets /dev/null for its standard descriptors and none of ours.
    @discardableResult
    static func runDetached(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let status = test_spawn_detached(executable, argv)
        guard status >= 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: -status) ?? .EIO)
        }
        return status
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], input: String? = nil,
                    environment: [String: String]? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe()
        let err = Pipe()
        let inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inPipe.fileHandleForWriting.close()
        process.waitUntilExit()
        group.wait()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// The gospy executable built alongside the tests.
    static var gospy: String {
        let bundle = Bundle.main.bundleURL.deletingLastPathComponent().path
        for directory in [bundle, Bundle.main.bundleURL.path, (CommandLine.arguments[0] as NSString).deletingLastPathComponent] {
            let candidate = (directory as NSString).appendingPathComponent("gospy")
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return ".build/debug/gospy"
    }
}
