import Foundation
import Testing

/// The grouped and JSON dump formats, pprof labels, and summary's --pc user, against the
/// target's own profile and dump.
@Suite struct DumpFormatsTests {
    /// One label set per "# labels:" line of a debug=1-style profile, with its count.
    static func labelSets(_ text: String) -> [String: Int] {
        var result: [String: Int] = [:]
        var count = 0
        for line in text.split(separator: "\n") {
            if let at = line.range(of: " @ "), let n = Int(line[..<at.lowerBound]) { count = n }
            if line.hasPrefix("# labels: ") { result[String(line.dropFirst("# labels: ".count)), default: 0] += count }
        }
        return result
    }

    static var binaries: [TargetBinary] {
        ["1.19", "1.23", "1.24", "1.27"].compactMap { TestTargets.binary(release: $0, mode: "distro") }
    }

    @Test(arguments: binaries)
    func labelsAndGroupsMatchTheRuntimesProfile(binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let grouped = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid), "--format", "grouped"])
        #expect(grouped.status == 0, "\(grouped.stderr)")
        let path = NSTemporaryDirectory() + "gospy-debug1-\(target.pid).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try target.send("debug1 \(path)").hasPrefix("DUMPED"))
        let own = try String(contentsOfFile: path, encoding: .utf8)
        let mine = Self.labelSets(grouped.stdout)
        #expect(!mine.isEmpty, "no labels found")
        #expect(mine == Self.labelSets(own), "gospy \(mine), runtime \(Self.labelSets(own))")
        // The total counts the same goroutines.
        let total = { (text: String) in text.split(separator: "\n").first.flatMap { Int($0.split(separator: " ").last ?? "") } }
        #expect(total(grouped.stdout) == total(own))
    }

    @Test(arguments: binaries)
    func jsonCarriesFramesLabelsAndCreators(binary: TargetBinary) throws {
        struct Dump: Decodable {
            struct Frame: Decodable { let function: String; let file: String; let line: Int; let inlined: Bool }
            struct Creator: Decodable { let function: String; let goroutine: UInt64? }
            struct Item: Decodable {
                let id: UInt64; let state: String; let labels: [String: String]; let frames: [Frame]; let createdBy: Creator?
            }
            let goroutines: [Item]
        }
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let result = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid), "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let dump = try JSONDecoder().decode(Dump.self, from: Data(result.stdout.utf8))
        let runtime = try target.ownDump()
        #expect(Set(dump.goroutines.map(\.id)) == Set(runtime.goroutines.map { UInt64($0.id) }))
        #expect(dump.goroutines.contains { $0.labels == ["worker": "labelled", "shard": "7"] })
        #expect(dump.goroutines.contains { $0.frames.contains { $0.inlined } })
        for item in dump.goroutines {
            guard let theirs = runtime.goroutine(Int(item.id)), !["running", "runnable", "syscall"].contains(theirs.state),
                  item.state == theirs.state else { continue }
            #expect(item.frames.map(\.function).prefix(50) == theirs.frames.map(\.function).prefix(50), "goroutine \(item.id)")
            #expect(item.createdBy?.function == theirs.createdBy?.function)
        }
    }

    /// summary's default location is the innermost frame the runtime's own dump shows.
    @Test(arguments: binaries)
    func summaryUserLocationIsTheInnermostShownFrame(binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let (summary, result) = try SummaryJSON.capture(pid: target.pid)
        let report = try #require(summary, "\(result.stderr)")
        let runtime = try target.ownDump()
        var compared = 0
        for goroutine in report.goroutines {
            guard let theirs = runtime.goroutine(goroutine.id), theirs.state == goroutine.state,
                  !["running", "runnable", "syscall"].contains(theirs.state), let first = theirs.frames.first else { continue }
            #expect(goroutine.location?.function == first.function && goroutine.location?.line == first.line,
                    "goroutine \(goroutine.id): \(String(describing: goroutine.location)) vs \(first)")
            compared += 1
        }
        #expect(compared >= 25)
    }
}
