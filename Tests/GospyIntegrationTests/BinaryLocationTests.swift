import Foundation
import Testing

/// Where gospy gets the binary from: /proc/PID/exe (even deleted), or --bin.
@Suite struct BinaryLocationTests {
    static var sample: TargetBinary? { TestTargets.binary(release: "1.26", mode: "distro") ?? TestTargets.matrix.first }

    func copyOf(_ binary: TargetBinary, name: String) throws -> String {
        let directory = NSTemporaryDirectory() + "gospy-bin-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        try FileManager.default.copyItem(atPath: binary.path, toPath: path)
        return path
    }

    @Test func deletedBinaryStillWorks() throws {
        let sample = try #require(Self.sample)
        let path = try copyOf(sample, name: "vanishing")
        let copy = TargetBinary(release: sample.release, mode: sample.mode, goVersion: sample.goVersion, path: path)
        let target = try RunningTarget(copy)
        defer { target.stop() }
        try FileManager.default.removeItem(atPath: path)
        let (summary, result) = try SummaryJSON.capture(pid: target.pid)
        let report = try #require(summary, "exit \(result.status): \(result.stderr)")
        #expect(report.goVersion == sample.goVersion)
        #expect(report.goroutines.count > 20)
        let text = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid)])
        #expect(text.stdout.contains("(deleted)"), "the header names the deleted path")
    }

    @Test func binOptionWithTheSameBuild() throws {
        let sample = try #require(Self.sample)
        let target = try RunningTarget(sample)
        defer { target.stop() }
        let copy = try copyOf(sample, name: "same-build")
        let (withBin, result) = try SummaryJSON.capture(pid: target.pid, ["--bin", copy])
        let report = try #require(withBin, "exit \(result.status): \(result.stderr)")
        let (plain, _) = try SummaryJSON.capture(pid: target.pid)
        #expect(Set(report.goroutines.map(\.id)) == Set(try #require(plain).goroutines.map(\.id)))
        #expect(report.goroutines.first { $0.id == 1 }?.startFunction == "runtime.main")
    }

    @Test func binOptionRefusesAnotherBuild() throws {
        let sample = try #require(Self.sample)
        let target = try RunningTarget(sample)
        defer { target.stop() }
        // Same version, other flags: a different build.
        let other = try #require(TestTargets.binary(release: sample.release, mode: sample.mode == "plain" ? "trimpath" : "plain"))
        let result = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid), "--bin", other.path])
        #expect(result.status == 8, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("is not the binary the process runs"))
        #expect(!ProcessState.anyStopped(target.pid))
    }
}
