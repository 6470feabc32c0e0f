@testable import GospyInspector
import GospyRuntime
import Testing

/// `SnapshotReader.decode` decodes many records in parts on several threads, each part written
/// to its place and the parts closed up over dead and unreadable records: the goroutines must be
/// those one thread decodes, in the same order.
@Suite(.serialized) struct DecodeInPartsTests {
    /// `partMinimum`: records per part, low enough for two parts at least.
    static func expectPartsDecodeAsOne(_ arguments: [String], partMinimum: Int, label: String) throws {
        let binary = try #require(TestTargets.binary(release: "1.27", mode: "distro"))
        let target = try RunningTarget(binary, arguments: arguments, readyTimeout: 120)
        defer { target.stop() }
        let inspector = try Inspector(pid: target.pid)
        for round in 0..<3 {
            var read: Inspector.StoppedRead?
            _ = try inspector.captureValidated(holdStopped: 0, stacks: false, arguments: false, incremental: false,
                                               alsoWhileStopped: { read = try inspector.readWhileStopped(stacks: false) })
            let raw = try #require(read).raw
            let reader = SnapshotReader(image: inspector.image, memory: inspector.memory)
            let one = try reader.decode(raw, partMinimum: .max)
            // As many parts as the machine allows.
            let parts = try reader.decode(raw, partMinimum: partMinimum)
            #expect(one.goroutines.count >= 2 * partMinimum, "\(label) round \(round): \(one.goroutines.count) goroutines")
            // (Compared first: an expectation on the arrays would print every goroutine.)
            let same = parts.goroutines == one.goroutines
            #expect(same, "\(label) round \(round): \(parts.goroutines.count) goroutines decoded in parts, \(one.goroutines.count) in one")
            #expect(parts.unreadableGoroutines == one.unreadableGoroutines, "\(label) round \(round): unreadable")
        }
    }

    @Test func manyGoroutines() throws {
        try Self.expectPartsDecodeAsOne(["-scenario=many", "-n=5000"], partMinimum: 300, label: "many")
    }

    /// Goroutines ending all the time: dead gs between live ones in every part.
    @Test func underChurn() throws {
        try Self.expectPartsDecodeAsOne(["-scenario=churn"], partMinimum: 8, label: "churn")
    }
}
