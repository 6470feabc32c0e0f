/// A stack as a dictionary key, through its own frame list (shared, not copied): a key made
/// per goroutine allocates nothing, where an array of PCs per goroutine would (a million
/// goroutines share a few hundred stacks, so views name each distinct one once). The hash is
/// the shared chain's, made once; stacks sharing a chain compare equal without a frame read.
public struct StackKey<Rule: StackKeyRule>: Hashable, Sendable {
    public let frames: FrameList

    public init(frames: FrameList) { self.frames = frames }

    public static func == (a: StackKey, b: StackKey) -> Bool {
        a.frames.chain.samePCs(as: b.frames.chain, trapMarks: Rule.trapMarks)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(Rule.trapMarks ? frames.chain.identityHash : frames.chain.pcsHash)
    }
}

/// What of the frames a `StackKey` compares.
public protocol StackKeyRule: Sendable {
    /// Trap marks as well as PCs.
    static var trapMarks: Bool { get }
}

public enum PCsAndTrapMarks: StackKeyRule { public static var trapMarks: Bool { true } }
public enum PCsAlone: StackKeyRule { public static var trapMarks: Bool { false } }

/// The frames' PCs and trap marks: what a stack's traceback depends on (not the SPs, which
/// differ between goroutines with the same traceback).
public typealias TracebackIdentity = StackKey<PCsAndTrapMarks>

/// The frames' PCs alone.
public typealias StackPCs = StackKey<PCsAlone>
