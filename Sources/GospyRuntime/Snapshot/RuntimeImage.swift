import GospyBinary

/// A Go executable as loaded in one process: the analysis of its file, the struct layouts,
/// where its runtime globals are, and the load bias that turns link-time addresses into the
/// process's addresses (non-zero for a PIE).
public struct RuntimeImage: Sendable {
    public let executable: GoExecutable
    public let layout: RuntimeLayout
    public let globals: RuntimeGlobals
    public let loadBias: UInt64
    /// The target's own wait reason names (runtime.waitReasonStrings), by number.
    public let waitReasons: [String]
    /// This release's funcID numbering.
    public let funcIDs: FuncIDTable?
    /// Where the GODEBUG tracebacklabels setting lives (Go 1.26+).
    public let tracebackLabels: TracebackLabelsVariable
    /// Symbolisation results by PC: a million goroutines share a few hundred PCs.
    let cache = SymbolCache()
    /// Which functions are the program's own (its modules, from the build info).
    public let programCode: ProgramCode

    public init(executable: GoExecutable, loadBias: UInt64 = 0) throws {
        self.executable = executable
        self.loadBias = loadBias
        programCode = ProgramCode(buildInfo: executable.buildInfo)
        funcIDs = FuncIDTable.forRelease(executable.version.release)
        layout = try RuntimeLayout.forExecutable(executable)
        globals = RuntimeGlobals.locate(in: executable, layout: layout)
        tracebackLabels = TracebackLabelsVariable.locate(in: executable)
        if let table = globals[.waitReasonStrings], let count = globals.waitReasonCount {
            // Static data: the file holds the same strings the process does.
            waitReasons = DataScan.readStrings(at: table, count: count, reader: executable.image)
        } else {
            waitReasons = []
        }
    }

    /// A global's address in the process.
    public func address(of name: RuntimeGlobals.Name) throws -> UInt64 {
        try globals.address(of: name) &+ loadBias
    }

    public func waitReasonText(_ reason: UInt8) -> String {
        Int(reason) < waitReasons.count ? waitReasons[Int(reason)] : "unknown wait reason"
    }

    // MARK: - Symbolising process addresses

    /// A source location for a process address, as gospy prints it.
    public struct Location: Sendable, Hashable, Codable {
        /// The name as the runtime prints it (generic type arguments shown as "[...]").
        public let function: String
        public let file: String
        public let line: Int
        /// pc - function entry.
        public let offset: UInt64
    }

    /// The function and position at `pc` (a process address). `returnAddress` symbolises
    /// pc-1, as tracebacks do for return addresses.
    public func location(at pc: UInt64, returnAddress: Bool = false) -> Location? {
        cache.locations.value(.location(pc, returnAddress)) { uncachedLocation(at: pc, returnAddress: returnAddress) }
    }

    private func uncachedLocation(at pc: UInt64, returnAddress: Bool) -> Location? {
        guard pc >= loadBias else { return nil }
        let linkPC = pc - loadBias
        let table = executable.pclntab
        guard let function = table.function(containing: returnAddress && linkPC > 0 ? linkPC - 1 : linkPC) else { return nil }
        let lookup = PhysicalFrame.symbolizationPC(pc: linkPC, entry: function.entry, trapped: !returnAddress)
        let frames = table.frames(at: lookup, in: function)
        // The innermost frame names the location; for a go statement or a start PC that is the
        // function the user wrote.
        guard let innermost = frames.first else { return nil }
        return Location(function: Self.printName(innermost.function), file: innermost.file,
                        line: innermost.line, offset: linkPC - function.entry)
    }

    /// The physical function containing `pc` (no inline expansion): start functions.
    public func function(at pc: UInt64) -> Location? {
        cache.locations.value(.function(pc)) { uncachedFunction(at: pc) }
    }

