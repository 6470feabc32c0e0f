@testable import GospyRuntime
import Testing

/// The dump header's state text, built the way the runtime's goroutineheader builds it.
@Suite struct GoroutineStateTextTests {
    func goroutine(_ status: GoroutineStatus, reason: UInt8 = 0, text: String? = nil, scanning: Bool = false) -> Goroutine {
        Goroutine(address: 0x1000, id: 7, status: status, scanning: scanning, waitReason: reason, waitReasonText: text,
                  waitSince: 0, m: 0, lockedM: 0, startPC: 0, creatorPC: 0, parentID: nil, schedPC: 0, schedSP: 0,
                  schedBP: 0, syscallPC: 0, syscallSP: 0, stackLo: 0, stackHi: 0, labels: 0)
    }

    @Test func waitReasonReplacesWaiting() {
        #expect(goroutine(.waiting, reason: 7, text: "chan receive").stateText == "chan receive")
        #expect(goroutine(.waiting).stateText == "waiting")
        #expect(goroutine(.runnable, reason: 7, text: "chan receive").stateText == "runnable")
    }

    @Test func scanAndLeakedDecorations() {
        #expect(goroutine(.waiting, reason: 7, text: "chan receive", scanning: true).stateText == "chan receive (scan)")
        // Go 1.26+ leak detection: the wait reason, then " (leaked)", then " (scan)".
        #expect(goroutine(.leaked, reason: 7, text: "chan receive").stateText == "chan receive (leaked)")
        #expect(goroutine(.leaked, reason: 7, text: "chan receive", scanning: true).stateText == "chan receive (leaked) (scan)")
    }
}
