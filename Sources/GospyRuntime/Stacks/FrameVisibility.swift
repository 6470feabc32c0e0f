import GospyBinary

/// Which frames each output shows, in one place: the runtime's traceback (showfuncinfo), its
/// pprof goroutine profile, and the grouped text profile (`debug=1`). Renderers only format.
extension Symbolizer {
    /// runtime.elideWrapperCalling: a wrapper frame is hidden unless it called a panic
    /// (the wrapper is then where the panic happened).
    func elidesWrapper(funcID: UInt8, calleeFuncID: UInt8) -> Bool {
        guard let ids = funcIDs, ids.isWrapper(funcID) else { return false }
        let panics = ["gopanic", "sigpanic", "panicwrap"].compactMap { ids.values[$0] }
        return !panics.contains(calleeFuncID)
    }

    /// Whether a traceback shows a frame by default (runtime.showfuncinfo): wrappers that
    /// called the wrapped function are elided; runtime.* functions are hidden unless exported;
    /// runtime.gopanic shows in the middle of a stack.
    public func showsInTraceback(rawName: String, funcID: UInt8, calleeFuncID: UInt8, firstFrame: Bool) -> Bool {
        if elidesWrapper(funcID: funcID, calleeFuncID: calleeFuncID) { return false }
        if rawName == "runtime.gopanic" && !firstFrame { return true }
        guard rawName.contains(".") else { return false }
        return !rawName.hasPrefix("runtime.") || Self.isExportedRuntime(rawName, release: version)
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

    /// The logical frames a default traceback shows, innermost first.
    func tracebackFrames(_ frames: [LogicalFrame]) -> [LogicalFrame] {
        var result: [LogicalFrame] = []
        var callee: UInt8 = 0
        for frame in frames {
            defer { callee = frame.funcID }
            if showsInTraceback(rawName: frame.rawName, funcID: frame.funcID, calleeFuncID: callee, firstFrame: result.isEmpty) {
                result.append(frame)
            }
        }
        return result
    }

    /// The logical frames the runtime's goroutine profile records: at most this many (Go 1.23
    /// raised the limit), counted after wrapper elision and before runtime.goexit is dropped.
    public var profileDepth: Int { version.atLeast(1, 23) ? 128 : 32 }

    /// The goroutine profile's locations for a stack: each physical frame with the logical
    /// frames recorded for it (frames whose every line was dropped are left out).
    public func profileFrames(_ stack: UnwoundStack) -> [(frame: PhysicalFrame, lines: [LogicalFrame])] {
        let depth = profileDepth
        var result: [(frame: PhysicalFrame, lines: [LogicalFrame])] = []
        var recorded = 0
        var callee: UInt8 = 0
        frames: for frame in stack.frames {
            var lines: [LogicalFrame] = []
            for logical in logicalFrames(at: frame) {
                defer { callee = logical.funcID }
                if elidesWrapper(funcID: logical.funcID, calleeFuncID: callee) { continue }
                guard recorded < depth else { break }
                recorded += 1
                if logical.rawName == "runtime.goexit" { continue }
                lines.append(logical)
            }
            if !lines.isEmpty { result.append((frame, lines)) }
            if recorded >= depth { break frames }
        }
        return result
    }

    /// What the grouped text profile (`debug=1`) prints for a stack, as runtime/pprof's
    /// printCountProfile and printStackRecord do: the PCs of the "@" line (one per recorded
    /// logical frame, runtime.goexit's included: an inlined call's is its inline mark + 1, as
    /// the runtime's tracebackPCs records it) and the frames it lists (the recorded ones, the
    /// runtime frames at the top skipped, runtime.goexit never; every one but goexit when that
    /// would leave none).
    public func groupedProfile(_ stack: UnwoundStack) -> (pcs: [UInt64], frames: [LogicalFrame]) {
        let depth = profileDepth
        var pcs: [UInt64] = []
        var recordedFrames: [LogicalFrame] = []
        var callee: UInt8 = 0
        frames: for frame in stack.frames {
            for logical in logicalFrames(at: frame) {
                defer { callee = logical.funcID }
                if elidesWrapper(funcID: logical.funcID, calleeFuncID: callee) { continue }
                guard pcs.count < depth else { break frames }
                pcs.append(logical.lookupPC &+ 1)
                recordedFrames.append(logical)
            }
        }
        let listed = recordedFrames.filter { $0.rawName != "runtime.goexit" }
        // 1.24 also hides internal/runtime/ packages at the top.
        let hidesInternal = version.atLeast(1, 24)
        let firstShown = listed.firstIndex {
            !($0.rawName.hasPrefix("runtime.") || (hidesInternal && $0.rawName.hasPrefix("internal/runtime/")))
        }
        return (pcs, firstShown.map { Array(listed[$0...]) } ?? listed)
    }

    /// The function name runtime.Frames gives a frame (what profiles print): Go 1.19 the
    /// pclntab name itself, later releases with generic type arguments as "[...]".
    public func profileName(_ frame: LogicalFrame) -> String {
        version.atLeast(1, 21) ? RuntimeImage.printName(frame.rawName) : frame.rawName
    }
}