    private func uncachedFunction(at pc: UInt64) -> Location? {
        guard pc >= loadBias, let function = executable.pclntab.function(containing: pc - loadBias) else { return nil }
        let name = (try? executable.pclntab.name(of: function)) ?? "?"
        let position = executable.pclntab.fileLine(function: function, pc: function.entry)
        return Location(function: Self.printName(name), file: position.file, line: position.line,
                        offset: pc - loadBias - function.entry)
    }

    /// The function a goroutine was started with, as the user wrote it: a `go f(x)` statement
    /// (or a method value) starts a compiler-generated wrapper that the runtime hides from
    /// tracebacks; the function it calls is the one named.
    public func startFunction(at startPC: UInt64) -> Location? {
        cache.locations.value(.start(startPC)) { uncachedStartFunction(at: startPC) }
    }

    private func uncachedStartFunction(at startPC: UInt64) -> Location? {
        guard let location = function(at: startPC) else { return nil }
        let table = executable.pclntab
        guard let funcIDs, startPC >= loadBias,
              let wrapper = table.function(containing: startPC - loadBias), funcIDs.isWrapper(wrapper.funcID),
              wrapper.end > wrapper.entry, wrapper.end - wrapper.entry < 1 << 16,
              let code = try? executable.image.fetchBytes(from: wrapper.entry, count: Int(wrapper.end - wrapper.entry))
        else { return location }
        for instruction in X86Decoder.decode(code, at: wrapper.entry).instructions where instruction.isCall {
            guard let target = instruction.branchTarget, let callee = table.function(containing: target),
                  callee.entry == target, let name = try? table.name(of: callee), !name.hasPrefix("runtime.") else { continue }
            return function(at: target &+ loadBias) ?? location
        }
        return location
    }

    /// Raw pclntab name of the function containing `pc`.
    public func rawFunctionName(at pc: UInt64) -> String? {
        guard pc >= loadBias, let function = executable.pclntab.function(containing: pc - loadBias) else { return nil }
        return try? executable.pclntab.name(of: function)
    }

    /// runtime.funcNameForPrint: type arguments of generic instantiations print as "[...]".
    public static func printName(_ raw: String) -> String {
        guard let open = raw.firstIndex(of: "[") else { return raw }
        var depth = 0
        var index = open
        while index < raw.endIndex {
            if raw[index] == "[" { depth += 1 }
            if raw[index] == "]" {
                depth -= 1
                if depth == 0 {
                    return String(raw[..<open]) + "[...]" + String(raw[raw.index(after: index)...])
                }
            }
            index = raw.index(after: index)
        }
        return raw
    }

    /// Whether the runtime counts a goroutine started at `startPC` as a system goroutine and
    /// hides it from dumps (runtime.isSystemGoroutine): runtime.* start functions other than
    /// runtime.main; the finalizer and cleanup goroutines only while idle.
    public func isSystemGoroutine(_ goroutine: Goroutine) -> Bool {
        let kind = cache.startKinds.value(goroutine.startPC) {
            guard let name = rawFunctionName(at: goroutine.startPC) else { return .user }
            switch name {
            case "runtime.main", "runtime.handleAsyncEvent", "runtime.corostart":
                return .user
            case "runtime.runfinq", "runtime.runCleanups", "runtime.(*cleanupQueue).run":
                return .systemUnlessRunning
            default:
                return name.hasPrefix("runtime.") ? .system : .user
            }
        }
        switch kind {
        case .user: return false
        case .system: return true
        case .systemUnlessRunning: return goroutine.status != .running && goroutine.status != .runnable
        }
    }
}

/// Memoised plain symbolisation, shared by copies of a `RuntimeImage`.
final class SymbolCache: Sendable {
    enum Key: Hashable {
        case location(UInt64, Bool)
        case function(UInt64)
        case start(UInt64)
    }

    /// How a start function classifies its goroutines (runtime.isSystemGoroutine).
    enum StartKind {
        case user, system
        /// Finalizer and cleanup goroutines: system while idle, user while running user code.
        case systemUnlessRunning
    }

    let locations = Memo<Key, RuntimeImage.Location?>()
    let startKinds = Memo<UInt64, StartKind>()
}
