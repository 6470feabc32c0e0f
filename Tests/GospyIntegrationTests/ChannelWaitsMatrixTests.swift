import Foundation
import GospyInspector
import GospyRuntime
import Testing

/// What goroutines blocked on channels wait on, against what the target says about itself:
/// -scenario=waits has each blocked goroutine report its id, the operation and the channel as
/// fmt's %p prints it, with len and cap, before it blocks.
@Suite(.serialized) struct ChannelWaitsMatrixTests {
    struct Truth: Equatable {
        let goroutine: UInt64
        let operation: String
        let channel: UInt64
        let length: UInt64
        let capacity: UInt64
        /// fmt's %T of the channel ("chan *main.waitJob"), "nil" for a nil channel.
        let type: String
    }

    static func parse(_ reply: String) throws -> [Truth] {
        let body = try #require(reply.hasPrefix("WAITS ") ? reply.dropFirst(6) : nil, "reply \(reply)")
        return try body.split(separator: ",").map { entry in
            let fields = entry.split(separator: ":").map(String.init)
            try #require(fields.count == 6, "entry \(entry)")
            return Truth(goroutine: try #require(UInt64(fields[0])), operation: fields[1],
                         channel: try #require(UInt64(fields[2].dropFirst(2), radix: 16)),
                         length: try #require(UInt64(fields[3])), capacity: try #require(UInt64(fields[4])),
                         type: fields[5])
        }
    }

    static let binaries = TestTargets.matrix.filter { ["plain", "stripped", "distro"].contains($0.mode) }

    @Test(arguments: binaries)
    func channelsEqualTheTargetsOwn(binary: TargetBinary) throws {
        let target = try RunningTarget(binary, arguments: ["-scenario=waits"])
        defer { target.stop() }
        let truths = try Self.parse(try target.send("waits"))
        #expect(truths.count == 10, "the scenario reports 10 waits")
        let inspector = try Inspector(pid: target.pid)
        for blocking in [true, false] {
            let capture = try inspector.capture(blocking: blocking, stacks: false)
            let waits = try ChannelWaitReader(image: inspector.image, reader: inspector.memory).read(capture.snapshot.goroutines)
            let byID = Dictionary(capture.snapshot.goroutines.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
            let context = "\(binary.testDescription) \(blocking ? "blocking" : "non-blocking")"
            for truth in truths {
                let goroutine = try #require(byID[truth.goroutine], "\(context): goroutine \(truth.goroutine) missing")
                let object = waits.objects[goroutine.address]
                switch truth.operation {
                case "send", "recv":
                    let direction: ChannelDirection = truth.operation == "send" ? .send : .receive
                    #expect(object == .channel(ChannelCase(channel: truth.channel, direction: direction)),
                            "\(context): goroutine \(truth.goroutine) \(truth.operation)")
                    let state = waits.channels[truth.channel]
                    #expect(state?.length == truth.length && state?.capacity == truth.capacity && state?.closed == false,
                            "\(context): channel 0x\(String(truth.channel, radix: 16)) state \(String(describing: state))")
                    #expect(state.map { "chan " + ($0.elementTypeName ?? "?") } == truth.type,
                            "\(context): channel type \(String(describing: state?.elementTypeName)), truth \(truth.type)")
                case "select-send", "select-recv":
                    let direction: ChannelDirection = truth.operation == "select-send" ? .send : .receive
                    guard case let .select(cases)? = object else {
                        Issue.record("\(context): goroutine \(truth.goroutine) select: \(String(describing: object))")
                        continue
                    }
                    #expect(cases.contains(ChannelCase(channel: truth.channel, direction: direction)),
                            "\(context): goroutine \(truth.goroutine) \(truth.operation) in \(cases)")
                    #expect(cases.count == 2, "\(context): select cases \(cases)")
                case "nil-recv":
                    #expect(object == .nilChannel(.receive), "\(context): nil receive \(String(describing: object))")
                    #expect(object?.isStuckForGood == true)
                case "select-none":
                    #expect(object == .selectWithoutCases, "\(context): select {} \(String(describing: object))")
                default:
                    Issue.record("\(context): unknown operation \(truth.operation)")
                }
            }
            // Three senders on the one unbuffered channel, counted from the waiters.
            let unbuffered = truths.filter { $0.operation == "send" && $0.capacity == 0 }.map(\.channel)
            #expect(Set(unbuffered).count == 1 && unbuffered.count == 3, "\(context): unbuffered senders \(unbuffered)")
        }
        #expect(try target.send("count").hasPrefix("COUNT "), "the target no longer answers")
    }

    /// The command prints the channel with its state and waiter counts, and the stuck ones.
    @Test func commandNamesTheChannels() throws {
        let binary = try #require(TestTargets.binary(release: TestTargets.newestRelease, mode: "distro"))
        let target = try RunningTarget(binary, arguments: ["-scenario=waits"])
        defer { target.stop() }
        let truths = try Self.parse(try target.send("waits"))
        let unbuffered = try #require(truths.first { $0.operation == "send" && $0.capacity == 0 }).channel
        let full = try #require(truths.first { $0.operation == "send" && $0.capacity == 2 }).channel
        let result = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid)])
        #expect(result.status == 0, "gospy waits: \(result.stderr)")
        let hex = { (value: UInt64) in "0x" + String(value, radix: 16) }
        #expect(result.stdout.contains("chan *main.waitJob \(hex(unbuffered)) len 0/0, 3 senders waiting, 0 receivers"), "\(result.stdout)")
        #expect(result.stdout.contains("chan int \(hex(full)) len 2/2, 1 senders waiting, 0 receivers"), "\(result.stdout)")
        // The parked set blocks on a nil channel both ways and in select {} too.
        #expect(result.stdout.contains("nil chan: 3 goroutines blocked for good"), "\(result.stdout)")
        #expect(result.stdout.contains("select without cases: 2 goroutines blocked for good"), "\(result.stdout)")
        #expect(result.stdout.contains("main.waitsNilRecv") && result.stdout.contains("main.waitsSelectNone"), "\(result.stdout)")
        #expect(result.stdout.contains("main.waitsSend"), "\(result.stdout)")
    }
}
