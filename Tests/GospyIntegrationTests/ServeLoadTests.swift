import Foundation
import Testing

/// 1,000 scrapes in a bounded loop on loopback: the target is snapshotted at most once per
/// interval, gospy stays under one core and its memory stays flat.
@Suite(.serialized) struct ServeLoadTests {
    @Test func thousandScrapesOneSnapshotPerIntervalFlatMemory() throws {
        let binary = try #require(ServeTests.binary, "no test targets")
        let target = try RunningTarget(binary, arguments: ["-scenario", "many", "-n", "2000"])
        defer { target.stop() }
        let interval = 1.0
        let server = try GospyServer(["--pid", String(target.pid), "--interval", String(interval)])
        defer { server.stop() }
        let paths = ["/metrics", "/pid/\(target.pid)/debug/pprof/goroutine", "/pid/\(target.pid)/debug/pprof/goroutine?debug=1",
                     "/pid/\(target.pid)/debug/pprof/goroutine?debug=2", "/processes"]
        // Warm up (the binary analysed, buffers grown), then measure.
        for index in 0..<100 { #expect(try server.get(paths[index % paths.count]).status == 200) }
        let rssBefore = server.rssBytes
        let cpuBefore = server.cpuSeconds
        let started = Date()
        for index in 0..<1000 {
            let reply = try server.get(paths[index % paths.count])
            #expect(reply.status == 200, "\(paths[index % paths.count]): \(reply.text.prefix(200))")
        }
        let wall = Date().timeIntervalSince(started)
        let cpu = server.cpuSeconds - cpuBefore
        let rssAfter = server.rssBytes
        let taken = PrometheusText.samples(try server.get("/metrics").text)
            .first { $0.name == "gospy_snapshots_total" && $0.labels["pid"] == String(target.pid) }?.value ?? -1
        let total = Date().timeIntervalSince(started) + 1 // the warm-up's snapshot
        print(String(format: "gospy serve: 1000 scrapes in %.2f s, %.2f CPU s (%.0f%% of a core), %d snapshots, RSS %.1f -> %.1f MiB",
                     wall, cpu, 100 * cpu / wall, Int(taken), Double(rssBefore) / 1048576, Double(rssAfter) / 1048576))
        #expect(taken >= 1 && taken <= (total / interval).rounded(.up) + 2, "\(taken) snapshots in \(total) s at one per \(interval) s")
        #expect(cpu < wall, "gospy used \(cpu) CPU seconds in \(wall) s")
        #expect(rssAfter - rssBefore < 32 << 20, "RSS grew from \(rssBefore) to \(rssAfter)")
        // The target still answers.
        #expect(try target.send("count").hasPrefix("COUNT"))
    }
}
