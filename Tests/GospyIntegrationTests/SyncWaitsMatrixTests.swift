import Foundation
import Testing

/// What goroutines blocked on sync objects, asleep, or in stuck channel patterns wait on, as
/// `gospy waits --json` reports it, against what each goroutine reported about itself before
/// it blocked (the target's `syncwaits` command: fmt's %p of the object, its place in the
/// queue, runtime.nanotime() before a sleep).
@Suite(.serialized) struct SyncWaitsMatrixTests {
    struct Truth {
        let goroutine: UInt64
        let kind: String
        let object: UInt64
        let extra: Int64
    }

    static func parse(_ reply: String) throws -> [Truth] {
        let body = try #require(reply.hasPrefix("SYNCWAITS ") ? reply.dropFirst(10) : nil, "reply \(reply)")
        return try body.split(separator: ",").map { entry in
            let fields = entry.split(separator: ":").map(String.init)
            try #require(fields.count == 4, "entry \(entry)")
            return Truth(goroutine: try #require(UInt64(fields[0])), kind: fields[1],
                         object: try #require(UInt64(fields[2].dropFirst(2), radix: 16)), extra: try #require(Int64(fields[3])))
        }
    }

    /// The parts of `gospy waits --json` compared.
    struct Report: Decodable {
        struct Queued: Decodable {
            let goroutine: UInt64
            let position: Int?
            let role: String?
            let wakesAt: Int64?
        }
        struct Waiters: Decodable { let goroutines: [UInt64] }
        struct Object: Decodable {
            let kind: String
            let address: String?
            let global: String?
            let suspect: String?
            let stuckForGood: Bool
            let waiters: [Waiters]
            let queue: [Queued]?
        }
        let objects: [Object]
    }

    /// What the report says one goroutine waits on.
    struct Seen {
        let kind: String
        let address: UInt64?
        let object: Report.Object
        let queued: Report.Queued?
    }

    static func seen(_ report: Report) -> [UInt64: [Seen]] {
        var result: [UInt64: [Seen]] = [:]
        for object in report.objects {
            let address = object.address.flatMap { UInt64($0.dropFirst(2), radix: 16) }
            let queued = Dictionary((object.queue ?? []).map { ($0.goroutine, $0) }, uniquingKeysWith: { first, _ in first })
            for goroutine in object.waiters.flatMap(\.goroutines) {
                result[goroutine, default: []].append(Seen(kind: object.kind, address: address, object: object, queued: queued[goroutine]))
            }
        }
        return result
    }

    static let binaries = TestTargets.matrix.filter { ["plain", "stripped", "distro"].contains($0.mode) }

    static let roles = ["mutex": "Lock", "rwmutex-w": "Lock (waiting for readers)", "rwmutex-r": "RLock", "rwmutex-wl": "Lock",
                        "waitgroup": "Wait", "cond": "Wait"]
    static let kinds = ["mutex": "sync.Mutex", "rwmutex-w": "sync.RWMutex", "rwmutex-r": "sync.RWMutex", "rwmutex-wl": "sync.RWMutex",
                        "waitgroup": "sync.WaitGroup", "cond": "sync.Cond"]

    @Test(arguments: binaries)
    func objectsEqualTheTargetsOwn(binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let truths = try Self.parse(try target.send("syncwaits"))
        #expect(truths.count == 19, "the command reports 19 waits: \(truths.count)")
        for flags in [[String](), ["--non-blocking"]] {
            let context = "\(binary.testDescription) \(flags.isEmpty ? "blocking" : "non-blocking")"
            let result = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid), "--json"] + flags)
            #expect(result.status == 0, "\(context): gospy waits: \(result.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            let seen = Self.seen(report)
            for truth in truths {
                let mine = seen[truth.goroutine] ?? []
                let where_ = "\(context): goroutine \(truth.goroutine) \(truth.kind) 0x\(String(truth.object, radix: 16)): \(mine.map { "\($0.kind) \($0.address.map { String($0, radix: 16) } ?? "-")" })"
                switch truth.kind {
                case "mutex", "rwmutex-w", "rwmutex-r", "rwmutex-wl", "waitgroup", "cond":
                    let only = mine.first
                    #expect(mine.count == 1 && only?.kind == Self.kinds[truth.kind] && only?.address == truth.object, "\(where_)")
                    #expect(only?.queued?.role == Self.roles[truth.kind], "\(where_): role \(String(describing: only?.queued?.role))")
                    if truth.kind == "mutex" || truth.kind == "cond" {
                        #expect(only?.queued?.position == Int(truth.extra), "\(where_): place \(String(describing: only?.queued?.position))")
                    }
                    if truth.kind == "mutex" {
                        // A global: named where the binary has symbols, and only there.
                        let global = only?.object.global
                        #expect(binary.isStripped ? global == nil : global == "main.syncwaitsMutex", "\(where_): global \(String(describing: global))")
                    }
                case "sleep":
                    // time.Sleep(1h) after reading nanotime: it wakes an hour after that, give or take the call.
                    let wakes = mine.first?.queued?.wakesAt
                    let earliest = truth.extra + 3_600_000_000_000
                    #expect(mine.first?.kind == "sleep" && wakes.map { $0 >= earliest && $0 - earliest < 60_000_000_000 } == true,
                            "\(where_): wakes at \(String(describing: wakes)), slept at \(truth.extra)")
                case "cycle", "leaked":
                    #expect(mine.count == 1 && mine.first?.kind == "chan" && mine.first?.address == truth.object, "\(where_)")
                    #expect(mine.first?.object.suspect != nil, "\(where_): not suspect")
                    #expect(mine.first?.object.stuckForGood == false, "\(where_): a suspect is no proof")
                case "busy":
                    // Its workers take jobs now and then (running, or "unknown" when one moved while
                    // read): where one is seen waiting on a channel, it is its own, and no suspect.
                    if let channel = mine.first, channel.kind == "chan" {
                        #expect(channel.address == truth.object, "\(where_)")
                        #expect(channel.object.suspect == nil, "\(where_): a busy pool called suspect: \(channel.object.suspect ?? "")")
                    }
                default:
                    Issue.record("\(context): unknown kind \(truth.kind)")
                }
            }
            // The Mutex's waiters in the order they queued.
            let mutex = try #require(truths.first { $0.kind == "mutex" }).object
            let queue = report.objects.first { $0.kind == "sync.Mutex" && $0.address == "0x" + String(mutex, radix: 16) }?.queue
            #expect(queue?.map(\.goroutine) == truths.filter { $0.kind == "mutex" }.sorted { $0.extra < $1.extra }.map(\.goroutine),
                    "\(context): Mutex queue \(String(describing: queue?.map(\.goroutine)))")
            #expect(!result.stdout.contains("deadlock"), "\(context): a suspect is never called a deadlock")
        }
        #expect(try target.send("count").hasPrefix("COUNT "), "the target no longer answers")
    }

    /// The text names each kind, the queue, the wake time and the suspects.
    @Test func commandPrintsTheObjects() throws {
        let binary = try #require(TestTargets.binary(release: TestTargets.newestRelease, mode: "plain"))
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let truths = try Self.parse(try target.send("syncwaits"))
        let mutex = try #require(truths.first { $0.kind == "mutex" }).object
        let result = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid)])
        #expect(result.status == 0, "gospy waits: \(result.stderr)")
        let out = result.stdout
        #expect(out.contains("sync.Mutex 0x\(String(mutex, radix: 16)) (main.syncwaitsMutex) locked"), "\(out)")
        let order = truths.filter { $0.kind == "mutex" }.sorted { $0.extra < $1.extra }.map { "\($0.goroutine) Lock" }
        #expect(out.contains("queue (wake order): " + order.joined(separator: ", ")), "\(out)")
        #expect(out.contains("sync.WaitGroup") && out.contains("counter 1, 2 waiters"), "\(out)")
        #expect(out.contains("sync.Cond") && out.contains("sync.RWMutex"), "\(out)")
        #expect(out.contains("sleep: ") && out.contains("last in 59m"), "\(out)")
        #expect(out.contains("suspect: "), "\(out)")
        #expect(!out.contains("deadlock"), "\(out)")
    }

    /// The other views of wait objects name the same sync objects: `summary --json`'s and
    /// `dump --format json`'s `wait`, and `dump --annotate`'s comment line.
    @Test func summaryAndDumpNameTheSyncObjects() throws {
        let binary = try #require(TestTargets.binary(release: TestTargets.newestRelease, mode: "plain"))
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let truths = try Self.parse(try target.send("syncwaits")).filter { Self.kinds[$0.kind] != nil || $0.kind == "sleep" }
        #expect(truths.count >= 10, "the sync and sleep waits: \(truths.count)")
        struct Wait: Decodable { let kind: String; let address: String? }
        struct Goroutine: Decodable { let id: UInt64; let wait: Wait? }
        struct Summary: Decodable { let goroutines: [Goroutine] }
        let summary = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid), "--json"])
        #expect(summary.status == 0, "gospy summary: \(summary.stderr)")
        let waits = Dictionary(try JSONDecoder().decode(Summary.self, from: Data(summary.stdout.utf8)).goroutines.map { ($0.id, $0.wait) },
                               uniquingKeysWith: { first, _ in first })
        let dump = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid), "--annotate"])
        #expect(dump.status == 0, "gospy dump: \(dump.stderr)")
        for truth in truths {
            let wait = waits[truth.goroutine] ?? nil
            let address = "0x" + String(truth.object, radix: 16)
            if truth.kind == "sleep" {
                #expect(wait?.kind == "sleep", "goroutine \(truth.goroutine): \(String(describing: wait))")
                continue
            }
            let kind = try #require(Self.kinds[truth.kind])
            #expect(wait?.kind == kind && wait?.address == address, "goroutine \(truth.goroutine) \(truth.kind): \(String(describing: wait))")
            // The header, then the annotation naming the object.
            let header = dump.stdout.components(separatedBy: "\n\n").first { $0.hasPrefix("goroutine \(truth.goroutine) [") }
            let annotation = header?.split(separator: "\n").dropFirst().first
            #expect(annotation?.hasPrefix("# waits on: \(kind) \(address)") == true,
                    "goroutine \(truth.goroutine): \(String(describing: annotation))")
        }
    }
}
