import Foundation
import GospyBinary
import Testing

/// `gospy ps --json`, decoded.
struct PsEntry: Decodable {
    let pid: Int32
    let namespacePID: Int32?
    let user: String?
    let goVersion: String?
    let mainModule: String?
    let executable: String
    let uptimeSeconds: Double?
    let rssBytes: UInt64?
    let threads: Int?
    let goroutines: Int?
    let container: String?
    let problem: String?

    static func list(_ arguments: [String] = []) throws -> (entries: [PsEntry], seconds: Double) {
        let started = Date()
        let result = try Subprocess.run(Subprocess.gospy, ["ps", "--json"] + arguments)
        let seconds = Date().timeIntervalSince(started)
        guard result.status == 0 else { throw PsError.failed(result.status, result.stderr) }
        return (try JSONDecoder().decode([PsEntry].self, from: Data(result.stdout.utf8)), seconds)
    }

    enum PsError: Error { case failed(Int32, String) }
}

/// `gospy ps` against what the processes are: the binaries the tests started, their own
/// goroutine counts and /proc.
@Suite(.serialized) struct PsCommandTests {
    /// runtime.allglen read by the test itself, through the unstripped binary's symbol and
    /// /proc/PID/mem (gospy derives it its own way).
    static func allglen(pid: Int32, binary: String) throws -> Int {
        let elf = try ElfFile(path: binary)
        let symbol = try #require(elf.symbol(named: "runtime.allglen"), "\(binary) has no runtime.allglen symbol")
        // A PIE's link-time address plus where its first page was mapped.
        var bias: UInt64 = 0
        if elf.isPositionIndependent {
            let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
            let line = try #require(maps.split(separator: "\n").first { $0.hasSuffix(binary) })
            let start = try #require(UInt64(line.split(separator: "-")[0], radix: 16))
            let firstLoad = try #require(elf.segments.filter(\.isLoad).map(\.virtualAddress).min())
            bias = start - (firstLoad & ~0xfff)
        }
        let mem = try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/mem"))
        defer { try? mem.close() }
        try mem.seek(toOffset: symbol.value + bias)
        let bytes = try #require(try mem.read(upToCount: 8))
        return Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    }

