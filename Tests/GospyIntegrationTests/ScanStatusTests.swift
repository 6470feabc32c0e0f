import Foundation
import GospyFuzzTargets
import GospyInspector
import GospyMemory
import GospyRuntime
import Testing

/// " (scan)": the runtime prints it while the GC holds a goroutine's _Gscan bit, for as long as
/// it scans that stack. No target can be held in that state (runtime.Stack stops the world,
/// which waits for scans to finish), so the bit is set in a captured image of a real target:
/// the goroutine must decode exactly as before, its state text with " (scan)" added.
@Suite struct ScanStatusTests {
    /// `memory` with the 4 bytes at `address` replaced by `value`.
    static func patched(_ memory: BufferMemoryReader, at address: UInt64, _ value: UInt32) throws -> BufferMemoryReader {
        var regions = memory.regions
        let index = try #require(regions.firstIndex { address >= $0.address && address + 4 <= $0.address + UInt64($0.bytes.count) })
        var bytes = regions[index].bytes
        let offset = Int(address - regions[index].address)
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + 4, with: $0) }
        regions[index] = .init(address: regions[index].address, bytes: bytes)
        return BufferMemoryReader(regions: regions)
    }

    @Test func scanBitAddsScanToTheState() throws {
        let binary = try #require(MutatedImageTests.sample, "no plain test target: run scripts/build-targets.sh")
        let (memory, image, symbolizer) = try CapturedTargetImage(binary).parts
        let baseline = try SnapshotReplay(image: image, symbolizer: symbolizer, memory: memory)
        let waiting = try #require(baseline.snapshot.goroutines.first { $0.status == .waiting && $0.waitReasonText == "chan receive" })
        #expect(!waiting.scanning)

        let status = try image.layout.g.atomicstatus
        let raw = try memory.fetch(UInt32.self, from: waiting.address + UInt64(status))
        #expect(raw == GoroutineStatus.waiting.rawValue)
        // _Gscan | _Gwaiting, as the GC leaves it while it scans the stack.
        let scanned = try SnapshotReplay(image: image, symbolizer: symbolizer, memory: Self.patched(memory, at: waiting.address + UInt64(status), raw | 0x1000))
        let goroutine = try #require(scanned.snapshot.goroutines.first { $0.address == waiting.address })
        #expect(goroutine.scanning)
        #expect(goroutine.status == .waiting)
        #expect(goroutine.stateText == "chan receive (scan)")
        // Nothing else changed: its stack, labels and creator, and every other goroutine.
        let before = try #require(baseline.goroutines.first { $0.address == waiting.address })
        let after = try #require(scanned.goroutines.first { $0.address == waiting.address })
        #expect(after.header == before.header.replacingOccurrences(of: "[chan receive]", with: "[chan receive (scan)]"))
        #expect(after.frames == before.frames && after.labels == before.labels && after.end == before.end)
        #expect(scanned.goroutines.filter { $0.address != waiting.address } == baseline.goroutines.filter { $0.address != waiting.address })
    }
}
