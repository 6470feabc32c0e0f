/// A stack as a dictionary key, through its own frame array (shared, not copied): a key made
/// per goroutine allocates nothing, where an array of PCs per goroutine would (a million
/// goroutines share a few hundred stacks, so views name each distinct one once).

/// The frames' PCs and trap marks: what a stack's traceback depends on (not the SPs, which
/// differ between goroutines with the same traceback).
public struct TracebackIdentity: Hashable, Sendable {
    public let frames: [PhysicalFrame]

    public init(frames: [PhysicalFrame]) { self.frames = frames }

    public static func == (a: TracebackIdentity, b: TracebackIdentity) -> Bool {
        a.frames.count == b.frames.count && zip(a.frames, b.frames).allSatisfy { $0.pc == $1.pc && $0.trapped == $1.trapped }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(frames.count)
        for frame in frames {
            hasher.combine(frame.pc)
            hasher.combine(frame.trapped)
        }
    }
}

/// The frames' PCs alone.
public struct StackPCs: Hashable, Sendable {
    public let frames: [PhysicalFrame]

    public init(frames: [PhysicalFrame]) { self.frames = frames }

    public static func == (a: StackPCs, b: StackPCs) -> Bool {
        a.frames.count == b.frames.count && zip(a.frames, b.frames).allSatisfy { $0.pc == $1.pc }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(frames.count)
        for frame in frames { hasher.combine(frame.pc) }
    }
}
