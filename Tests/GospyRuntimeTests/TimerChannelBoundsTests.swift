import GospyMemory
import Testing
@testable import GospyRuntime

/// Timer channels over synthetic memory: a timer is tied to a channel only when it reads as that
/// channel's (arg, f = time.sendTime, isChan), a P's timer heap is read within bounds, and a
/// timer gospy cannot tie is reported unknown, never given a guessed fire time.
@Suite struct TimerChannelBoundsTests {
    static let channel: UInt64 = 0xc002_0000
    static let other: UInt64 = 0xc002_1000
    static let timer: UInt64 = 0xc003_0000
    static let p: UInt64 = 0xc004_0000
    static let heap: UInt64 = 0xc005_0000
    static let funcval: UInt64 = 0x60_0000
    static let sendTimePC: UInt64 = 0x40_1000
    static let otherFuncval: UInt64 = 0x60_1000
    static let otherPC: UInt64 = 0x40_2000

    static func names(_ pc: UInt64) -> String? {
        pc == sendTimePC ? "time.sendTime" : pc == otherPC ? "time.goFunc" : nil
    }

    static func words(_ size: Int, _ fields: [(offset: Int, value: UInt64)]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        for field in fields {
            withUnsafeBytes(of: field.value.littleEndian) { bytes.replaceSubrange(field.offset..<field.offset + 8, with: $0) }
        }
        return bytes
    }

    static func state(_ address: UInt64, timer: UInt64 = 0) -> ChannelState {
        ChannelState(address: address, length: 0, capacity: 1, closed: false, elementType: 0,
                     elementTypeName: "time.Time", timer: timer)
    }

    static func processor(_ address: UInt64) -> Processor {
        Processor(address: address, id: 0, status: .idle, rawStatus: 0, schedtick: 0, syscalltick: 0, m: 0,
                  runQueueLength: 0, runNext: 0)
    }

    /// Memory with the two funcvals, a timer and a P whose heap holds `count` entries (only the
    /// first written).
    static func memory(_ layout: RuntimeLayout, timer fields: [(offset: Int, value: UInt64)], heapCount: UInt64,
                       heapCapacity: UInt64? = nil) throws -> BufferMemoryReader {
        var memory = BufferMemoryReader()
        memory.add(address: funcval, bytes: words(8, [(0, sendTimePC)]))
        memory.add(address: otherFuncval, bytes: words(8, [(0, otherPC)]))
        memory.add(address: timer, bytes: words(try layout.size(of: "runtime.timer"), fields))
        let heapField = layout.optionalOffset("runtime.p", "timers.heap") ?? layout.optionalOffset("runtime.p", "timers")!
        memory.add(address: p, bytes: words(heapField + 24, [(heapField, heap), (heapField + 8, heapCount),
                                                            (heapField + 16, heapCapacity ?? heapCount)]))
        memory.add(address: heap, bytes: words(32, [(0, timer)]))
        return memory
    }

    @Test func aModifiedTimerBefore123FiresAtItsNextwhen() throws {
        let layout = RuntimeLayout.builtin(release: "1.22")!
        let t = "runtime.timer"
        let memory = try Self.memory(layout, timer: [
            (layout.optionalOffset(t, "when")!, 1_000), (layout.optionalOffset(t, "nextwhen")!, 9_000),
            (layout.optionalOffset(t, "status")!, UInt64(TimerChannelReader.statusModifiedLater)),
            (layout.optionalOffset(t, "period")!, 0), (layout.optionalOffset(t, "f")!, Self.funcval),
            (layout.optionalOffset(t, "arg")! + 8, Self.channel),
        ], heapCount: 1)
        let reader = TimerChannelReader(layout: layout, reader: memory, functionName: Self.names)
        let result = reader.read([Self.channel: Self.state(Self.channel)], processors: [Self.processor(Self.p)])
        #expect(result.timers[Self.channel] == TimerChannel(timer: Self.timer, when: 9_000, period: 0, link: .timerHeap))
    }

    @Test func aTimerOfAnotherFunctionOrChannelIsNotTied() throws {
        let layout = RuntimeLayout.builtin(release: "1.22")!
        let t = "runtime.timer"
        for (function, argument) in [(Self.otherFuncval, Self.channel), (Self.funcval, Self.other), (UInt64(0xdead), Self.channel)] {
            let memory = try Self.memory(layout, timer: [
                (layout.optionalOffset(t, "when")!, 1_000), (layout.optionalOffset(t, "status")!, 1),
                (layout.optionalOffset(t, "f")!, function), (layout.optionalOffset(t, "arg")! + 8, argument),
            ], heapCount: 1)
            let reader = TimerChannelReader(layout: layout, reader: memory, functionName: Self.names)
            let result = reader.read([Self.channel: Self.state(Self.channel)], processors: [Self.processor(Self.p)])
            #expect(result.timers.isEmpty, "f 0x\(String(function, radix: 16)) arg 0x\(String(argument, radix: 16))")
            #expect(result.unknown[Self.channel] != nil)
        }
    }