    static func procStatus(_ pid: Int32, _ field: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// Every supported release's plain target, a PIE, and a non-Go process: the Go ones are
    /// listed with the right version, executable, goroutine count and threads; the other is not.
    @Test func listsEveryGoProcessAndNothingElse() throws {
        TestTargets.requireMatrix()
        var binaries = TestTargets.all.filter { $0.mode == "plain" }
        if let pie = TestTargets.all.first(where: { $0.mode == "pie" }) { binaries.append(pie) }
        try #require(!binaries.isEmpty)
        let targets = try binaries.map { try RunningTarget($0) }
        defer { targets.forEach { $0.stop() } }
        let sleeper = try Subprocess.start("/bin/sleep", ["120"])
        defer { sleeper.killAndWait() }

        let (entries, _) = try PsEntry.list()
        let byPID = Dictionary(entries.map { ($0.pid, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byPID[sleeper.pid] == nil, "a non-Go process is listed")
        #expect(byPID[getpid()] == nil, "the (Swift) test runner is listed")
        for target in targets {
            let entry = try #require(byPID[target.pid], "\(target.binary.testDescription) pid \(target.pid) not listed")
            #expect(entry.problem == nil, "\(target.binary.testDescription): \(entry.problem ?? "")")
            #expect(entry.goVersion == target.binary.goVersion)
            #expect(entry.executable == target.binary.path)
            #expect(entry.mainModule == "example.com/gospytarget")
            #expect(entry.namespacePID == nil)
            #expect(entry.user == String(cString: getpwuid(getuid()).pointee.pw_name))
            #expect((entry.rssBytes ?? 0) > 1 << 20)
            #expect((0..<600).contains(entry.uptimeSeconds ?? -1))
            // Nothing in a parked target starts or ends goroutines or threads by itself.
            #expect(entry.threads == Self.procStatus(target.pid, "Threads").flatMap(Int.init))
            let count = try target.send("count")
            let numGoroutine = try #require(Int(count.dropFirst("COUNT ".count)))
            let goroutines = try #require(entry.goroutines, "no goroutine count")
            #expect(goroutines == (try Self.allglen(pid: target.pid, binary: target.binary.path)),
                    "\(target.binary.testDescription)")
            #expect(goroutines >= numGoroutine, "allglen \(goroutines) < NumGoroutine \(numGoroutine)")
        }
    }

    /// The processes on the host that Go's own `go version` says are Go programs, with the
    /// release it reads: pid -> version, for every pid whose executable could be read
    /// (distinct files asked once).
    static func goProcessesByGoVersion() throws -> [Int32: String] {
        var byFile: [String: [Int32]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
            guard let pid = Int32(name) else { continue }
            var info = stat()
            guard stat("/proc/\(pid)/exe", &info) == 0 else { continue }
            byFile["\(info.st_dev):\(info.st_ino)", default: []].append(pid)
        }
        let go = TestTargets.toolchain(release: TestTargets.newestRelease)
        var result: [Int32: String] = [:]
        for pids in byFile.values {
            // `go version FILE`: "FILE: go1.27.3" for a Go executable, an error otherwise.
            let asked = try Subprocess.run(go, ["version", "/proc/\(pids[0])/exe"], environment: ["GOTOOLCHAIN": "local"])
            let prefix = "/proc/\(pids[0])/exe: "
            guard asked.status == 0, asked.stdout.hasPrefix(prefix) else { continue }
            let version = asked.stdout.dropFirst(prefix.count).trimmingCharacters(in: .whitespacesAndNewlines)
            guard version.hasPrefix("go") else { continue }
            for pid in pids { result[pid] = version }
        }
        return result
    }

    /// A process's start time (field 22 of /proc/PID/stat): a pid that is the same process
    /// before and after the listing has the same one.
    static func startTime(_ pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    /// The benchmark's case as a test: 20 targets among at least 200 processes (sleeps fill the
    /// rest); every Go process of the host listed, with the release `go version` reads from
    /// its executable, and nothing else; each target with its executable, module, threads and
    /// goroutine count. (BENCHMARKS.md records the time.)
    @Test func twentyTargetsAmongTwoHundredProcesses() throws {
        TestTargets.requireMatrix()
        let binary = try #require(TestTargets.binary(release: TestTargets.newestRelease, mode: "plain")
            ?? TestTargets.all.first { $0.mode == "plain" })
        let targets = try (0..<20).map { _ in try RunningTarget(binary) }
        defer { targets.forEach { $0.stop() } }
        let existing = (try FileManager.default.contentsOfDirectory(atPath: "/proc")).filter { Int($0) != nil }.count
        let fillers = try (0..<max(0, 200 - existing)).map { _ in try Subprocess.start("/bin/sleep", ["120"]) }
        defer { fillers.forEach { $0.killAndWait() } }

        let before = try Self.goProcessesByGoVersion()
        let startsBefore = Dictionary(uniqueKeysWithValues: before.keys.map { ($0, Self.startTime($0)) })
        let (entries, seconds) = try PsEntry.list()
        print("gospy ps: \(entries.count) Go processes among \(existing + fillers.count) processes in \(String(format: "%.3f", seconds)) s")
        let byPID = Dictionary(entries.map { ($0.pid, $0) }, uniquingKeysWith: { a, _ in a })
        for target in targets {
            let entry = try #require(byPID[target.pid], "target \(target.pid) not listed")
            #expect(entry.goVersion == binary.goVersion && entry.problem == nil, "\(entry)")
            #expect(entry.executable == binary.path && entry.mainModule == "example.com/gospytarget")
            #expect(entry.threads == Self.procStatus(target.pid, "Threads").flatMap(Int.init))
            #expect(entry.goroutines == (try Self.allglen(pid: target.pid, binary: binary.path)))
        }
        for filler in fillers { #expect(byPID[filler.pid] == nil) }
        // Every Go process of the host that lived through the listing (other agents' too), with
        // its release; no process that `go version` does not call Go.
        var compared = 0
        for (pid, version) in before where pid != getpid() {
            guard let start = startsBefore[pid], start != nil, Self.startTime(pid) == start else { continue }
            let entry = byPID[pid]
            #expect(entry != nil, "Go process \(pid) (\(version)) not listed")
            if let entry, entry.problem == nil { #expect(entry.goVersion == version, "pid \(pid): \(entry.goVersion ?? "nil"), go version says \(version)") }
            compared += 1
        }
        #expect(compared >= targets.count)
        // Listed as Go but not in the census: started since, or not a Go program. (A process
        // whose executable cannot be read is listed with the reason, Go or not.)
        let unknown = entries.filter { before[$0.pid] == nil && $0.goVersion != nil }
        if !unknown.isEmpty {
            let after = try Self.goProcessesByGoVersion()
            for entry in unknown where Self.startTime(entry.pid) != nil && after[entry.pid] == nil {
                Issue.record("pid \(entry.pid) \(entry.executable) is listed but go version does not call it Go")
            }
        }
    }
}
