import Foundation
import Testing

/// `gospy serve` against the targets' own view: metrics equal to `gospy summary`, the pprof
/// endpoints equal to the target's own net/http/pprof, the safety rules, and bad input.
@Suite(.serialized) struct ServeTests {
    static var binary: TargetBinary? {
        TestTargets.binary(release: TestTargets.newestRelease, mode: "plain") ?? TestTargets.all.first { $0.mode == "plain" }
    }

    static func goroutineCounts(_ metrics: String, pid: Int32) -> [String: Int] {
        var counts: [String: Int] = [:]
        for sample in PrometheusText.samples(metrics) where sample.name == "gospy_goroutines" && sample.labels["pid"] == String(pid) {
            counts[sample.labels["state"] ?? "?"] = Int(sample.value)
        }
        return counts
    }

    static func summaryCounts(_ pid: Int32) throws -> [String: Int] {
        let result = try Subprocess.run(Subprocess.gospy, ["summary", "--json", "--pid", String(pid)])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require(object?["goroutineCounts"] as? [String: Int])
    }

    /// The target's main goroutine (answering the control command) and the spinner change
    /// state all the time: only the other states are compared exactly.
    static func stableCounts(_ counts: [String: Int]) -> [String: Int] {
        counts.filter { !SummaryMatrixTests.isTransient($0.key) }
    }

    @Test func metricsEqualSummaryAndExitedTargetIsDown() throws {
        let binary = try #require(Self.binary, "no test targets")
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let server = try GospyServer(["--pid", String(target.pid), "--interval", "0.5"])
        defer { server.stop() }
        let reply = try server.get("/metrics")
        #expect(reply.status == 200)
        #expect(reply.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let mine = Self.goroutineCounts(reply.text, pid: target.pid)
        let summary = try Self.summaryCounts(target.pid)
        #expect(mine.values.reduce(0, +) == summary.values.reduce(0, +), "gospy serve \(mine), gospy summary \(summary)")
        #expect(Self.stableCounts(mine) == Self.stableCounts(summary), "gospy serve \(mine), gospy summary \(summary)")
        let up = PrometheusText.samples(reply.text).first { $0.name == "gospy_target_up" && $0.labels["pid"] == String(target.pid) }
        #expect(up?.value == 1)
        #expect(up?.labels["executable"] == binary.path)

        // OpenMetrics when asked, ending in # EOF.
        let open = try server.get("/metrics", headers: ["Accept": "application/openmetrics-text; version=1.0.0"])
        #expect(open.headers["content-type"]?.hasPrefix("application/openmetrics-text") == true)
        #expect(open.text.hasSuffix("# EOF\n"))
        #expect(open.text.contains("# TYPE gospy_snapshots counter\n") && open.text.contains("gospy_snapshots_total{"))

        // The target exits: up 0, and the page still answers 200.
        target.stop()
        Thread.sleep(forTimeInterval: 0.6)
        let after = try server.get("/metrics")
        #expect(after.status == 200)
        let down = PrometheusText.samples(after.text).first { $0.name == "gospy_target_up" && $0.labels["pid"] == String(target.pid) }
        #expect(down?.value == 0)
        #expect(Self.goroutineCounts(after.text, pid: target.pid).isEmpty)
        let gone = try server.get("/pid/\(target.pid)/debug/pprof/goroutine")
        #expect(gone.status == 404)
    }

    /// Several processes, more than a scrape snapshots at once: each is up with the counts its
    /// own summary gives, and the figures come in pid order whatever order they finished in.
    @Test func metricsOfSeveralProcessesAreEachTheirOwn() throws {
        let binary = try #require(Self.binary, "no test targets")
        let targets = try (0..<6).map { _ in try RunningTarget(binary) }  // more than the 4 a scrape snapshots at once
        defer { for target in targets { target.stop() } }
        let server = try GospyServer(targets.flatMap { ["--pid", String($0.pid)] } + ["--interval", "0.5"])
        defer { server.stop() }
        let reply = try server.get("/metrics")
        #expect(reply.status == 200)
        let samples = PrometheusText.samples(reply.text)
        let upPids = samples.filter { $0.name == "gospy_target_up" }.compactMap { $0.labels["pid"].flatMap { Int32($0) } }
        #expect(upPids == targets.map(\.pid).sorted())
        for target in targets {
            let up = samples.first { $0.name == "gospy_target_up" && $0.labels["pid"] == String(target.pid) }
            #expect(up?.value == 1, "pid \(target.pid)")
            let mine = Self.goroutineCounts(reply.text, pid: target.pid)
            let summary = try Self.summaryCounts(target.pid)
            #expect(Self.stableCounts(mine) == Self.stableCounts(summary), "pid \(target.pid): serve \(mine), summary \(summary)")
        }
    }

