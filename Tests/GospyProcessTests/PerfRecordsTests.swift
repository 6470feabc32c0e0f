import Foundation
import Synchronization
import Testing
@testable import GospyProcess

/// Parsing perf ring buffer bytes (no process needed), and the sampler over this test process's
/// own busy thread.
@Suite(.serialized) struct PerfRecordsTests {
    /// This process's open perf event fds (other tests running in parallel open other fds).
    static func perfEventFDs() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == "anon_inode:[perf_event]"
        }.count
    }

    static func sample(tid: Int32, time: UInt64, stack: [UInt8]) -> PerfSample {
        PerfSample(tid: tid, time: time, pc: 0x401000 + UInt64(tid), sp: 0xc000_1000, bp: 0xc000_1040, stack: stack)
    }

    @Test func samplesAndLostRecordsRoundTrip() {
        let first = Self.sample(tid: 41, time: 1_000, stack: (0..<64).map { UInt8($0) })
        // The kernel copied less than asked: dyn_size says how much is real.
        let second = Self.sample(tid: 41, time: 2_000, stack: [1, 2, 3, 4, 5, 6, 7, 8])
        let bytes = PerfRecords.encode(first, stackSize: 64) + PerfRecords.encodeLost(3) + PerfRecords.encode(second, stackSize: 64)
        let parsed = PerfRecords.parse(bytes)
        #expect(parsed.samples == [first, second])
        #expect(parsed.lost == 3)
        #expect(parsed.malformed == 0)
    }

    @Test func unknownRecordTypesAreSkipped() {
        let sample = Self.sample(tid: 7, time: 5, stack: [UInt8](repeating: 0xab, count: 16))
        // A PERF_RECORD_COMM-like record (type 3) of 24 bytes before the sample.
        let other = PerfRecords.header(type: 3, size: 24) + [UInt8](repeating: 0x55, count: 16)
        let parsed = PerfRecords.parse(other + PerfRecords.encode(sample, stackSize: 16))
        #expect(parsed.samples == [sample])
        #expect(parsed.malformed == 0)
    }

    @Test func truncatedAndLyingRecordsEndTheParseWithoutTrapping() {
        let sample = Self.sample(tid: 9, time: 77, stack: [UInt8](repeating: 1, count: 32))
        let good = PerfRecords.encode(sample, stackSize: 32)
        // Cut anywhere: the whole records before the cut parse, the rest is malformed or absent.
        for cut in 0..<good.count {
            let parsed = PerfRecords.parse(good + Array(good.prefix(cut)))
            #expect(parsed.samples == [sample])
            #expect(parsed.malformed <= 1)
        }
        // A header size below the header, or past the end.
        var lying = good
        lying[6] = 4
        lying[7] = 0
        #expect(PerfRecords.parse(lying).samples.isEmpty)
        lying[6] = 0xf8
        lying[7] = 0xff
        #expect(PerfRecords.parse(lying).malformed == 1)
        // A stack size larger than the record; a dynamic size larger than the stack size.
        var big = good
        let stackSizeOffset = 8 + 8 * 7
        big[stackSizeOffset + 2] = 1
        #expect(PerfRecords.parse(big).samples.isEmpty)
        var dynamic = good
        dynamic[good.count - 8] = 33
        #expect(PerfRecords.parse(dynamic).samples.isEmpty)
        // Random bytes: never a trap.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var noise = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if noise.count > 8 { noise[0] = 9; noise[1] = 0; noise[2] = 0; noise[3] = 0 }
            _ = PerfRecords.parse(noise)
        }
    }

    /// A thread of this process spinning while sampled: its samples come with its tid, a stack
    /// pointer inside its stack and the stack bytes the kernel copied; every fd is closed after.
    @Test func samplerSeesABusyThreadOfThisProcess() throws {
        final class Shared: @unchecked Sendable {
            let tid = Atomic<Int32>(0)
            let stop = Atomic<Bool>(false)
        }
        let shared = Shared()
        let thread = Thread {
            // /proc/thread-self links to "PID/task/TID".
            let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
            shared.tid.store(Int32(link.split(separator: "/").last ?? "") ?? -1, ordering: .releasing)
            var x: UInt64 = 1
            while !shared.stop.load(ordering: .acquiring) {
                for _ in 0..<10_000 { x = x &* 6364136223846793005 &+ 1 }
            }
            _ = x
        }
        thread.start()
        defer { shared.stop.store(true, ordering: .releasing) }
        var spinner: Int32 = 0
        for _ in 0..<100 where spinner == 0 {
            Thread.sleep(forTimeInterval: 0.01)
            spinner = shared.tid.load(ordering: .acquiring)
        }
        let fdsBefore = try Self.perfEventFDs()
        let sampler = PerfSampler(pid: getpid(), periodNanos: 1_000_000, stackBytes: 4096)
        sampler.watch([spinner])
        if let reason = sampler.unavailable {
            try Test.cancel("this machine does not allow perf events, which the test needs: \(reason)")
        }
        #expect(sampler.threadCount == 1)
        #expect(try Self.perfEventFDs() == fdsBefore + 1)
        var samples: [PerfSample] = []
        for _ in 0..<100 where samples.count < 5 {
            Thread.sleep(forTimeInterval: 0.02)
            if let sample = sampler.drain()[spinner] { samples.append(sample) }
        }
        #expect(samples.count >= 5, "a new sample of a spinning thread at each drain (1 ms of CPU each)")
        #expect(sampler.newest[spinner] == samples.last)
        let now = PerfSampler.now()
        for sample in samples {
            #expect(sample.tid == spinner)
            #expect(sample.time <= now && now - sample.time < 10_000_000_000, "stamped with CLOCK_MONOTONIC")
            #expect(sample.stack.count > 0 && sample.stack.count <= 4096)
            #expect(sample.sp != 0 && sample.pc != 0)
        }
        #expect(zip(samples, samples.dropFirst()).allSatisfy { $0.time < $1.time }, "each drain's newest sample is newer")
        // A drain with no new sample returns none for the thread and keeps its newest.
        shared.stop.store(true, ordering: .releasing)
        Thread.sleep(forTimeInterval: 0.05)
        _ = sampler.drain()
        #expect(sampler.drain()[spinner] == nil)
        #expect(sampler.newest[spinner] != nil)
        sampler.forget(except: [])
        #expect(sampler.threadCount == 0)
        sampler.close()
        #expect(try Self.perfEventFDs() == fdsBefore)
    }

    @Test func refusedOpenSaysWhy() {
        // Thread id 0 is "this thread" for perf_event_open; a negative one is invalid (EINVAL/ESRCH).
        let sampler = PerfSampler(pid: getpid(), periodNanos: 1_000_000)
        sampler.watch([-5])
        #expect(sampler.threadCount == 0)
        if let reason = sampler.unavailable { #expect(reason.contains("perf_event_open") || reason.contains("perf events")) }
        sampler.close()
    }
}
