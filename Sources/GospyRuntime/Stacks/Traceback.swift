import GospyBinary

/// A source-level frame: a physical frame, or a call inlined into one.
public struct LogicalFrame: Sendable, Equatable, Codable {
    /// As the runtime prints it (generic type arguments as "[...]", runtime.gopanic as "panic").
    public let function: String
    /// The pclntab name.
    public let rawName: String
    public let file: String
    public let line: Int
    /// The physical frame's PC and function entry (process addresses).
    public let pc: UInt64
    public let entry: UInt64
    /// The physical frame's symbolisation PC (PhysicalFrame.symbolPC), which profiles list.
    public let symbolPC: UInt64
    public let inlined: Bool
    public let funcID: UInt8
    /// The process PC this logical frame is looked up at (symbolPC for the innermost call of
    /// its physical frame, the inline mark in the caller for each outer level): what the
    /// runtime's profiles record for it (+1) and its debug=1 text prints.
    public var lookupPC: UInt64 = 0
    /// Which physical frame of its stack this belongs to (its arguments are that frame's).
    public var physicalIndex: Int = 0

    public var offset: UInt64 { pc &- entry }

    /// The frame as a goroutine's location (summary's and top's `--pc user`, `user-code`).
    public var location: RuntimeImage.Location {
        RuntimeImage.Location(function: function, file: file, line: line, offset: offset)
    }
}

/// How the runtime would print one goroutine's stack.
public struct TracebackBody: Sendable, Equatable {
    public var frames: [LogicalFrame]
    /// 1.21+: "...N frames elided..." between `frames` and `tail`.
    public var elidedCount: Int?
    public var tail: [LogicalFrame]
    /// Go 1.19: "...additional frames elided..." after `frames`.
    public var additionalElided: Bool
}

/// "created by F in goroutine P" with the go statement's position.
public struct CreatedBy: Sendable, Equatable, Codable {
    public let function: String
    public let file: String
    public let line: Int
    public let offset: UInt64?
    public internal(set) var parentID: UInt64?
    public let pc: UInt64
}

extension Symbolizer {
    /// Every logical frame of an unwound stack, innermost first (cached per PC).
    public func logicalFrames(_ stack: UnwoundStack) -> [LogicalFrame] {
        stack.frames.enumerated().flatMap { index, frame in
            logicalFrames(at: frame).map { logical in
                var placed = logical
                placed.physicalIndex = index
                return placed
            }
        }
    }

    /// A physical frame's function and link-time PCs: its own (frame sizes are looked up
    /// there) and the one a traceback symbolises (the frame's symbolPC).
    func symbolization(of frame: PhysicalFrame) -> (function: Pclntab.Function, linkPC: UInt64, symbolPC: UInt64)? {
        guard frame.pc >= loadBias, let function = pclntab.function(containing: frame.pc - loadBias) else { return nil }
        return (function, frame.pc - loadBias, frame.symbolPC - loadBias)
    }

    public func logicalFrames(at frame: PhysicalFrame) -> [LogicalFrame] {
        cache.logicalFrames.value(TracebackCache.FrameKey(pc: frame.pc, trapped: frame.trapped)) {
            guard let (function, _, symbolPC) = symbolization(of: frame) else { return [] }
            return pclntab.frames(at: symbolPC, in: function).map { source in
                LogicalFrame(function: Self.printedName(source.function), rawName: source.function,
                             file: source.file, line: source.line, pc: frame.pc, entry: frame.entry,
                             symbolPC: frame.symbolPC, inlined: source.inlined, funcID: source.funcID,
                             lookupPC: source.lookupPC &+ loadBias)
            }
        }
    }

    /// The name a traceback prints (runtime.printFuncName).
    public static func printedName(_ raw: String) -> String {
        raw == "runtime.gopanic" ? "panic" : RuntimeImage.printName(raw)
    }

