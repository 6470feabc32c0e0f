import Foundation
import Testing

/// Goroutines the runtime's own leak detection marks leaked (Go 1.27's goroutineleak profile, and
/// 1.26's built with GOEXPERIMENT=goroutineleakprofile): `gospy waits` lists exactly those as
/// leaked, in the runtime's word, and an object whose every waiter is leaked as stuck for good;
/// `gospy dump` prints their headers as the runtime's own traceback does.
@Suite(.serialized) struct LeakedWaitsTests {
    static let binaries = TestTargets.all.filter {
        ($0.release == TestTargets.newestRelease && ["plain", "stripped", "distro"].contains($0.mode))
            || $0.mode == "leakprofile-go126"
    }

    struct Report: Decodable {
        struct Waiters: Decodable { let goroutines: [UInt64] }
        struct Object: Decodable {
            let kind: String
            let address: String?
            let stuckForGood: Bool
            let leaked: [UInt64]?
            let waiters: [Waiters]
        }
        let leaked: Int
        let objects: [Object]
    }

    @Test(arguments: binaries)
    func leakedAreTheRuntimesOwn(binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let syncwaits = try target.send("syncwaits")
        let reply = try target.send("leakcheck")
        let ids = try #require(reply.hasPrefix("LEAKCHECK ") ? reply.dropFirst(10) : nil, "reply \(reply)")
        let leaked = Set(ids.split(separator: ",").compactMap { UInt64($0) })
        // The parked set's nil-channel goroutines at least: the runtime marks them by definition.
        #expect(leaked.count >= 2, "\(binary.testDescription): the runtime marked \(leaked.sorted())")
        // The busy pool's workers are taking jobs: never leaked.
        let busy = syncwaits.split(separator: ",").filter { $0.contains(":busy:") }.compactMap { $0.split(separator: ":").first.flatMap { UInt64($0) } }
        #expect(busy.count == 3 && leaked.isDisjoint(with: busy), "\(binary.testDescription): busy \(busy), leaked \(leaked.sorted())")

        for flags in [[String](), ["--non-blocking"]] {
            let context = "\(binary.testDescription) \(flags.isEmpty ? "blocking" : "non-blocking")"
            let result = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid), "--json"] + flags)
            #expect(result.status == 0, "\(context): gospy waits: \(result.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            let marked = report.objects.flatMap { $0.leaked ?? [] }
            // A select's goroutine is listed under each of its channels: count goroutines once.
            #expect(Set(marked) == leaked, "\(context): gospy \(Set(marked).sorted()), the runtime \(leaked.sorted())")
            #expect(report.leaked == leaked.count, "\(context): \(report.leaked) leaked counted")
            for object in report.objects {
                let waiters = Set(object.waiters.flatMap(\.goroutines))
                let allLeaked = !waiters.isEmpty && waiters.isSubset(of: leaked)
                if allLeaked || object.kind == "nil chan" || object.kind == "select without cases" {
                    #expect(object.stuckForGood, "\(context): \(object.kind) \(object.address ?? "") not stuck for good")
                } else if object.kind != "unknown" {
                    #expect(!object.stuckForGood, "\(context): \(object.kind) \(object.address ?? "") stuck for good with waiters \(waiters.sorted())")
                }
            }
            #expect(!result.stdout.contains("deadlock"), "\(context): never called a deadlock")
        }

        // The text says it in the runtime's word.
        let text = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid)])
        #expect(text.stdout.contains("\(leaked.count) marked leaked by the runtime"), "\(text.stdout)")
        #expect(text.stdout.contains("marked leaked by the runtime's own leak detection, stuck for good"), "\(text.stdout)")

        // gospy's dump headers of the leaked goroutines equal the runtime's own.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gospy-leaked-\(target.pid).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try target.send("dump \(path)") == "DUMPED \(path)")
        let own = try String(contentsOfFile: path, encoding: .utf8)
        let dump = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid)])
        #expect(dump.status == 0, "gospy dump: \(dump.stderr)")
        func headers(_ text: String) -> [UInt64: String] {
            var result: [UInt64: String] = [:]
            for line in text.split(separator: "\n") where line.hasPrefix("goroutine ") && line.contains("(leaked)") {
                if let id = line.dropFirst(10).split(separator: " ").first.flatMap({ UInt64($0) }) { result[id] = String(line) }
            }
            return result
        }
        let ownHeaders = headers(own)
        #expect(Set(ownHeaders.keys) == leaked, "the runtime's dump: \(ownHeaders.keys.sorted())")
        #expect(headers(dump.stdout) == ownHeaders, "gospy's leaked headers differ from the runtime's")
    }
}
