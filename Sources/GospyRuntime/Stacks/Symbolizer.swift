import GospyBinary

/// The traceback layer: unwinding facts per PC, logical frames, the runtime's traceback,
/// argument plans, "created by", and which frames each output format shows. It needs only the
/// function table, the release and the load bias (unit tests give it a synthetic pclntab).
/// Its caches are shared by copies: make one per image and pass it along.
public struct Symbolizer: Sendable {
    public let pclntab: Pclntab
    public let version: GoVersion
    /// Link-time address + loadBias = process address.
    public let loadBias: UInt64
    /// This release's funcID numbering.
    public let funcIDs: FuncIDTable?
    let cache = TracebackCache()

    public init(image: RuntimeImage) {
        self.init(pclntab: image.executable.pclntab, version: image.executable.version, loadBias: image.loadBias)
    }

    public init(pclntab: Pclntab, version: GoVersion, loadBias: UInt64 = 0) {
        self.pclntab = pclntab
        self.version = version
        self.loadBias = loadBias
        funcIDs = FuncIDTable.forRelease(version.release)
    }

    /// The function facts the unwinder needs at a PC, cached: stacks repeat the same PCs.
    func frameInfo(_ pc: UInt64) -> TracebackCache.FrameInfo? {
        cache.frameInfos.value(pc) {
            let table = pclntab
            guard pc >= loadBias, let function = table.function(containing: pc - loadBias) else { return nil }
            return TracebackCache.FrameInfo(
                entry: function.entry &+ loadBias, spDelta: table.spDelta(function: function, pc: pc - loadBias),
                topFrame: function.isTopFrame, writesSP: function.writesSP, funcID: function.funcID)
        }
    }

    /// Whether a goroutine's stack starts at its syscall state (g.syscallpc/sp), as the
    /// runtime's traceback decides: from Go 1.21 whenever syscallsp is set, before that only
    /// in the _Gsyscall status. The stack walk and `--pc current` both ask this.
    public func isInSyscall(status: GoroutineStatus, syscallSP: UInt64) -> Bool {
        version.atLeast(1, 21) ? syscallSP != 0 : status == .syscall
    }
}

/// Memoised traceback work, shared by copies of a `Symbolizer`.
final class TracebackCache: Sendable {
    /// What the unwinder needs of the function at a PC.
    struct FrameInfo {
        let entry: UInt64
        let spDelta: Int32?
        let topFrame: Bool
        let writesSP: Bool
        let funcID: UInt8
    }

    /// A stack's traceback with or without runtime frames.
    struct StackKey: Hashable {
        let identity: TracebackIdentity
        let showRuntime: Bool
    }

    struct FrameKey: Hashable {
        let pc: UInt64
        let trapped: Bool
    }

    /// Where a go statement is, as "created by" prints it (its `parentID` is nil: the parent
    /// is each goroutine's own).
    struct CreatorSite {
        let createdBy: CreatedBy
        /// Whether a default traceback shows it (runtime.showfuncinfo at level 1).
        let shown: Bool
    }

    let frameInfos = Memo<UInt64, FrameInfo?>()
    let logicalFrames = Memo<FrameKey, [LogicalFrame]>()
    let tracebacks = Memo<StackKey, TracebackBody>(limit: 100_000)
    let argumentPlans = Memo<FrameKey, ArgumentPlan?>()
    let stackArgumentPlans = Memo<TracebackIdentity, StackArgumentPlans>(limit: 100_000)
    let creatorSites = Memo<UInt64, CreatorSite?>()
}
