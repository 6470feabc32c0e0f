import Foundation
import Testing

/// gospy serve's /pid/N/debug/pprof/goroutine against the target's own net/http/pprof
/// (TestTargets' `httppprof` command), fetched the same way: `go tool pprof` on both URLs, and
/// the debug=1 and debug=2 bodies.
@Suite(.serialized) struct ServePprofTests {
    /// Goroutines that legitimately differ between the two fetches: the target's HTTP server
    /// (serving its own profile while it is taken), its main goroutine and the spinner.
    static func moving(_ frames: [String]) -> Bool {
        frames.contains { $0.hasPrefix("net/http.") || $0.hasPrefix("net.") || $0.hasPrefix("internal/poll.")
            || $0 == "main.main" || $0 == "main.spinForever" || $0.hasPrefix("runtime/pprof.") }
    }

    static var binaries: [TargetBinary] {
        TestTargets.all.filter { $0.mode == "plain" || $0.mode == "pie" }
    }

    @Test(arguments: binaries)
    func goToolPprofGetsTheTargetsOwnStacks(binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let reply = try target.send("httppprof")
        try #require(reply.hasPrefix("HTTP "), "target: \(reply)")
        let own = "http://" + reply.dropFirst("HTTP ".count)
        let server = try GospyServer(["--pid", String(target.pid), "--interval", "0.1", "--blocking"])
        defer { server.stop() }
        let path = "/pid/\(target.pid)/debug/pprof/goroutine"

        let go = TestTargets.toolchain(release: binary.release)
        let temporary = NSTemporaryDirectory() + "gospy-serve-pprof-\(getpid())-\(target.pid)"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let environment = ["GOTOOLCHAIN": "local", "GOFLAGS": "", "PPROF_TMPDIR": temporary, "HOME": temporary,
                           "GOCACHE": TestTargets.cacheDirectory + "/gocache/go\(binary.release)"]
        // -raw: the fetch works and the profile is a goroutine profile.
        let raw = try Subprocess.run(go, ["tool", "pprof", "-raw", server.url + path], environment: environment)
        #expect(raw.status == 0, "\(raw.stderr)")
        #expect(raw.stdout.contains("PeriodType: goroutine count") && raw.stdout.contains("Samples:"), "\(raw.stdout.prefix(300))")
        // -traces: the same stacks with the same counts as the target's own endpoint.
        let mine = try Subprocess.run(go, ["tool", "pprof", "-traces", server.url + path], environment: environment)
        let theirs = try Subprocess.run(go, ["tool", "pprof", "-traces", own + "/debug/pprof/goroutine"], environment: environment)
        #expect(mine.status == 0 && theirs.status == 0, "\(mine.stderr) \(theirs.stderr)")
        let a = PprofOutputTests.traces(mine.stdout).filter { !Self.moving($0.key.frames) }
        let b = PprofOutputTests.traces(theirs.stdout).filter { !Self.moving($0.key.frames) }
        #expect(a.count >= 20, "too few stacks: \(a.count)")
        for (trace, count) in b where a[trace] != count {
            Issue.record("runtime stack x\(count) \(trace.labels) \(trace.frames) has \(a[trace] ?? 0) in gospy serve's profile")
        }
        for (trace, count) in a where b[trace] == nil {
            Issue.record("gospy serve stack x\(count) \(trace.labels) \(trace.frames) is not in the runtime's profile")
        }

        // debug=0's headers, as net/http/pprof sends them (Alloy checks the content type).
        let binaryReply = try server.get(path)
        #expect(binaryReply.headers["content-type"] == "application/octet-stream")
        #expect(binaryReply.headers["content-disposition"] == "attachment; filename=\"goroutine\"")
        #expect(binaryReply.body.prefix(2) == Data([0x1f, 0x8b]), "gzip")

        // debug=2: the same goroutines, each printed as the runtime's own debug=2 prints it.
        let port = UInt16(own.split(separator: ":").last!)!
        Thread.sleep(forTimeInterval: 0.2)
        let mineText = try server.get(path + "?debug=2")
        let theirsText = try HTTPReply.get(port: port, path: "/debug/pprof/goroutine?debug=2")
        #expect(mineText.headers["content-type"] == "text/plain; charset=utf-8")
        let myDump = GoroutineDump(parsing: mineText.text)
        let ownDump = GoroutineDump(parsing: theirsText.text)
        let myByID = Dictionary(myDump.goroutines.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var compared = 0
        for goroutine in ownDump.goroutines where !Self.moving(goroutine.frames.map(\.function)) {
            guard let mineG = myByID[goroutine.id] else {
                Issue.record("goroutine \(goroutine.id) missing from gospy serve's debug=2")
                continue
            }
            // Its text as the runtime prints it: header, every frame with its arguments and
            // +0x offset, the creator.
            #expect(mineG.header == goroutine.header, "goroutine \(goroutine.id)")
            #expect(mineG.body == goroutine.body, "goroutine \(goroutine.id): gospy\n\(mineG.body.joined(separator: "\n"))\nruntime\n\(goroutine.body.joined(separator: "\n"))")
            compared += 1
        }
        #expect(compared >= 25, "too few goroutines compared: \(compared)")

        // debug=1: byte for byte the runtime's own debug=1 for every group that did not move
        // (its "@" PCs, labels, each frame's PC, +0x offset, file:line and tabwriter's tabs),
        // with its count and in the runtime's order.
        Thread.sleep(forTimeInterval: 0.2)
        let mineGrouped = try server.get(path + "?debug=1").text
        let theirsGrouped = try HTTPReply.get(port: port, path: "/debug/pprof/goroutine?debug=1").text
        let x = Self.groups(mineGrouped), y = Self.groups(theirsGrouped)
        #expect(x.count >= 20)
        let mineCounts = Dictionary(x.map { ($0.block, $0.count) }, uniquingKeysWith: +)
        let theirCounts = Dictionary(y.map { ($0.block, $0.count) }, uniquingKeysWith: +)
        for (block, count) in theirCounts where mineCounts[block] != count {
            Issue.record("runtime group x\(count) is x\(mineCounts[block] ?? 0) in gospy serve's debug=1:\n\(block.debugDescription)\nnearest of gospy's:\n\(Self.nearest(block, in: Array(mineCounts.keys)).debugDescription)")
        }
        for (block, count) in mineCounts where theirCounts[block] == nil {
            Issue.record("gospy serve group x\(count) is not in the runtime's debug=1: \(block.debugDescription)")
        }
        let common = Set(mineCounts.keys).intersection(theirCounts.keys)
        #expect(x.map(\.block).filter(common.contains) == y.map(\.block).filter(common.contains), "groups in another order than the runtime's")
        #expect(x.contains { $0.block.contains("# labels: {") }, "no labelled group compared")
        // Inlined calls (no +0x in a traceback) among the goroutines compared: their debug=1
        // lines carry the inline marks' PCs, which the comparison above checks.
        let inlined = ownDump.goroutines.filter { !Self.moving($0.frames.map(\.function)) }.flatMap(\.frames).filter { $0.offset == nil }
        #expect(!inlined.isEmpty, "no inlined call in the compared goroutines: inline marks go untested")
    }

    /// debug=1 groups in the order printed: each group's whole text (the "@" line, the labels
    /// line, the "#" lines exactly as written) with its count; moving goroutines left out (and
    /// a goroutine the target's HTTP server has just created, whose only recorded frame is
    /// goexit, so that no frame is listed).
    static func groups(_ text: String) -> [(block: String, count: Int)] {
        var result: [(block: String, count: Int)] = []
        for block in text.components(separatedBy: "\n\n") {
            var lines = block.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.first?.hasPrefix("goroutine profile:") == true { lines.removeFirst() }
            guard let head = lines.first, let at = head.range(of: " @ "), let count = Int(head[..<at.lowerBound]) else { continue }
            let frames = lines.filter { $0.hasPrefix("#\t") }
            let functions = frames.map { line -> String in
                let fields = line.split(separator: "\t", omittingEmptySubsequences: true)
                return fields.count >= 3 ? String(fields[2].split(separator: "+").first ?? "") : ""
            }
            guard !frames.isEmpty, !moving(functions) else { continue }
            result.append((String(head[at.upperBound...]) + "\n" + lines.dropFirst().joined(separator: "\n"), count))
        }
        return result
    }

    /// The block of `candidates` sharing the longest prefix with `block` (for failure messages).
    static func nearest(_ block: String, in candidates: [String]) -> String {
        candidates.max { a, b in
            zip(a, block).prefix { $0 == $1 }.count < zip(b, block).prefix { $0 == $1 }.count
        } ?? ""
    }

    /// seconds=N: a delta profile (the parked set does not change: no stack keeps a count).
    @Test func secondsGivesADeltaProfile() throws {
        let binary = try #require(ServeTests.binary, "no test targets")
        let target = try RunningTarget(binary, arguments: ["-scenario", "growing"])
        defer { target.stop() }
        let server = try GospyServer(["--pid", String(target.pid), "--interval", "0.5"])
        defer { server.stop() }
        let go = TestTargets.toolchain(release: binary.release)
        let temporary = NSTemporaryDirectory() + "gospy-serve-delta-\(getpid())"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let reply = try server.get("/pid/\(target.pid)/debug/pprof/goroutine?seconds=1")
        #expect(reply.status == 200)
        #expect(reply.headers["content-disposition"] == "attachment; filename=\"goroutine-delta\"")
        let file = temporary + "/delta.pb.gz"
        try reply.body.write(to: URL(fileURLWithPath: file))
        let traces = try Subprocess.run(go, ["tool", "pprof", "-traces", file],
                                        environment: ["GOTOOLCHAIN": "local", "HOME": temporary, "PPROF_TMPDIR": temporary,
                                                      "GOCACHE": TestTargets.cacheDirectory + "/gocache/go\(binary.release)"])
        #expect(traces.status == 0, "\(traces.stderr)")
        let stacks = PprofOutputTests.traces(traces.stdout)
        // The growing scenario adds 5 leakyWorkers every 200 ms: they are what the delta holds.
        let leaky = stacks.filter { $0.key.frames.contains { $0.contains("leakyWorker") } }.values.reduce(0, +)
        #expect(leaky >= 5, "delta: \(stacks)")
        #expect(!stacks.keys.contains { $0.frames.contains("main.parkChanRecv") }, "unchanged stacks kept in a delta")
    }
}
