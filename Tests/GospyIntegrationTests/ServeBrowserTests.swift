import Foundation
import Testing

/// gospy serve's web page in a real browser: headless Chromium driven by selenium
/// (scripts/serve/browser-check.py): the process list, a click to the target, its goroutines
/// grouped by stack, compared with the target's own profile. Screenshots go to the test output.
@Suite(.serialized) struct ServeBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/serve/browser-check.py").path
    static let python = TestTargets.seleniumPython

    @Test func processListClickAndGroupedGoroutines() throws {
        for tool in [Self.python, "/usr/bin/chromium", "/usr/bin/chromedriver"] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "no \(tool): run scripts/install-deps.sh")
        }
        let binary = try #require(ServeTests.binary, "no test targets")
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let server = try GospyServer(["--all-go", "--blocking"])
        defer { server.stop() }
        let shots = NSTemporaryDirectory() + "gospy-serve-browser-\(getpid())"
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        let result = try Subprocess.run(Self.python, [Self.script, server.url, String(target.pid), shots],
                                        environment: ["HOME": shots])
        try #require(result.status == 0, "browser: \(result.stderr.suffix(2000))")
        print("gospy serve browser screenshots: \(shots)/processes.png \(shots)/process.png \(shots)/flamegraph.png")
        let page = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let listed = page["listed"] as? [String] ?? []
        #expect(listed.contains(String(target.pid)), "process list: \(listed)")
        #expect((page["url"] as? String)?.hasSuffix("/pid/\(target.pid)/") == true)
        #expect((page["title"] as? String)?.contains(binary.path) == true)
        let links = page["links"] as? [String: String] ?? [:]
        #expect(links["full-dump"]?.hasSuffix("/pid/\(target.pid)/debug/pprof/goroutine?debug=2") == true)
        #expect(links["pprof"]?.hasSuffix("/pid/\(target.pid)/debug/pprof/goroutine?debug=0") == true)

        // The groups the page shows against the runtime's own debug=1 profile: the same
        // number of goroutines, and each stable group with the same count.
        let groups = page["groups"] as? [[String: Any]] ?? []
        let shown = groups.reduce(0) { $0 + ($1["count"] as? Int ?? 0) }
        let path = NSTemporaryDirectory() + "gospy-browser-debug1-\(target.pid).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try target.send("debug1 \(path)").hasPrefix("DUMPED"))
        let own = try String(contentsOfFile: path, encoding: .utf8)
        let ownTotal = own.split(separator: "\n").first.flatMap { Int($0.split(separator: " ").last ?? "") }
        #expect(shown == ownTotal, "page shows \(shown) goroutines, the runtime \(ownTotal ?? -1)")
        #expect((page["total"] as? String)?.hasPrefix("\(shown) goroutines in \(groups.count) groups") == true)
        // Per innermost main.park* function, the same number of goroutines on both sides.
        let ownGroups = Self.innermostFunctions(own).filter { $0.key.hasPrefix("main.park") }
        var pageGroups: [String: Int] = [:]
        for group in groups {
            let functions = (group["stack"] as? String ?? "").split(separator: "\n")
                .filter { !$0.hasPrefix("\t") && !$0.hasPrefix(" ") && !$0.hasPrefix("created by") }
            if let first = functions.first(where: { $0.hasPrefix("main.") }), first.hasPrefix("main.park") {
                pageGroups[String(first), default: 0] += group["count"] as? Int ?? 0
            }
        }
        #expect(ownGroups.count >= 10, "too few parked functions in the runtime's profile: \(ownGroups)")
        #expect(pageGroups == ownGroups, "page \(pageGroups), runtime \(ownGroups)")

        // The flame graph link: an SVG that the browser renders, with a frame for each parked
        // function of the runtime's profile, drawn (non-empty boxes) and sampled.
        #expect(links["flamegraph"]?.hasSuffix("/pid/\(target.pid)/flamegraph?seconds=5") == true)
        let flame = page["flamegraph"] as? [String: Any] ?? [:]
        #expect((flame["root"] as? String)?.lowercased() == "svg", "flame graph page: \(flame["root"] ?? "nothing")")
        #expect((flame["url"] as? String)?.hasSuffix("/pid/\(target.pid)/flamegraph?seconds=5") == true)
        #expect((flame["title"] as? String)?.contains("pid \(target.pid)") == true, "\(flame["title"] ?? "no title")")
        let frames = flame["frames"] as? [[String: Any]] ?? []
        let drawn = frames.filter { ($0["width"] as? Double ?? 0) > 0 && ($0["height"] as? Double ?? 0) > 0 }
        let names = Set(drawn.compactMap { $0["name"] as? String })
        let missing = ownGroups.keys.filter { !names.contains($0) }
        #expect(missing.isEmpty, "parked functions without a frame in the flame graph: \(missing.sorted()); frames: \(names.sorted().prefix(40))")
        let total = Int(flame["total"] as? String ?? "") ?? 0
        // Every sample counts each of the parked goroutines: at least one per goroutine.
        #expect(total >= ownGroups.values.reduce(0, +), "flame graph total \(total)")
    }

    /// debug=1: the innermost main.* function of each group -> its count (summed).
    static func innermostFunctions(_ text: String) -> [String: Int] {
        var result: [String: Int] = [:]
        for block in text.components(separatedBy: "\n\n") {
            let lines = block.split(separator: "\n")
            guard let head = lines.first(where: { $0.contains(" @ ") }), let count = Int(head.split(separator: " ").first ?? "") else { continue }
            let functions = lines.filter { $0.hasPrefix("#\t") }.compactMap { line -> String? in
                let fields = line.split(separator: "\t")
                return fields.count >= 3 ? String(fields[2].split(separator: "+").first ?? "") : nil
            }
            if let first = functions.first(where: { $0.hasPrefix("main.") }) { result[first, default: 0] += count }
        }
        return result
    }
}
