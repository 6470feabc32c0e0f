import GospyInspector
import GospyRuntime
import Testing

/// `Waits.byIndex` (each goroutine's wait in snapshot order, what `gospy waits` reads) says
/// what `Waits.objects` (by address, what summary, dump and top read) says, for every
/// goroutine: channel waits as well as the sync, sleep, IO and system call waits merged in
/// after them.
@Suite(.serialized) struct WaitsByIndexTests {
    static let binaries = TestTargets.matrix.filter {
        $0.release == TestTargets.newestRelease && ["plain", "distro"].contains($0.mode)
    }

    static func kind(_ object: WaitObject) -> String {
        switch object {
        case .channel, .select: return "channel"
        case .nilChannel, .selectWithoutCases: return "for good"
        case .unknown: return "unknown"
        case .io: return "io"
        case .syscall: return "syscall"
        case .sync: return "sync"
        case .sleep: return "sleep"
        }
    }

    @Test(arguments: binaries)
    func byIndexSaysWhatObjectsSay(binary: TargetBinary) throws {
        var kinds = Set<String>()
        for scenario in ["waits", "iowaits"] {
            let target = try RunningTarget(binary, arguments: ["-scenario=\(scenario)"])
            defer { target.stop() }
            let inspector = try Inspector(pid: target.pid)
            let capture = try inspector.capture(blocking: true, stacks: true)
            let waits = try inspector.readWaits(capture.snapshot, stacks: capture.stacks, suspects: true)
            let goroutines = capture.snapshot.goroutines
            #expect(waits.byIndex.count == goroutines.count, "\(binary.testDescription) \(scenario)")
            for (index, goroutine) in goroutines.enumerated() where index < waits.byIndex.count {
                let object = waits.objects[goroutine.address]
                #expect(waits.byIndex[index] == object,
                        "\(binary.testDescription) \(scenario): goroutine \(goroutine.id) \(String(describing: waits.byIndex[index])) vs \(String(describing: object))")
                if let object { kinds.insert(Self.kind(object)) }
            }
        }
        // The comparison covers every reader's objects, not channel waits alone.
        #expect(kinds.isSuperset(of: ["channel", "for good", "io", "syscall", "sync", "sleep"]),
                "\(binary.testDescription): kinds seen \(kinds.sorted())")
    }
}
