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
    /// Which physical frame of its stack this belongs to (its arguments are that frame's).
    public var physicalIndex: Int = 0

    public var offset: UInt64 { pc &- entry }
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
    public let parentID: UInt64?
    public let pc: UInt64
}

extension RuntimeImage {
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
    /// there) and the one a traceback symbolises (runtime symPC: the call instruction, pc-1,
    /// for a return address).
    func symbolization(of frame: PhysicalFrame) -> (function: Pclntab.Function, linkPC: UInt64, symbolPC: UInt64)? {
        guard frame.pc >= loadBias, let function = executable.pclntab.function(containing: frame.pc - loadBias) else { return nil }
        return (function, frame.pc - loadBias, frame.symbolPC - loadBias)
    }

    public func logicalFrames(at frame: PhysicalFrame) -> [LogicalFrame] {
        cache.frames(frame.pc, frame.trapped) {
            guard let (function, _, symbolPC) = symbolization(of: frame) else { return [] }
            return executable.pclntab.frames(at: symbolPC, in: function).map { source in
                LogicalFrame(function: Self.printedName(source.function), rawName: source.function,
                             file: source.file, line: source.line, pc: frame.pc, entry: frame.entry,
                             symbolPC: frame.symbolPC, inlined: source.inlined, funcID: source.funcID)
            }
        }
    }

    /// The name a traceback prints (runtime.printFuncName).
    public static func printedName(_ raw: String) -> String {
        raw == "runtime.gopanic" ? "panic" : printName(raw)
    }

    /// Whether a traceback shows a frame by default (runtime.showfuncinfo): wrappers that
    /// called the wrapped function are elided; runtime.* functions are hidden unless exported;
    /// runtime.gopanic shows in the middle of a stack.
    public func showsFrame(rawName: String, funcID: UInt8, calleeFuncID: UInt8, firstFrame: Bool) -> Bool {
        if let ids = funcIDs, ids.isWrapper(funcID) {
            let panics = ["gopanic", "sigpanic", "panicwrap"].compactMap { ids.values[$0] }
            if !panics.contains(calleeFuncID) { return false }
        }
        if rawName == "runtime.gopanic" && !firstFrame { return true }
        guard rawName.contains(".") else { return false }
        return !rawName.hasPrefix("runtime.") || Self.isExportedRuntime(rawName, release: executable.version)
    }

    static func isExportedRuntime(_ name: String, release: GoVersion) -> Bool {
        guard name.hasPrefix("runtime.") else { return false }
        var rest = Substring(name.dropFirst("runtime.".count))
        guard release.atLeast(1, 21) else {
            return rest.first.map { $0 >= "A" && $0 <= "Z" } ?? false
        }
        // Exported functions, and exported methods of exported types: runtime.(*Func).Name.
        var receiver = Substring("")
        if let dot = rest.lastIndex(of: ".") {
            receiver = rest[..<dot]
            rest = rest[rest.index(after: dot)...]
            if receiver.hasPrefix("(*"), receiver.hasSuffix(")") { receiver = receiver.dropFirst(2).dropLast() }
        }
        let exported = { (s: Substring) in s.first.map { $0 >= "A" && $0 <= "Z" } ?? false }
        return exported(rest) && (receiver.isEmpty || exported(receiver))
    }

    /// The frames a default traceback prints, with the runtime's limits: Go 1.19 walks at most
    /// 100 physical frames; 1.21+ prints the first and last 50 shown frames. If no frame would
    /// be shown, all are (the runtime retries with runtime frames included).
    public func traceback(_ stack: UnwoundStack, showRuntime: Bool = false) -> TracebackBody {
        // Goroutines share stacks: a million goroutines often have a few hundred distinct ones.
        let key = SymbolCache.StackKey(pcs: stack.frames.map(\.pc), trapped: stack.frames.map(\.trapped), showRuntime: showRuntime)
        return cache.traceback(key) { uncachedTraceback(stack, showRuntime: showRuntime) }
    }

    private func uncachedTraceback(_ stack: UnwoundStack, showRuntime: Bool) -> TracebackBody {
        let legacy = !executable.version.atLeast(1, 21)
        let physical = legacy ? UnwoundStack(frames: Array(stack.frames.prefix(100)), end: stack.end, origin: stack.origin) : stack
        var shown = showRuntime ? logicalFrames(physical) : filterShown(logicalFrames(physical))
        if shown.isEmpty { shown = logicalFrames(physical) }
        if legacy {
            return TracebackBody(frames: shown, elidedCount: nil, tail: [], additionalElided: shown.count >= 100)
        }
        guard shown.count > 100 else { return TracebackBody(frames: shown, elidedCount: nil, tail: [], additionalElided: false) }
        return TracebackBody(frames: Array(shown.prefix(50)), elidedCount: shown.count - 100,
                             tail: Array(shown.suffix(50)), additionalElided: false)
    }

    func filterShown(_ frames: [LogicalFrame]) -> [LogicalFrame] {
        var result: [LogicalFrame] = []
        var callee: UInt8 = 0
        for frame in frames {
            defer { callee = frame.funcID }
            if showsFrame(rawName: frame.rawName, funcID: frame.funcID, calleeFuncID: callee, firstFrame: result.isEmpty) {
                result.append(frame)
            }
        }
        return result
    }

    /// The "created by" line, as runtime.printcreatedby decides: not for goroutine 1, and not
    /// when the creating function is one a traceback hides. The site is cached per PC.
    public func createdBy(_ goroutine: Goroutine) -> CreatedBy? {
        let pc = goroutine.creatorPC
        guard goroutine.id != 1, let site = creatorSite(pc) else { return nil }
        let parent = executable.version.atLeast(1, 21) ? goroutine.parentID.flatMap { $0 == 0 ? nil : $0 } : nil
        return CreatedBy(function: site.function, file: site.file, line: site.line,
                         offset: site.offset, parentID: parent, pc: pc)
    }

    func creatorSite(_ pc: UInt64) -> SymbolCache.CreatorSite? {
        cache.creatorSite(pc) {
            guard pc >= loadBias, let function = executable.pclntab.function(containing: pc - loadBias),
                  let raw = try? executable.pclntab.name(of: function),
                  showsFrame(rawName: raw, funcID: function.funcID, calleeFuncID: 0, firstFrame: false) else { return nil }
            let linkPC = pc - loadBias
            let lookup = PhysicalFrame.symbolizationPC(pc: linkPC, entry: function.entry, trapped: false)
            let position = executable.pclntab.fileLine(function: function, pc: lookup)
            let offset = linkPC > function.entry ? linkPC - function.entry : nil
            return SymbolCache.CreatorSite(function: Self.printedName(raw), file: position.file, line: position.line, offset: offset)
        }
    }
}
