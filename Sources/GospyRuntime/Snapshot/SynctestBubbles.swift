import GospyBinary
import GospyMemory

/// Which synctest bubble a goroutine is in, as its traceback header names it.
public enum SynctestMembership: Sendable, Equatable {
    /// Go 1.25+: the bubble's id (synctestBubble.id), ", synctest bubble <id>".
    case bubble(id: UInt64)
    /// Go 1.24 (GOEXPERIMENT=synctest): the id of the group's root goroutine (the caller of
    /// synctest.Run), ", synctest group <goid>".
    case group(rootID: UInt64)
    /// In a bubble whose id could not be read.
    case unreadable
}

/// Reads the bubble a goroutine's g.bubble (1.25+) or g.syncGroup (1.24) points at: one
/// word per goroutine (1.24: two, the root g and its goid). A bubble's id never changes, so
/// it may be read after the target resumed, as labels are.
public struct SynctestReader {
    public let version: GoVersion
    public let layout: RuntimeLayout
    public let memory: MemoryReader

    public init(version: GoVersion, layout: RuntimeLayout, memory: MemoryReader) {
        self.version = version
        self.layout = layout
        self.memory = memory
    }

    public init(image: RuntimeImage, memory: MemoryReader) {
        self.init(version: image.executable.version, layout: image.layout, memory: memory)
    }

    /// nil when the goroutine is in no bubble.
    public func membership(of goroutine: Goroutine) -> SynctestMembership? {
        guard goroutine.bubble != 0 else { return nil }
        if let id = layout.optionalOffset("runtime.synctestBubble", "id") {
            guard let value = try? memory.fetch(UInt64.self, from: goroutine.bubble &+ UInt64(id)) else { return .unreadable }
            return .bubble(id: value)
        }
        if let root = layout.optionalOffset("runtime.synctestGroup", "root"),
           let goid = layout.optionalOffset("runtime.g", "goid") {
            guard let g = try? memory.fetchPointer(from: goroutine.bubble &+ UInt64(root)), g != 0,
                  let value = try? memory.fetch(UInt64.self, from: g &+ UInt64(goid)) else { return .unreadable }
            return .group(rootID: value)
        }
        return .unreadable
    }
}