    /// The frames a default traceback prints, with the runtime's limits: Go 1.19 walks at most
    /// 100 physical frames; 1.21+ prints the first and last 50 shown frames. If no frame would
    /// be shown, all are (the runtime retries with runtime frames included).
    public func traceback(_ stack: UnwoundStack, showRuntime: Bool = false) -> TracebackBody {
        // Goroutines share stacks: a million goroutines often have a few hundred distinct ones.
        let key = TracebackCache.StackKey(identity: TracebackIdentity(frames: stack.frames), showRuntime: showRuntime)
        return cache.tracebacks.value(key) { uncachedTraceback(stack, showRuntime: showRuntime) }
    }

    private func uncachedTraceback(_ stack: UnwoundStack, showRuntime: Bool) -> TracebackBody {
        let legacy = !version.atLeast(1, 21)
        let physical = legacy ? UnwoundStack(frames: Array(stack.frames.prefix(100)), end: stack.end, origin: stack.origin) : stack
        var shown = showRuntime ? logicalFrames(physical) : tracebackFrames(logicalFrames(physical))
        if shown.isEmpty { shown = logicalFrames(physical) }
        if legacy {
            return TracebackBody(frames: shown, elidedCount: nil, tail: [], additionalElided: shown.count >= 100)
        }
        guard shown.count > 100 else { return TracebackBody(frames: shown, elidedCount: nil, tail: [], additionalElided: false) }
        return TracebackBody(frames: Array(shown.prefix(50)), elidedCount: shown.count - 100,
                             tail: Array(shown.suffix(50)), additionalElided: false)
    }

    /// A physical frame's fp as the runtime's unwinder sets it (sp + the SP delta at pc + the
    /// return address): what GOTRACEBACK=system prints as " fp=... sp=... pc=...". Nil when
    /// the SP delta is unknown.
    public func framePointer(of frame: PhysicalFrame) -> UInt64? {
        framePointerOffset(of: frame).map { frame.sp &+ $0 }
    }

    /// fp - sp for a frame at this PC (its SP delta plus the return address), nil when the
    /// SP delta is unknown: the same for every frame at the PC.
    public func framePointerOffset(of frame: PhysicalFrame) -> UInt64? {
        guard let delta = frameInfo(frame.pc)?.spDelta, delta >= 0 else { return nil }
        return UInt64(delta) &+ 8
    }

    /// The "created by" line, as runtime.printcreatedby decides: not for goroutine 1, and not
    /// when the creating function is one a traceback hides (showframe): with `showRuntime`
    /// (GOTRACEBACK=system and above, SIGQUIT, a crash) none is hidden, so system goroutines
    /// show runtime.gcenable and the like. The go statement's function, and the position of
    /// its call (pc-1). Every output that names a creator uses this.
    public func createdBy(_ goroutine: Goroutine, showRuntime: Bool = false) -> CreatedBy? {
        let pc = goroutine.creatorPC
        guard goroutine.id != 1, let site = creatorSite(pc), site.shown || showRuntime else { return nil }
        var createdBy = site.createdBy
        createdBy.parentID = version.atLeast(1, 21) ? goroutine.parentID.flatMap { $0 == 0 ? nil : $0 } : nil
        return createdBy
    }

    /// The go statement's site, cached per PC: goroutines started by one statement share it.
    /// Nil when no function contains the PC (the runtime's findfunc fails: never printed).
    func creatorSite(_ pc: UInt64) -> TracebackCache.CreatorSite? {
        cache.creatorSites.value(pc) {
            guard pc >= loadBias, let function = pclntab.function(containing: pc - loadBias),
                  let raw = try? pclntab.name(of: function) else { return nil }
            let shown = showsInTraceback(rawName: raw, funcID: function.funcID, calleeFuncID: 0, firstFrame: false)
            let linkPC = pc - loadBias
            let lookup = PhysicalFrame.symbolizationPC(pc: linkPC, entry: function.entry, trapped: false)
            let position = pclntab.fileLine(function: function, pc: lookup)
            let offset = linkPC > function.entry ? linkPC - function.entry : nil
            let createdBy = CreatedBy(function: Self.printedName(raw), file: position.file, line: position.line,
                                      offset: offset, parentID: nil, pc: pc)
            return TracebackCache.CreatorSite(createdBy: createdBy, shown: shown)
        }
    }
}
