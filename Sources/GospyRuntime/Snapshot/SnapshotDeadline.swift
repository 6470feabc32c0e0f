import Dispatch
import GospyMemory

/// The overall time one snapshot may take. The goroutine list (allgs and every g: one gathered
/// read each, bounded by `SnapshotReader.maxGoroutines`) is always read and validated; reading,
/// walking and argument reads of stacks stop once the deadline has passed, and the goroutines
/// left get an empty stack that says so instead of a guess. The target is stopped and resumed
/// as always: a cut read makes the pause shorter, never longer. Shared by one capture's stack
/// collectors, which count what they cut.
public final class SnapshotDeadline: @unchecked Sendable {
    /// Generous for a million goroutines on a slow host (about 12 s measured on a loaded
    /// 2-core machine, BENCHMARKS.md): ten times that.
    public static let defaultSeconds: Double = 120
    /// The truncation reasons of the stacks a deadline cut.
    public static let notRead = "snapshot deadline reached: stack not read"
    public static let notWalked = "snapshot deadline reached: stack not walked"

    public let seconds: Double
    private let end: UInt64
    private let lock = ThreadLock()
    private var stacksNotRead = 0
    private var stacksNotWalked = 0

    public init(seconds: Double) {
        self.seconds = seconds
        let now = DispatchTime.now().uptimeNanoseconds
        // Clamped: a huge or infinite deadline never overflows, a negative one is already past.
        let nanoseconds = seconds.isNaN || seconds <= 0 ? 0 : min(seconds * 1e9, Double(UInt64.max / 2))
        end = now &+ min(UInt64(nanoseconds), UInt64.max - now)
    }

    public var expired: Bool { DispatchTime.now().uptimeNanoseconds >= end }

    /// Counts one goroutine whose stack was cut: not read at all, or read but not walked.
    func recordCut(read: Bool) {
        lock.withLock {
            if read { stacksNotWalked += 1 } else { stacksNotRead += 1 }
        }
    }

    /// What was cut, or nil when the deadline cut nothing.
    public var cut: SnapshotCut? {
        lock.withLock {
            stacksNotRead + stacksNotWalked == 0 ? nil
                : SnapshotCut(seconds: seconds, stacksNotRead: stacksNotRead, stacksNotWalked: stacksNotWalked)
        }
    }
}

/// A snapshot the deadline cut short: its goroutine list is whole, these stacks are not.
public struct SnapshotCut: Error, Sendable, Equatable, CustomStringConvertible {
    public let seconds: Double
    public let stacksNotRead: Int
    public let stacksNotWalked: Int

    public var description: String {
        "snapshot deadline of \(seconds) s reached: \(stacksNotRead) stacks not read, \(stacksNotWalked) not walked "
            + "(shown as \"stack truncated: snapshot deadline reached\"); raise --deadline"
    }
}
