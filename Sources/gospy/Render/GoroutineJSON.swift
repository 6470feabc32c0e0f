import GospyRuntime

/// The fields every JSON view of one goroutine starts with (summary's goroutines, dump's items):
/// one place that says how they come from the runtime's g.
struct GoroutineHeaderJSON: Encodable {
    let id: UInt64
    /// As the traceback header shows it: the wait reason for a waiting goroutine.
    let state: String
    /// The runtime's status name (waiting, runnable, ...).
    let status: String
    let waitReason: String?
    let waitMinutes: Int?
    let lockedToThread: Bool

    init(_ goroutine: Goroutine, waitMinutes: Int?) {
        id = goroutine.id
        state = goroutine.stateText
        status = goroutine.status.name
        waitReason = goroutine.status == .waiting && goroutine.waitReason != 0 ? goroutine.waitReasonText : nil
        self.waitMinutes = waitMinutes
        lockedToThread = goroutine.lockedToThread
    }
}

/// One goroutine's JSON object: the shared header fields and a view's own fields side by side
/// in one object (JSON readers see no nesting).
typealias GoroutineJSON<Details: Encodable> = MergedJSON<GoroutineHeaderJSON, Details>
