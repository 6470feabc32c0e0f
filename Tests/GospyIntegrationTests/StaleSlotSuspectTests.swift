import Foundation
import GospyInspector
import GospyRuntime
import Testing

/// A channel whose only waiter is its only user, while its creator sleeps with the channel's
/// address still in a dead slot of its frame (the target's `stalechan`): only the words the
/// frames' stack maps say are live count as holding a channel, so it is suspect. The runtime's
/// own leak detection, where the build has it, agrees that nothing live holds it.
@Suite(.serialized) struct StaleSlotSuspectTests {
    static let binaries = TestTargets.matrix.filter { ["plain", "stripped", "distro"].contains($0.mode) }
        + TestTargets.all.filter { $0.mode == "leakprofile-go126" }

    struct Report: Decodable {
        struct Object: Decodable { let address: String?; let suspect: String?; let stuckForGood: Bool }
        let objects: [Object]
    }

    @Test(arguments: binaries)
    func aDeadSlotDoesNotHoldAChannel(binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let reply = try target.send("stalechan")
        var fields: [String: String] = [:]
        for pair in reply.split(separator: " ").dropFirst() {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        let creator = try #require(fields["creator"].flatMap { UInt64($0) }, "reply \(reply)")
        let waiter = try #require(fields["waiter"].flatMap { UInt64($0) }, "reply \(reply)")
        let channel = try #require(fields["chan"].flatMap { UInt64($0.dropFirst(2), radix: 16) }, "reply \(reply)")

        // The creator's stack does hold the address (a whole-stack scan would see it there).
        let inspector = try Inspector(pid: target.pid)
        let capture = try inspector.capture(blocking: true, stacks: true)
        let goroutine = try #require(capture.snapshot.goroutines.first { $0.id == creator })
        let bytes = try inspector.memory.fetchBytes(from: goroutine.schedSP, count: Int(goroutine.stackHi - goroutine.schedSP))
        let words = bytes.withUnsafeBytes { raw in
            stride(from: 0, through: raw.count - 8, by: 8).map { raw.loadUnaligned(fromByteOffset: $0, as: UInt64.self) }
        }
        try #require(words.contains(channel), "\(binary.testDescription): the creator's stack no longer holds 0x\(String(channel, radix: 16))")

        for flags in [[String](), ["--non-blocking"]] {
            let context = "\(binary.testDescription) \(flags.isEmpty ? "blocking" : "non-blocking")"
            let result = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid), "--json"] + flags)
            #expect(result.status == 0, "\(context): \(result.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            let object = report.objects.first { $0.address == "0x" + String(channel, radix: 16) }
            #expect(object?.suspect != nil, "\(context): the channel is not suspect: \(String(describing: object))")
            #expect(object?.stuckForGood == false, "\(context): a suspect is no proof")
        }

        // Where the runtime can tell, it finds the waiter's channel unreachable too.
        let leak = try target.send("leakcheck")
        if leak.hasPrefix("LEAKCHECK ") {
            let leaked = Set(leak.dropFirst(10).split(separator: ",").compactMap { UInt64($0) })
            #expect(leaked.contains(waiter) && !leaked.contains(creator), "\(binary.testDescription): the runtime marked \(leaked.sorted())")
        }
    }
}