    @Test func aHugeOrDamagedHeapIsNotRead() throws {
        let layout = RuntimeLayout.builtin(release: "1.27")!
        let t = "runtime.timer"
        let fields: [(offset: Int, value: UInt64)] = [
            (layout.optionalOffset(t, "when")!, 1_000), (layout.optionalOffset(t, "f")!, Self.funcval),
            (layout.optionalOffset(t, "arg")! + 8, Self.channel),
        ]
        // More entries than the cap: named as the reason, nothing read.
        let huge = try Self.memory(layout, timer: fields, heapCount: 1 << 40)
        let result = TimerChannelReader(layout: layout, reader: huge, functionName: Self.names)
            .read([Self.channel: Self.state(Self.channel)], processors: [Self.processor(Self.p)])
        #expect(result.timers.isEmpty && result.unknown[Self.channel]?.contains("more than") == true,
                "\(String(describing: result.unknown[Self.channel]))")
        // A length past the capacity, or past readable memory: skipped.
        for (count, capacity) in [(UInt64(2), UInt64(1)), (UInt64(1000), UInt64(1000))] {
            let damaged = try Self.memory(layout, timer: fields, heapCount: count, heapCapacity: capacity)
            let result = TimerChannelReader(layout: layout, reader: damaged, functionName: Self.names)
                .read([Self.channel: Self.state(Self.channel)], processors: [Self.processor(Self.p)])
            #expect(result.timers.isEmpty && result.unknown[Self.channel] != nil, "len \(count) cap \(capacity)")
        }
    }

    @Test func aChannelsOwnTimerMustNameTheChannel() throws {
        let layout = RuntimeLayout.builtin(release: "1.27")!
        let t = "runtime.timer"
        let isChan = layout.optionalOffset(t, "isChan")!
        func timer(arg: UInt64, isChanByte: UInt64) throws -> BufferMemoryReader {
            try Self.memory(layout, timer: [
                (layout.optionalOffset(t, "when")!, 5_000), (layout.optionalOffset(t, "period")!, 7),
                (layout.optionalOffset(t, "f")!, Self.funcval), (layout.optionalOffset(t, "arg")! + 8, arg),
                (isChan, isChanByte),
            ], heapCount: 0)
        }
        let good = TimerChannelReader(layout: layout, reader: try timer(arg: Self.channel, isChanByte: 1), functionName: Self.names)
            .read([Self.channel: Self.state(Self.channel, timer: Self.timer)], processors: [])
        #expect(good.timers[Self.channel] == TimerChannel(timer: Self.timer, when: 5_000, period: 7, link: .channelField))
        for memory in [try timer(arg: Self.other, isChanByte: 1), try timer(arg: Self.channel, isChanByte: 0)] {
            let bad = TimerChannelReader(layout: layout, reader: memory, functionName: Self.names)
                .read([Self.channel: Self.state(Self.channel, timer: Self.timer)], processors: [])
            #expect(bad.timers.isEmpty && bad.unknown[Self.channel] != nil)
        }
        // A synctest bubble's timer: its when is on the bubble's clock, so no fire time is given.
        let fakeByte = layout.optionalOffset(t, "isFake")!
        let fakeMemory = try Self.memory(layout, timer: [
            (layout.optionalOffset(t, "when")!, 5_000), (layout.optionalOffset(t, "f")!, Self.funcval),
            (layout.optionalOffset(t, "arg")! + 8, Self.channel), (isChan, 1), (fakeByte, 1),
        ], heapCount: 0)
        let fake = TimerChannelReader(layout: layout, reader: fakeMemory, functionName: Self.names)
            .read([Self.channel: Self.state(Self.channel, timer: Self.timer)], processors: [])
        #expect(fake.timers.isEmpty && fake.unknown[Self.channel]?.contains("synctest") == true)
        // A timer pointer into nothing readable.
        let dangling = TimerChannelReader(layout: layout, reader: try timer(arg: Self.channel, isChanByte: 1), functionName: Self.names)
            .read([Self.channel: Self.state(Self.channel, timer: 0xdead_0000)], processors: [])
        #expect(dangling.timers.isEmpty && dangling.unknown[Self.channel]?.contains("unreadable") == true)
    }
}
