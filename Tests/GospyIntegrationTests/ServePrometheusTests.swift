import Foundation
import Testing

/// A real Prometheus (Debian's package, installed by scripts/install-deps.sh) scrapes
/// `gospy serve` on loopback; its query API returns the target's goroutine counts, equal to
/// `gospy summary`'s.
@Suite(.serialized) struct ServePrometheusTests {
    static let prometheus = "/usr/bin/prometheus"

    @Test func prometheusScrapesTheGoroutineCounts() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.prometheus),
                     "no \(Self.prometheus): run scripts/install-deps.sh (Debian's prometheus package)")
        let binary = try #require(ServeTests.binary, "no test targets")
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let server = try GospyServer(["--pid", String(target.pid), "--interval", "1"])
        defer { server.stop() }

        let directory = NSTemporaryDirectory() + "gospy-prometheus-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
        scrape_configs:
          - job_name: gospy
            static_configs:
              - targets: ['127.0.0.1:\(server.port)']

        """
        try config.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        let port = try Self.freePort()
        let prometheus = try Subprocess.start(Self.prometheus, [
            "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ], errors: true)
        // Killed on every path.
        defer { prometheus.killAndWait() }

        // Wait for a scrape that saw the target (bounded).
        let query = "gospy_goroutines{pid=\"\(target.pid)\"}"
        var counts: [String: Int] = [:]
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            Thread.sleep(forTimeInterval: 1)
            guard prometheus.process.isRunning else { break }
            guard let reply = try? HTTPReply.get(port: port, path: "/api/v1/query?query=" + Self.escape(query)),
                  reply.status == 200,
                  let json = try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any],
                  let data = json["data"] as? [String: Any], let results = data["result"] as? [[String: Any]],
                  !results.isEmpty else { continue }
            counts = [:]
            for result in results {
                guard let metric = result["metric"] as? [String: String], let state = metric["state"],
                      let value = result["value"] as? [Any], let text = value.last as? String, let number = Int(text) else { continue }
                counts[state] = number
                #expect(metric["job"] == "gospy" && metric["executable"] == binary.path)
            }
            break
        }
        #expect(prometheus.process.isRunning, "prometheus exited")
        try #require(!counts.isEmpty, "Prometheus never returned gospy_goroutines for pid \(target.pid)")
        let summary = try ServeTests.summaryCounts(target.pid)
        #expect(counts.values.reduce(0, +) == summary.values.reduce(0, +), "Prometheus \(counts), gospy summary \(summary)")
        #expect(ServeTests.stableCounts(counts) == ServeTests.stableCounts(summary), "Prometheus \(counts), gospy summary \(summary)")

        // Its up: Prometheus's own, and gospy's per process.
        let up = try HTTPReply.get(port: port, path: "/api/v1/query?query=" + Self.escape("gospy_target_up{pid=\"\(target.pid)\"}"))
        #expect(up.text.contains("\"1\""), "\(up.text)")
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    /// A port nothing listens on now (bound to 0, read, closed).
    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr -> Int32 in
                guard bind(fd, sockaddr, length) == 0 else { return -1 }
                return getsockname(fd, sockaddr, &length)
            }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        return UInt16(bigEndian: address.sin_port)
    }
}
