import Foundation
import GospyInspector
import GospyRuntime
import Testing

/// Goroutines blocked on timer channels (time.After, NewTimer(d).C, a Ticker's C in a select, a
/// Reset timer, a stopped one), against what the target says about each before it blocks: the
/// channel (fmt's %p) and the deadline read from runtime.nanotime() around the call that set
/// the timer (-scenario=timers).
@Suite(.serialized) struct TimerWaitsMatrixTests {
    struct Truth {
        let goroutine: UInt64
        let kind: String
        let channel: UInt64
        let earliest: Int64
        let latest: Int64
        let period: Int64
    }

    static func parse(_ reply: String) throws -> [Truth] {
        let body = try #require(reply.hasPrefix("TIMERS ") ? reply.dropFirst(7) : nil, "reply \(reply)")
        return try body.split(separator: ",").map { entry in
            let fields = entry.split(separator: ":").map(String.init)
            try #require(fields.count == 6, "entry \(entry)")
            return Truth(goroutine: try #require(UInt64(fields[0])), kind: fields[1],
                         channel: try #require(UInt64(fields[2].dropFirst(2), radix: 16)),
                         earliest: try #require(Int64(fields[3])), latest: try #require(Int64(fields[4])),
                         period: try #require(Int64(fields[5])))
        }
    }

    /// The releases and modes of the other waits matrices, and the modern builds (go.mod at the
    /// toolchain's own version: on 1.26, channels that name their timer).
    static let binaries = TestTargets.matrix.filter { ["plain", "stripped", "distro"].contains($0.mode) }
        + TestTargets.modern.filter { $0.mode == "modern" }

    /// Whether the program's timer channels name their timer (hchan.timer): from 1.23 with
    /// asynctimerchan=0, the default when go.mod says 1.23 or newer, and always from 1.27.
    static func channelsNameTheirTimer(_ binary: TargetBinary) -> Bool {
        let minor = binary.release.split(separator: ".").dropFirst().first.flatMap { Int($0) } ?? 0
        return minor >= 27 || (binary.mode.hasPrefix("modern") && minor >= 23)
    }

    @Test(arguments: binaries)
    func timersEqualTheTargetsOwn(binary: TargetBinary) throws {
        let target = try RunningTarget(binary, arguments: ["-scenario=timers"])
        defer { target.stop() }
        let truths = try Self.parse(try target.send("timers"))
        #expect(truths.map(\.kind) == ["after", "timer", "ticker", "reset", "stopped"], "\(truths.map(\.kind))")
        let inspector = try Inspector(pid: target.pid)
        let named = Self.channelsNameTheirTimer(binary)
        for blocking in [true, false] {
            let context = "\(binary.testDescription) \(blocking ? "blocking" : "non-blocking")"
            let capture = try inspector.capture(blocking: blocking, stacks: false)
            let waits = try inspector.readWaits(capture.snapshot)
            let byID = Dictionary(capture.snapshot.goroutines.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
            for truth in truths {
                let where_ = "\(context): \(truth.kind) goroutine \(truth.goroutine) chan 0x\(String(truth.channel, radix: 16))"
                let goroutine = try #require(byID[truth.goroutine], "\(where_) missing")
                // It waits on the channel (the ticker in a select with one other case).
                switch waits.objects[goroutine.address] {
                case let .channel(channelCase)?:
                    #expect(truth.kind != "ticker" && channelCase == ChannelCase(channel: truth.channel, direction: .receive), "\(where_)")
                case let .select(cases)?:
                    #expect(truth.kind == "ticker" && cases.count == 2
                            && cases.contains(ChannelCase(channel: truth.channel, direction: .receive)), "\(where_): \(cases)")
                case let other:
                    Issue.record("\(where_): waits on \(String(describing: other))")
                }
                #expect((waits.channels[truth.channel]?.timer != 0) == named, "\(where_): hchan.timer \(String(describing: waits.channels[truth.channel]))")
                let timer = waits.timers[truth.channel]
                if truth.kind == "stopped" {
                    // It never fires: gospy says stopped, or that it cannot know; never a time.
                    #expect(timer.map { $0.when == nil } ?? (waits.timersUnknown[truth.channel] != nil),
                            "\(where_): \(String(describing: timer)) \(waits.timersUnknown[truth.channel] ?? "")")
                    continue
                }
                guard let timer else {
                    Issue.record("\(where_): no timer (\(waits.timersUnknown[truth.channel] ?? "not examined"))")
                    continue
                }
                #expect(timer.when.map { $0 >= truth.earliest && $0 <= truth.latest } == true,
                        "\(where_): fires at \(String(describing: timer.when)), the program set it between \(truth.earliest) and \(truth.latest)")
                #expect(timer.period == truth.period, "\(where_): period \(timer.period), truth \(truth.period)")
                #expect(timer.link == (named ? .channelField : .timerHeap), "\(where_): linked through \(timer.link)")
            }
            // Only the timer channels have timers.
            let timerChannels = Set(truths.map(\.channel))
            #expect(Set(waits.timers.keys).isSubset(of: timerChannels), "\(context): timers \(waits.timers.keys)")
        }
        #expect(try target.send("count").hasPrefix("COUNT "), "the target no longer answers")
    }

    /// The command prints each timer channel's fire time and a ticker's period.
    @Test(arguments: ["1.19", TestTargets.newestRelease])
    func commandPrintsWhenTheyFire(release: String) throws {
        let binary = try #require(TestTargets.binary(release: release, mode: "distro"))
        let target = try RunningTarget(binary, arguments: ["-scenario=timers"])
        defer { target.stop() }
        let truths = try Self.parse(try target.send("timers"))
        let result = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid)])
        #expect(result.status == 0, "gospy waits: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        for truth in truths {
            let header = "chan time.Time 0x" + String(truth.channel, radix: 16) + " "
            let index = lines.firstIndex { $0.hasPrefix(header) }
            let timerLine = index.flatMap { $0 + 1 < lines.count ? lines[$0 + 1] : nil } ?? ""
            let expected = ["after": "  timer: fires in 59m", "timer": "  timer: fires in 1h59m",
                            "ticker": "  timer: fires in 1h29m", "reset": "  timer: fires in 3h59m",
                            "stopped": "  timer: stopped: it does not fire"][truth.kind] ?? "?"
            #expect(timerLine.hasPrefix(expected), "\(truth.kind): \(timerLine)\n\(result.stdout)")
            if truth.kind == "ticker" { #expect(timerLine.hasSuffix(", every 1h30m"), "\(timerLine)") }
        }
        struct Report: Decodable {
            struct Timer: Decodable { let firesAt: Int64?; let periodSeconds: Double?; let stopped: Bool }
            struct Object: Decodable { let address: String?; let timer: Timer? }
            let objects: [Object]
        }
        let json = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid), "--json"])
        let report = try JSONDecoder().decode(Report.self, from: Data(json.stdout.utf8))
        for truth in truths where truth.kind != "stopped" {
            let timer = report.objects.first { $0.address == "0x" + String(truth.channel, radix: 16) }?.timer
            #expect(timer?.firesAt.map { $0 >= truth.earliest && $0 <= truth.latest } == true, "\(truth.kind): \(String(describing: timer))")
            #expect((timer?.periodSeconds ?? 0) * 1e9 == Double(truth.period), "\(truth.kind): \(String(describing: timer))")
        }
        // summary --json's wait names the same fire times (dump --format json and --annotate share it).
        struct Wait: Decodable { let kind: String; let address: String?; let timer: String?; let wakesAt: Int64? }
        struct Goroutine: Decodable { let id: UInt64; let wait: Wait? }
        struct Summary: Decodable { let goroutines: [Goroutine] }
        let summary = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid), "--json"])
        let waits = Dictionary(try JSONDecoder().decode(Summary.self, from: Data(summary.stdout.utf8)).goroutines.map { ($0.id, $0.wait) },
                               uniquingKeysWith: { first, _ in first })
        for truth in truths where truth.kind != "ticker" {
            let wait = waits[truth.goroutine] ?? nil
            #expect(wait?.address == "0x" + String(truth.channel, radix: 16), "\(truth.kind): \(String(describing: wait))")
            if truth.kind == "stopped" {
                #expect(wait?.timer == "stopped" && wait?.wakesAt == nil, "\(truth.kind): \(String(describing: wait))")
            } else {
                #expect(wait?.timer == "fires" && wait?.wakesAt.map { $0 >= truth.earliest && $0 <= truth.latest } == true,
                        "\(truth.kind): \(String(describing: wait))")
            }
        }
    }
}
