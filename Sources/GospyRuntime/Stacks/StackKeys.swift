/// A stack as a dictionary key, through its own frame list (shared, not copied): a key made
/// per goroutine allocates nothing, where an array of PCs per goroutine would (a million
/// goroutines share a few hundred stacks, so views name each distinct one once). The hash is
/// the shared chain's, made once; stacks sharing a chain compare equal without a frame read.

/// The frames' PCs and trap marks: what a stack's traceback depends on (not the SPs, which
/// differ between goroutines with the same traceback).
public struct TracebackIdentity: Hashable, Sendable {
    public let frames: FrameList

    public init(frames: FrameList) { self.frames = frames }

    public static func == (a: TracebackIdentity, b: TracebackIdentity) -> Bool {
        let (x, y) = (a.frames.chain, b.frames.chain)
        return x === y || (x.identityHash == y.identityHash && x.frames.count == y.frames.count
            && zip(x.frames, y.frames).allSatisfy { $0.pc == $1.pc && $0.trapped == $1.trapped })
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(frames.chain.identityHash) }
}

/// The frames' PCs alone.
public struct StackPCs: Hashable, Sendable {
    public let frames: FrameList

    public init(frames: FrameList) { self.frames = frames }

    public static func == (a: StackPCs, b: StackPCs) -> Bool {
        let (x, y) = (a.frames.chain, b.frames.chain)
        return x === y || (x.pcsHash == y.pcsHash && x.frames.count == y.frames.count
            && zip(x.frames, y.frames).allSatisfy { $0.pc == $1.pc })
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(frames.chain.pcsHash) }
}
