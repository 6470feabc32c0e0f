import Foundation
import Testing

/// Running goroutines, which the runtime's own dump cannot show from another goroutine: gospy
/// starts their walks from their threads while the target is stopped (the registers, or the
/// VDSO call the thread is in), and the walk ends at the goroutine's start function.
@Suite struct RunningGoroutineTests {
    static var binaries: [TargetBinary] {
        [TestTargets.binary(release: "1.19", mode: "plain"), TestTargets.binary(release: TestTargets.newestRelease, mode: "distro")]
            .compactMap { $0 }
    }

    struct Dump: Decodable {
        struct Frame: Decodable { let function: String }
        struct Creator: Decodable { let function: String }
        struct Item: Decodable {
            let id: UInt64; let status: String; let frames: [Frame]; let truncated: String?; let stackFrom: String
            let createdBy: Creator?
        }
        let goroutines: [Item]
    }

    /// Two goroutines read the clock in a loop (time.Now), so a stop usually finds their
    /// threads inside the VDSO, on g0's stack in code without Go frame data.
    @Test(arguments: Self.binaries)
    func clockReadersAreWalkedFromTheirThreads(binary: TargetBinary) throws {
        let target = try RunningTarget(binary, arguments: ["-scenario=clock"])
        defer { target.stop() }
        var running = 0
        var fromVDSO = 0
        var cannotWalk = 0
        for round in 0..<20 {
            let result = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid), "--format", "json"])
            #expect(result.status == 0, "\(result.stderr)")
            let dump = try JSONDecoder().decode(Dump.self, from: Data(result.stdout.utf8))
            // Known by their creator, not by their frames: a wrong walk must not hide them.
            for item in dump.goroutines where item.status == "running" && item.createdBy?.function == "main.startClock" {
                running += 1
                let functions = item.frames.map(\.function)
                #expect(["registers", "vdso"].contains(item.stackFrom), "round \(round), goroutine \(item.id): stack from \(item.stackFrom): \(functions)")
                if let truncated = item.truncated {
                    // Stopped inside an assembly function that switches stacks (1.19's time.now)
                    // while no VDSO call was marked: its callers cannot be found, and the dump
                    // says so rather than guessing.
                    #expect(truncated.contains("moves its stack pointer") && functions.count == 1, "goroutine \(item.id): \(functions), \(truncated)")
                    cannotWalk += 1
                } else {
                    #expect(functions.last == "main.clockReader", "goroutine \(item.id): \(functions)")
                }
                if item.stackFrom == "vdso" {
                    fromVDSO += 1
                    #expect(functions.contains("time.Now"), "goroutine \(item.id): \(functions)")
                }
            }
        }
        #expect(running >= 10, "clock readers seen running: \(running)")
        #expect(fromVDSO >= 1, "no stop found a clock reader inside the VDSO in \(running) sightings")
        #expect(cannotWalk * 4 <= running, "\(cannotWalk) of \(running) sightings could not be walked")
        print("clock readers: \(running) seen running, \(fromVDSO) inside the VDSO, \(cannotWalk) not walkable")
    }
}
