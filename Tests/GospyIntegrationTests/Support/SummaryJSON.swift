import Foundation

/// `gospy summary --json`, decoded for tests.
struct SummaryJSON: Decodable {
    struct Processor: Decodable {
        let id: Int32
        let status: String
        let schedtick: UInt32
        let syscalltick: UInt32
        let m: Int64?
        let runqueue: Int
    }
    struct Threads: Decodable {
        let total: Int
        let running: Int
        let sleeping: Int
    }
    struct Location: Decodable {
        let function: String
        let file: String
        let line: Int
    }
    struct Goroutine: Decodable {
        let id: Int
        let state: String
        let status: String
        let waitReason: String?
        let waitMinutes: Int?
        let lockedToThread: Bool
        let m: Int64?
        let location: Location?
        let startFunction: String?
        let createdBy: Location?
        let parentId: Int?
        let system: Bool
    }
    struct Scheduler: Decodable {
        let goidgen: UInt64
    }
    let pid: Int32
    let goVersion: String
    let scheduler: Scheduler?
    let gomaxprocs: Int32
    let processors: [Processor]
    let threads: Threads
    let goroutines: [Goroutine]
    let totalGoroutines: Int
    let unreadableGoroutines: Int
    let stoppedSeconds: Double?

    static func capture(pid: Int32, _ extra: [String] = []) throws -> (SummaryJSON?, Subprocess.Result) {
        let result = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(pid), "--json"] + extra)
        guard result.status == 0 else { return (nil, result) }
        return (try JSONDecoder().decode(SummaryJSON.self, from: Data(result.stdout.utf8)), result)
    }
}

enum ProcessState {
    /// Each thread's state letter from /proc/PID/task/*/stat.
    static func threadStates(_ pid: Int32) -> [Character] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { tid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            return stat[stat.index(close, offsetBy: 2)]
        }
    }

    /// Whether any thread is stopped by a tracer or job control.
    static func anyStopped(_ pid: Int32) -> Bool {
        threadStates(pid).contains { $0 == "t" || $0 == "T" }
    }
}