    /// Scrapes within one interval share its snapshots: /metrics alone reads the goroutines
    /// without walking their stacks, once; the first profile takes a snapshot with stacks,
    /// which every later scrape of either kind shares.
    @Test func scrapesShareOneSnapshotPerInterval() throws {
        let binary = try #require(Self.binary, "no test targets")
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let server = try GospyServer(["--pid", String(target.pid), "--interval", "60"])
        defer { server.stop() }
        func snapshotsTaken() throws -> Double? {
            PrometheusText.samples(try server.get("/metrics").text)
                .first { $0.name == "gospy_snapshots_total" && $0.labels["pid"] == String(target.pid) }?.value
        }
        for _ in 0..<50 { #expect(try server.get("/metrics").status == 200) }
        #expect(try snapshotsTaken() == 1)
        for _ in 0..<50 {
            #expect(try server.get("/pid/\(target.pid)/debug/pprof/goroutine?debug=1").status == 200)
            #expect(try server.get("/metrics").status == 200)
        }
        #expect(try snapshotsTaken() == 2)
    }

    /// Bad input: each gets its status and a one-line reason, and the server keeps serving.
    @Test func badInputGetsTheRightStatusAndServingGoesOn() throws {
        let binary = try #require(Self.binary, "no test targets")
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let sleeper = try Subprocess.start("/bin/sleep", ["120"])
        defer { sleeper.killAndWait() }
        let server = try GospyServer(["--all-go"])
        defer { server.stop() }
        let vanished = try Subprocess.start("/bin/true", [])
        vanished.process.waitUntilExit()
        let cases: [(String, Int, String)] = [
            ("/pid/\(sleeper.pid)/debug/pprof/goroutine", 404, "not a Go program"),
            ("/pid/\(vanished.pid)/debug/pprof/goroutine", 404, "no process"),
            ("/pid/abc/debug/pprof/goroutine", 400, "not a pid"),
            ("/pid/\(target.pid)/debug/pprof/goroutine?debug=x", 400, "debug must be"),
            ("/pid/\(target.pid)/debug/pprof/goroutine?seconds=-3", 400, "seconds must be"),
            ("/pid/\(target.pid)/debug/pprof/goroutine?seconds=1&debug=1", 400, "incompatible"),
            ("/pid/\(target.pid)/debug/pprof/goroutine?seconds=100000", 400, "exceeds"),
            ("/pid/\(target.pid)/debug/pprof/goroutine?color=blue", 400, "unknown query parameter"),
            ("/pid/\(target.pid)/flamegraph?seconds=0", 400, "seconds must be"),
            ("/pid/\(target.pid)/flamegraph?seconds=61", 400, "exceeds"),
            ("/pid/\(target.pid)/flamegraph?rate=1000", 400, "unknown query parameter"),
            ("/pid/\(sleeper.pid)/flamegraph", 404, "not a Go program"),
            ("/nothing/here", 404, "no page"),
        ]
        for (path, status, reason) in cases {
            let reply = try server.get(path)
            #expect(reply.status == status, "\(path): \(reply.status) \(reply.text)")
            #expect(reply.text.contains(reason), "\(path): \(reply.text)")
            #expect(reply.text.split(separator: "\n").count == 1, "\(path): not one line: \(reply.text)")
        }
        let post = try HTTPReply.get(port: server.port, path: "/", raw: "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(post.status == 405)
        // A request that is not HTTP at all: the connection closes; the server goes on.
        _ = try? HTTPReply.get(port: server.port, path: "/", raw: "\u{01}\u{02} garbage\r\n\r\n", timeout: 5)
        #expect(try server.get("/metrics").status == 200)
        #expect(try server.get("/pid/\(target.pid)/debug/pprof/goroutine?debug=1").status == 200)
    }

    /// `/pid/N/flamegraph?seconds=S`: an SVG flame graph of S seconds of samples, the target's
    /// parked functions in it; while one recording of a process runs, another is refused with
    /// 429 (and Retry-After), and the process's other pages are still served.
    @Test func flameGraphRecordsOneAtATime() throws {
        let binary = try #require(Self.binary, "no test targets")
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let server = try GospyServer(["--pid", String(target.pid)])
        defer { server.stop() }
        let path = "/pid/\(target.pid)/flamegraph?seconds=3"
        let first = ReplyBox()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            first.reply = try? server.get(path)
            done.signal()
        }
        var refused: HTTPReply?
        var others = 0
        while done.wait(timeout: .now() + 0.2) == .timedOut {
            let second = try server.get(path)
            if second.status == 429 {
                refused = second
            } else {
                #expect(second.status == 200, "second recording: \(second.status) \(second.text.prefix(200))")
            }
            if try server.get("/pid/\(target.pid)/debug/pprof/goroutine?debug=1").status == 200 { others += 1 }
        }
        let reply = try #require(first.reply, "no reply to the first recording")
        #expect(reply.status == 200, "\(reply.status) \(reply.text.prefix(300))")
        #expect(reply.headers["content-type"] == "image/svg+xml")
        let refusal = try #require(refused, "no concurrent recording was refused")
        #expect(refusal.text.contains("already being recorded"))
        #expect(refusal.headers["retry-after"] != nil)
        #expect(others > 0, "other pages were not served during the recording")
        let svg = reply.text
        #expect(svg.contains("<svg") && svg.contains("pid \(target.pid)"))
        for function in ["main.parkChanRecv", "main.parkSelect", "main.parkMutexLock"] {
            #expect(svg.contains("data-name=\"\(function)\""), "no \(function) frame in the flame graph")
        }
        // Once it ended, the process can be recorded again.
        #expect(try server.get("/pid/\(target.pid)/flamegraph?seconds=1").status == 200)

        // --no-flamegraph: refused, and the page has no link.
        let quiet = try GospyServer(["--pid", String(target.pid), "--no-flamegraph"])
        defer { quiet.stop() }
        let off = try quiet.get("/pid/\(target.pid)/flamegraph?seconds=1")
        #expect(off.status == 404 && off.text.contains("--no-flamegraph"), "\(off.status) \(off.text)")
        let page = try quiet.get("/pid/\(target.pid)/")
        #expect(page.status == 200 && !page.text.contains("flamegraph"))
    }

    /// A token: required as a bearer (or basic password); a wrong one is 401; never printed.
    @Test func tokenIsRequiredAndCheckedAndNeverLogged() throws {
        let binary = try #require(Self.binary, "no test targets")
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let secret = "s3cret-\(UUID().uuidString)"
        let file = NSTemporaryDirectory() + "gospy-token-\(getpid())"
        try (secret + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let server = try GospyServer(["--pid", String(target.pid), "--token-file", file])
        #expect(try server.get("/metrics").status == 401)
        let wrong = try server.get("/metrics", headers: ["Authorization": "Bearer nope"])
        #expect(wrong.status == 401)
        #expect(wrong.headers["www-authenticate"]?.contains("Bearer") == true)
        #expect(try server.get("/metrics", headers: ["Authorization": "Bearer " + secret.dropLast()]).status == 401)
        #expect(try server.get("/metrics", headers: ["Authorization": "Bearer " + secret]).status == 200)
        // A flame graph (a recording) is behind the token as well.
        #expect(try server.get("/pid/\(target.pid)/flamegraph?seconds=1").status == 401)
        let basic = Data("any:\(secret)".utf8).base64EncodedString()
        #expect(try server.get("/", headers: ["Authorization": "Basic " + basic]).status == 200)
        server.stop()
        let output = String(decoding: server.child.output!.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            + String(decoding: server.child.errors!.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!output.contains(secret))
    }

    /// A non-loopback address without a token is a usage error, before anything listens.
    @Test func nonLoopbackNeedsAToken() throws {
        let result = try Subprocess.run(Subprocess.gospy, ["serve", "--listen", "0.0.0.0:0"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--token"))
        let bad = try Subprocess.run(Subprocess.gospy, ["serve", "--listen", "localhost"])
        #expect(bad.status == 64)
    }

    /// A named pid must be a Go process when serve starts: gospy's usual errors and exit codes.
    @Test func namedPidMustBeAGoProcess() throws {
        let sleeper = try Subprocess.start("/bin/sleep", ["120"])
        defer { sleeper.killAndWait() }
        let notGo = try Subprocess.run(Subprocess.gospy, ["serve", "--listen", "127.0.0.1:0", "--pid", String(sleeper.pid)])
        #expect(notGo.status == 4 && notGo.stderr.contains("not a Go program"), "\(notGo.status) \(notGo.stderr)")
        let vanished = try Subprocess.start("/bin/true", [])
        vanished.process.waitUntilExit()
        let gone = try Subprocess.run(Subprocess.gospy, ["serve", "--listen", "127.0.0.1:0", "--pid", String(vanished.pid)])
        #expect(gone.status == 3 && gone.stderr.contains("no process"), "\(gone.status) \(gone.stderr)")
    }

    /// `/processes` is `gospy ps --json`'s data.
    @Test func processesListsTheTargets() throws {
        let binary = try #require(Self.binary, "no test targets")
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let server = try GospyServer(["--all-go"])
        defer { server.stop() }
        let reply = try server.get("/processes")
        #expect(reply.status == 200)
        #expect(reply.headers["content-type"] == "application/json")
        let entries = try JSONDecoder().decode([PsEntry].self, from: reply.body)
        let entry = try #require(entries.first { $0.pid == target.pid })
        #expect(entry.goVersion == binary.goVersion && entry.executable == binary.path)
    }
}

final class ReplyBox: @unchecked Sendable {
    var reply: HTTPReply?
}
