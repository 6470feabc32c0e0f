import GospyBinary
import GospyMemory

/// A sync object's own state words, as text: whether a Mutex is locked, an RWMutex's readers,
/// a WaitGroup's counter, a Cond's tickets. Nil when unreadable. (Who holds a lock is recorded
/// nowhere: only its waiters are.)
public enum SyncObjectState {
    public static func text(of wait: SyncWait, reader: MemoryReader, release: GoVersion) -> String? {
        switch wait.kind {
        case .mutex:
            guard let state = try? reader.fetch(UInt32.self, from: wait.object) else { return nil }
            return mutexText(state)
        case .rwMutex:
            // RWMutex{w Mutex, writerSem, readerSem, readerCount int32 @16, readerWait int32 @20}.
            guard let w = try? reader.fetch(UInt32.self, from: wait.object),
                  let count = try? reader.fetch(UInt32.self, from: wait.object &+ 16),
                  let departing = try? reader.fetch(UInt32.self, from: wait.object &+ 20) else { return nil }
            // readerCount counts the readers holding it and those queued behind a writer; a
            // pending writer subtracts 1<<30 and waits for readerWait of them to leave.
            let readerCount = Int32(bitPattern: count)
            let writerPending = readerCount < 0
            let readers = writerPending ? Int64(readerCount) + (1 << 30) : Int64(readerCount)
            var text = "writer lock \(mutexText(w)), \(readers) readers holding or queued"
            if writerPending { text += ", a writer waits for \(Int32(bitPattern: departing)) to leave" }
            return text
        case .waitGroup:
            guard let state = try? reader.fetch(UInt64.self, from: wait.object) else { return nil }
            let counter = Int32(truncatingIfNeeded: Int64(bitPattern: state) >> 32)
            // 1.25+: the top bit of the low word marks a synctest bubble's WaitGroup.
            let waiters = UInt32(truncatingIfNeeded: state) & (release.atLeast(1, 25) ? 0x7fff_ffff : 0xffff_ffff)
            return "counter \(counter), \(waiters) waiters"
        case .cond:
            // notifyList{wait, notify uint32, ...}: tickets handed out and tickets notified.
            guard let tickets = try? reader.fetch(UInt32.self, from: wait.queue),
                  let notified = try? reader.fetch(UInt32.self, from: wait.queue &+ 4) else { return nil }
            return "\(tickets &- notified) not yet notified"
        case .semaphore:
            guard let value = try? reader.fetch(UInt32.self, from: wait.queue) else { return nil }
            return "value \(value)"
        }
    }

    /// Mutex state: bit 0 locked, bit 1 woken, bit 2 starving, waiters above.
    static func mutexText(_ state: UInt32) -> String {
        var text = state & 1 != 0 ? "locked" : "unlocked"
        if state & 4 != 0 { text += " (starving)" }
        text += ", \(state >> 3) waiters counted"
        return text
    }
}
