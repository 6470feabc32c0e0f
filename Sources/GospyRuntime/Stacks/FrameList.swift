/// A stack's frames as a chain shared between stacks of the same shape, plus the innermost
/// frame's SP. Every other frame's SP is that SP plus the frame sizes below it, the same for
/// every goroutine with the same PCs: a million goroutines share a few hundred chains, so a
/// stack costs a reference and an SP instead of an array of frames (300 MB at a million).
/// Reading it gives `PhysicalFrame`s.
public struct FrameList: RandomAccessCollection, Sendable, Equatable {
    let chain: FrameChain
    /// The first frame's SP (0 when there are no frames).
    let base: UInt64

    init(chain: FrameChain, base: UInt64) {
        self.chain = chain
        self.base = base
    }

    /// A list of its own, not shared (tests, synthetic stacks, frames from elsewhere).
    public init(_ frames: some Collection<PhysicalFrame>) {
        let base = frames.first?.sp ?? 0
        self.init(chain: FrameChain(frames.map { FrameChain.Frame($0, base: base) }), base: base)
    }

    public static let empty = FrameList([PhysicalFrame]())

    public var startIndex: Int { 0 }
    public var endIndex: Int { chain.frames.count }

    public subscript(position: Int) -> PhysicalFrame {
        let frame = chain.frames[position]
        return PhysicalFrame(pc: frame.pc, sp: base &+ frame.spOffset, entry: frame.entry, trapped: frame.trapped)
    }

    public static func == (a: FrameList, b: FrameList) -> Bool {
        (a.chain === b.chain && a.base == b.base) || a.elementsEqual(b)
    }
}

extension FrameList: ExpressibleByArrayLiteral {
    public init(arrayLiteral frames: PhysicalFrame...) { self.init(frames) }
}

/// The frames of one stack shape, immutable once made: PCs, entries, trap marks, and SPs as
/// offsets from the first frame's (wrapping, so any list of frames round-trips).
final class FrameChain: Sendable {
    struct Frame: Equatable {
        let pc: UInt64
        let entry: UInt64
        let spOffset: UInt64
        let trapped: Bool

        init(_ frame: PhysicalFrame, base: UInt64) {
            pc = frame.pc
            entry = frame.entry
            spOffset = frame.sp &- base
            trapped = frame.trapped
        }
    }

    let frames: [Frame]
    /// Hashes of the PCs with their trap marks (TracebackIdentity) and of the PCs alone
    /// (StackPCs), made once per chain rather than once per goroutine that shares it.
    let identityHash: Int
    let pcsHash: Int

    init(_ frames: [Frame]) {
        self.frames = frames
        var identity = Hasher()
        var pcs = Hasher()
        identity.combine(frames.count)
        pcs.combine(frames.count)
        for frame in frames {
            identity.combine(frame.pc)
            identity.combine(frame.trapped)
            pcs.combine(frame.pc)
        }
        identityHash = identity.finalize()
        pcsHash = pcs.finalize()
    }

    /// Whether `other` has the same PCs (and, with `trapMarks`, the same trap marks): the
    /// equality of the stack keys whose hashes these are.
    func samePCs(as other: FrameChain, trapMarks: Bool) -> Bool {
        if self === other { return true }
        guard (trapMarks ? identityHash == other.identityHash : pcsHash == other.pcsHash),
              frames.count == other.frames.count else { return false }
        return zip(frames, other.frames).allSatisfy { $0.pc == $1.pc && (!trapMarks || $0.trapped == $1.trapped) }
    }
}

/// Finds the chain already made for a walk's frames, or makes and keeps one: one per
/// unwinder (one thread), so chains are shared without a lock. Bounded: past `limit` chains,
/// or when two shapes meet in one slot, a walk gets a chain of its own (never a wrong one).
final class FrameChainInterner {
    static let limit = 65_536
    private var chains: [UInt64: FrameChain] = [:]

    func list(for frames: UnsafeBufferPointer<PhysicalFrame>) -> FrameList {
        let base = frames.first?.sp ?? 0
        let key = Self.shapeHash(frames, base: base)
        if let chain = chains[key], chain.frames.count == frames.count,
           zip(chain.frames, frames).allSatisfy({ $0 == FrameChain.Frame($1, base: base) }) {
            return FrameList(chain: chain, base: base)
        }
        let chain = FrameChain(frames.map { FrameChain.Frame($0, base: base) })
        if chains.count < Self.limit, chains[key] == nil { chains[key] = chain }
        return FrameList(chain: chain, base: base)
    }

    /// PCs, SP offsets and trap marks mixed (entries follow from the PCs).
    private static func shapeHash(_ frames: UnsafeBufferPointer<PhysicalFrame>, base: UInt64) -> UInt64 {
        var hash = UInt64(frames.count) &* 0x9E37_79B9_7F4A_7C15
        func mix(_ value: UInt64) {
            hash = (hash ^ value) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash >> 31
        }
        for frame in frames {
            mix(frame.pc)
            mix(frame.sp &- base)
            mix(frame.trapped ? 1 : 0)
        }
        return hash
    }
}
