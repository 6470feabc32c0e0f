@testable import GospyInspector
import GospyMemory
import GospyRuntime
import Testing

/// A read that never stops the target (`collect(consistent: false)`) meets gs mid-change: a
/// record that fails decode's checks is read again in its place, a bounded number of times, and
/// one that never passes is left out and counted. Driven by a live target's memory image with
/// chosen gs torn (their sched.g overwritten) for their first reads.
@Suite(.serialized) struct NonBlockingReadTests {
    /// Reads `inner`, but a read of a torn g's record has its sched.g zeroed, `tornReads` times
    /// per g (as if read while the runtime rewrote it).
    final class TornReads: MemoryReader, @unchecked Sendable {
        let inner: MemoryReader
        let torn: Set<UInt64>
        let schedG: Int
        let tornReads: Int
        private var reads: [UInt64: Int] = [:]
        private let lock = ThreadLock()

        init(_ inner: MemoryReader, torn: Set<UInt64>, schedG: Int, tornReads: Int) {
            (self.inner, self.torn, self.schedG, self.tornReads) = (inner, torn, schedG, tornReads)
        }

        func read(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
            try inner.read(from: address, into: buffer)
            guard torn.contains(address), buffer.count >= schedG + 8 else { return }
            let tear: Bool = lock.withLock {
                reads[address, default: 0] += 1
                return reads[address, default: 0] <= tornReads
            }
            if tear { buffer.storeBytes(of: 0, toByteOffset: schedG, as: UInt64.self) }
        }
    }

    @Test func recordsReadMidChangeAreReadAgainInTheirPlace() throws {
        let binary = try #require(TestTargets.binary(release: "1.27", mode: "distro"))
        let target = try RunningTarget(binary, arguments: ["-scenario=many", "-n=3000"], readyTimeout: 120)
        defer { target.stop() }
        let inspector = try Inspector(pid: target.pid)
        let memory = try inspector.captureMemoryImage()
        let stopped = try SnapshotReader(image: inspector.image, memory: memory).read(consistent: true)
        #expect(stopped.goroutines.count >= 3000)
        let torn = Set(stopped.goroutines.enumerated().filter { $0.offset % 7 == 3 }.map(\.element.address))
        let schedG = try inspector.image.layout.g.schedG

        // Torn twice, read up to three more times: every g is read, in id order as before.
        let twice = TornReads(memory, torn: torn, schedG: schedG, tornReads: 2)
        let readAgain = try SnapshotReader(image: inspector.image, memory: twice).read(consistent: false, retries: 3)
        let same = readAgain.goroutines == stopped.goroutines
        #expect(same, "\(readAgain.goroutines.count) goroutines read without stopping, \(stopped.goroutines.count) stopped")
        #expect(readAgain.retries == 2 * torn.count)
        #expect(readAgain.unreadableGoroutines == stopped.unreadableGoroutines)

        // Torn at every read: left out and counted, the rest as before.
        let always = TornReads(memory, torn: torn, schedG: schedG, tornReads: .max)
        let gaveUp = try SnapshotReader(image: inspector.image, memory: always).read(consistent: false, retries: 3)
        let rest = gaveUp.goroutines == stopped.goroutines.filter { !torn.contains($0.address) }
        #expect(rest, "\(gaveUp.goroutines.count) goroutines left")
        #expect(gaveUp.retries == 3 * torn.count)
        #expect(gaveUp.unreadableGoroutines == stopped.unreadableGoroutines + torn.count)
    }
}
