import Foundation
import GospyRuntime
import Testing

/// A snapshot's overall deadline (`--deadline`): past it, stacks are neither read nor walked;
/// the output still lists every goroutine, each cut stack marked, the exit code is 15 with one
/// line saying what was cut, and the target is never left stopped.
@Suite struct SnapshotDeadlineTests {
    struct Dump: Decodable {
        struct Item: Decodable {
            let id: UInt64
            let frames: [Frame]
            let truncated: String?
        }
        struct Frame: Decodable { let function: String }
        let goroutines: [Item]
    }

    static let extra = 20_000

    /// A target with many goroutines, answering after each check.
    func withManyGoroutines(_ body: (RunningTarget) throws -> Void) throws {
        let binary = try #require(TestTargets.matrix.first, "no test targets: run scripts/build-targets.sh")
        let target = try RunningTarget(binary, arguments: ["-scenario", "many", "-n", String(Self.extra)])
        defer { target.stop() }
        try body(target)
    }

    func expectResumed(_ target: RunningTarget, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(!ProcessState.anyStopped(target.pid), "target left stopped", sourceLocation: sourceLocation)
        #expect(try target.send("count").hasPrefix("COUNT"), sourceLocation: sourceLocation)
    }

    /// A deadline of a microsecond has passed before any stack is read: every goroutine is
    /// listed, none with a frame, each marked as not read; exit 15 says how many.
    @Test func tinyDeadlineMarksEveryStackAndResumes() throws {
        try withManyGoroutines { target in
            let result = try Subprocess.run(Subprocess.gospy,
                                            ["dump", "--pid", String(target.pid), "--format", "json", "--deadline", "0.000001"])
            #expect(result.status == 15, "exit \(result.status): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && result.stderr.contains("snapshot deadline") && result.stderr.contains("--deadline"),
                    "\(result.stderr)")
            let dump = try JSONDecoder().decode(Dump.self, from: Data(result.stdout.utf8))
            #expect(dump.goroutines.count >= Self.extra)
            #expect(dump.goroutines.allSatisfy { $0.frames.isEmpty && $0.truncated == SnapshotDeadline.notRead })
            // The count covers system goroutines too (dump hides them): at least those shown.
            let notRead = result.stderr.components(separatedBy: "reached: ").last?.split(separator: " ").first.flatMap { Int($0) }
            #expect((notRead ?? 0) >= dump.goroutines.count && result.stderr.contains(" 0 not walked"), "\(result.stderr)")
            try expectResumed(target)

            // The traceback format says it under each goroutine.
            let text = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid), "--deadline", "0.000001"])
            #expect(text.status == 15, "exit \(text.status): \(text.stderr)")
            let headers = text.stdout.split(separator: "\n").filter { $0.hasPrefix("goroutine ") }.count
            let marks = text.stdout.components(separatedBy: "...stack truncated: \(SnapshotDeadline.notRead)\n").count - 1
            #expect(headers >= Self.extra && marks == headers, "\(headers) goroutines, \(marks) marked")
            try expectResumed(target)

            // summary and waits cut the same way.
            for command in [["summary", "--json"], ["waits", "--json"]] {
                let other = try Subprocess.run(Subprocess.gospy,
                                               command + ["--pid", String(target.pid), "--deadline", "0.000001"])
                #expect(other.status == 15 && other.stderr.contains("snapshot deadline"), "\(command): \(other.stderr)")
                try expectResumed(target)
            }
        }
    }

    /// With the default deadline nothing is cut: every goroutine's stack is walked.
    @Test func defaultDeadlineCutsNothing() throws {
        try withManyGoroutines { target in
            let result = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid), "--format", "json"])
            #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
            let dump = try JSONDecoder().decode(Dump.self, from: Data(result.stdout.utf8))
            #expect(dump.goroutines.count >= Self.extra)
            #expect(!dump.goroutines.contains { $0.truncated?.hasPrefix("snapshot deadline") ?? false })
            #expect(dump.goroutines.filter { !$0.frames.isEmpty }.count >= Self.extra)
            try expectResumed(target)
        }
    }

    @Test func refusesANonPositiveDeadline() throws {
        for value in ["0", "-1", "inf"] {
            let result = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", "1", "--deadline", value])
            #expect(result.status == 64 && result.stderr.contains("--deadline"), "\(value): \(result.stderr)")
        }
    }
}
