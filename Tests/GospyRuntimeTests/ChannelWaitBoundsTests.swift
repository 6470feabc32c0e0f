import GospyMemory
import Testing
@testable import GospyRuntime

/// Damaged sudog chains (a select's waitlink, a channel queue's prev links) that loop: each is
/// read a bounded number of times and the goroutine's wait is reported unknown or without a
/// direction, never followed until a fixed cap per goroutine or guessed.
@Suite struct ChannelWaitBoundsTests {
    let layout = RuntimeLayout.builtin(release: "1.22")!
    static let g: UInt64 = 0xc000_2000
    static let channel: UInt64 = 0xc002_0000

    /// Records placed in a buffer: a waiting g, sudogs, one unbuffered channel.
    struct Memory {
        var memory = BufferMemoryReader()
        let layout: RuntimeLayout

        func words(_ size: Int, _ fields: [(offset: Int, value: UInt64)]) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: size)
            for field in fields {
                withUnsafeBytes(of: field.value.littleEndian) { bytes.replaceSubrange(field.offset..<field.offset + 8, with: $0) }
            }
            return bytes
        }

        mutating func sudog(at address: UInt64, waitlink: UInt64 = 0, prev: UInt64 = 0) throws {
            let s = try layout.sudog
            memory.add(address: address, bytes: words(s.size, [(s.g, ChannelWaitBoundsTests.g), (s.c, ChannelWaitBoundsTests.channel),
                                                               (s.waitlink, waitlink), (s.prev, prev)]))
        }

        mutating func waitingG(on first: UInt64) throws {
            let g = try layout.g
            var bytes = words(max(g.atomicstatus + 4, g.waiting + 8), [(g.waiting, first)])
            bytes[g.atomicstatus] = UInt8(GoroutineStatus.waiting.rawValue)
            memory.add(address: ChannelWaitBoundsTests.g, bytes: bytes)
        }

        mutating func channel(receiveQueue first: UInt64, last: UInt64) throws {
            let h = try layout.hchan
            memory.add(address: ChannelWaitBoundsTests.channel, bytes: words(h.size, [(h.recvqFirst, first), (h.recvqLast, last)]))
        }
    }

    func selectingGoroutine(first: UInt64) -> Goroutine {
        let template = Goroutine(
            address: Self.g, id: 9, status: .waiting, scanning: false, waitReason: 1, waitReasonText: "select",
            waitSince: 0, m: 0, lockedM: 0, startPC: 0, creatorPC: 0, parentID: nil, schedPC: 0, schedSP: 0, schedBP: 0,
            syscallPC: 0, syscallSP: 0, stackLo: 0, stackHi: 0, labels: 0)
        var goroutine = template
        goroutine.waiting = first
        return goroutine
    }

    @Test func aLoopingSelectChainIsReportedNotFollowed() throws {
        var memory = Memory(layout: layout)
        let (s1, s2) = (UInt64(0xc001_0000), UInt64(0xc001_1000))
        try memory.sudog(at: s1, waitlink: s2)
        try memory.sudog(at: s2, waitlink: s1)
        try memory.waitingG(on: s1)
        try memory.channel(receiveQueue: s1, last: s2)
        let result = try ChannelWaitReader(reader: memory.memory, layout: layout).read([selectingGoroutine(first: s1)])
        #expect(result.objects[Self.g] == .unknown(reason: "its select's sudog chain loops"))
    }

    @Test func aLoopingQueueLeavesTheDirectionUnknown() throws {
        var memory = Memory(layout: layout)
        // The select's case sudog s2 sits mid-queue; walking back: s3, s4, s3, ... never the head.
        let (s1, s2, s3, s4) = (UInt64(0xc001_0000), UInt64(0xc001_1000), UInt64(0xc001_2000), UInt64(0xc001_3000))
        try memory.sudog(at: s1)
        try memory.sudog(at: s2, prev: s3)
        try memory.sudog(at: s3, prev: s4)
        try memory.sudog(at: s4, prev: s3)
        try memory.waitingG(on: s2)
        try memory.channel(receiveQueue: s1, last: s1)
        let result = try ChannelWaitReader(reader: memory.memory, layout: layout).read([selectingGoroutine(first: s2)])
        #expect(result.objects[Self.g] == .select([ChannelCase(channel: Self.channel, direction: nil)]))

        // The same queue without the loop leads back to the head: a receive.
        var intact = Memory(layout: layout)
        try intact.sudog(at: s1)
        try intact.sudog(at: s2, prev: s3)
        try intact.sudog(at: s3, prev: s4)
        try intact.sudog(at: s4, prev: s1)
        try intact.waitingG(on: s2)
        try intact.channel(receiveQueue: s1, last: s1)
        let fixed = try ChannelWaitReader(reader: intact.memory, layout: layout).read([selectingGoroutine(first: s2)])
        #expect(fixed.objects[Self.g] == .select([ChannelCase(channel: Self.channel, direction: .receive)]))
    }

    /// The waits are read while the target runs: a goroutine whose g no longer holds the status
    /// and sudog it had in the snapshot is reported unknown, one that still does keeps its
    /// channel, whatever the order the goroutines are given in.
    @Test func aGoroutineThatMovedWhileReadIsUnknown() throws {
        var memory = Memory(layout: layout)
        let g = try layout.g
        let s1 = UInt64(0xc001_0000)
        try memory.sudog(at: s1)
        try memory.waitingG(on: s1)
        try memory.channel(receiveQueue: s1, last: s1)
        // A second goroutine, below the first in memory, on the same channel: its g now says it
        // waits on another sudog (it woke and parked again elsewhere).
        let movedG = Self.g - 0x1000, s2 = UInt64(0xc001_1000), elsewhere = UInt64(0xc001_2000)
        let s = try layout.sudog
        memory.memory.add(address: s2, bytes: memory.words(s.size, [(s.g, movedG), (s.c, Self.channel)]))
        var movedBytes = memory.words(max(g.atomicstatus + 4, g.waiting + 8), [(g.waiting, elsewhere)])
        movedBytes[g.atomicstatus] = UInt8(GoroutineStatus.waiting.rawValue)
        memory.memory.add(address: movedG, bytes: movedBytes)

        func receiving(_ address: UInt64, on sudog: UInt64, id: UInt64) -> Goroutine {
            var goroutine = Goroutine(
                address: address, id: id, status: .waiting, scanning: false, waitReason: 1, waitReasonText: "chan receive",
                waitSince: 0, m: 0, lockedM: 0, startPC: 0, creatorPC: 0, parentID: nil, schedPC: 0, schedSP: 0, schedBP: 0,
                syscallPC: 0, syscallSP: 0, stackLo: 0, stackHi: 0, labels: 0)
            goroutine.waiting = sudog
            return goroutine
        }
        let result = try ChannelWaitReader(reader: memory.memory, layout: layout)
            .read([receiving(Self.g, on: s1, id: 9), receiving(movedG, on: s2, id: 10)])
        #expect(result.objects[Self.g] == .channel(ChannelCase(channel: Self.channel, direction: .receive)))
        #expect(result.objects[movedG] == .unknown(reason: "it moved while its wait was read"))
    }
}
