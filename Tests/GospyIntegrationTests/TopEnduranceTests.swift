import Foundation
import Testing

/// `gospy top` run for a long time: one tracer thread for the whole run, and memory that does
/// not grow with the number of refreshes (each snapshot used to leave a thread behind).
@Suite(.serialized) struct TopEnduranceTests {
    /// Threads and resident memory of a running process, from /proc/PID/status.
    static func threadsAndRSS(_ pid: Int32) -> (threads: Int, rssKiB: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var threads: Int?
        var rss: Int?
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.first == "Threads:" { threads = fields.dropFirst().first.flatMap { Int($0) } }
            if fields.first == "VmRSS:" { rss = fields.dropFirst().first.flatMap { Int($0) } }
        }
        guard let threads, let rss else { return nil }
        return (threads, rss)
    }

    @Test func tenThousandRefreshesKeepThreadsAndMemoryFlat() throws {
        let binary = try #require(TestTargets.binary(release: "1.27", mode: "distro") ?? TestTargets.matrix.last)
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let refreshes = 10_000
        let top = Process()
        top.executableURL = URL(fileURLWithPath: Subprocess.gospy)
        // The shortest interval top accepts in practice: refreshes back to back.
        top.arguments = ["top", "--pid", String(target.pid), "--plain", "--interval", "0.0001", "--iterations", String(refreshes)]
        let output = Pipe()
        top.standardOutput = output
        top.standardError = FileHandle.nullDevice
        try top.run()
        // Count refreshes as they are printed, and sample gospy's threads and memory.
        nonisolated(unsafe) var printed = 0
        let reader = Thread {
            let handle = output.fileHandleForReading
            var carry = Data()
            let marker = Data("gospy top —".utf8)
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                carry.append(chunk)
                var start = carry.startIndex
                while let range = carry.range(of: marker, in: start..<carry.endIndex) {
                    printed += 1
                    start = range.upperBound
                }
                carry = Data(carry[start...].suffix(marker.count))
            }
        }
        reader.start()
        var samples: [(printed: Int, threads: Int, rssKiB: Int)] = []
        let deadline = Date().addingTimeInterval(600)
        while top.isRunning, Date() < deadline {
            if let sample = Self.threadsAndRSS(top.processIdentifier) { samples.append((printed, sample.threads, sample.rssKiB)) }
            usleep(100_000)
        }
        if top.isRunning { top.terminate() }
        top.waitUntilExit()
        #expect(top.terminationStatus == 0)
        #expect(printed >= refreshes - 1, "printed \(printed) refreshes")
        // From the 500th refresh on (caches and buffers warm) nothing may grow with refreshes.
        let warm = samples.filter { $0.printed >= 500 }
        let first = try #require(warm.first, "no sample after 500 refreshes: \(samples.count) samples")
        let last = try #require(warm.last)
        #expect(last.printed - first.printed >= refreshes / 2, "samples span \(first.printed)...\(last.printed)")
        let threads = warm.map(\.threads)
        #expect(threads.max()! <= first.threads + 1, "threads grew: \(first.threads) -> \(threads.max()!)")
        let rss = warm.map(\.rssKiB)
        #expect(rss.max()! <= first.rssKiB + first.rssKiB / 5 + 4096,
                "RSS grew: \(first.rssKiB) KiB at refresh \(first.printed) -> \(rss.max()!) KiB")
        print("top endurance: \(printed) refreshes, threads \(threads.min()!)-\(threads.max()!), RSS \(rss.min()!)-\(rss.max()!) KiB")
        #expect(try target.send("count").hasPrefix("COUNT "))
    }
}
