/// The Go runtime's function table (pclntab) for the 1.18–1.19 (magic 0xfffffff0) and 1.20+
/// (0xfffffff1) formats: functions by PC, names, files, lines, pc-value tables and inline trees.
///
/// It holds a copy of the table's bytes and parses on demand with bounds checks; anything
/// damaged throws `BinaryError.corruptPclntab` rather than trapping.
public final class Pclntab: @unchecked Sendable {
    public enum Format: Sendable, Equatable {
        /// Go 1.18–1.19: 40-byte _func, 20-byte inline tree entries.
        case go118
        /// Go 1.20+: 44-byte _func (startLine), 16-byte inline tree entries.
        case go120
    }

    public static let magic118: UInt32 = 0xffff_fff0
    public static let magic120: UInt32 = 0xffff_fff1

    /// pcdata and funcdata table indices the runtime uses (internal/abi; the argument ones are
    /// in ArgumentLayout).
    public static let pcdataStackMapIndex = 1
    public static let pcdataInlTreeIndex = 2
    public static let funcdataArgsPointerMaps = 0
    public static let funcdataLocalsPointerMaps = 1
    public static let funcdataStackObjects = 2
    public static let funcdataInlTree = 3

    public let path: String
    public let format: Format
    /// Where the table starts in the (link-time or loaded) address space.
    public let address: UInt64
    public let functionCount: Int
    public let fileCount: Int
    /// textStart as written in the header (0 from Go 1.26 on).
    public let headerTextStart: UInt64
    /// The start of Go text (moduledata.text): function entries are offsets from it.
    public let textStart: UInt64
    /// moduledata.gofunc: funcdata offsets are relative to it. Nil when unknown.
    public let gofunc: UInt64?

    let data: ByteView
    let funcnameOffset: Int
    let cuOffset: Int
    let filetabOffset: Int
    package let pctabOffset: Int
    let functabOffset: Int
    /// Where funcdata (inline trees) are read from.
    let reader: MemoryReader?

    /// A function's fixed fields, decoded from its _func record.
    public struct Function: Sendable, Equatable {
        public let index: Int
        public let entry: UInt64
        /// The next function's entry (exclusive end of this one).
        public let end: UInt64
        public let nameOffset: Int32
        public let args: Int32
        public let pcsp: UInt32
        public let pcfile: UInt32
        public let pcln: UInt32
        public let pcdataCount: Int
        public let cuOffset: UInt32
        public let startLine: Int32
        public let funcID: UInt8
        public let flag: UInt8
        public let funcdataCount: Int
        /// Offset of the _func record within the pclntab.
        package let recordOffset: Int
        let fixedSize: Int

        public var isTopFrame: Bool { flag & 1 != 0 }
        public var writesSP: Bool { flag & 2 != 0 }
    }

    /// Reads the header of the table in `data` (which starts at `address`); `path` names the
    /// binary in the error when the header is not a 64-bit x86 Go 1.18+ pclntab's.
    public static func readHeader(_ data: ByteView, path: String) throws(BinaryError)
        -> (magic: UInt32, nfunc: Int, nfiles: Int, textStart: UInt64) {
        do {
            let magic = try data.u32(at: 0)
            guard magic == magic118 || magic == magic120 else {
                throw BinaryError.corruptPclntab(path: path, reason: "header: magic 0x\(String(magic, radix: 16)) is neither "
                    + "Go 1.18's 0x\(String(magic118, radix: 16)) nor Go 1.20's 0x\(String(magic120, radix: 16))")
            }
            let layout = try (4..<8).map { try data.u8(at: $0) }
            guard layout == [0, 0, 1, 8] else {
                throw BinaryError.corruptPclntab(path: path, reason: "header: pad, minLC and ptrSize are "
                    + "\(layout.map(String.init).joined(separator: " ")), not 0 0 1 8 (64-bit x86)")
            }
            let nfunc = try ByteView.offset(data.u64(at: 8))
            let nfiles = try ByteView.offset(data.u64(at: 16))
            return (magic, nfunc, nfiles, try data.u64(at: 24))
        } catch let error as BinaryError {
            throw error
        } catch {
            throw BinaryError.corruptPclntab(path: path, reason: "header: \(error)")
        }
    }

    /// - Parameters:
    ///   - data: the table's bytes (at least up to the end of the last _func record).
    ///   - textStart: moduledata.text; nil to use the header's value (which must be non-zero).
    ///   - gofunc: moduledata.gofunc, needed for inline trees.
    ///   - reader: reads funcdata (inline trees) at gofunc + offset.
    public init(data: ByteView, address: UInt64, textStart: UInt64?, gofunc: UInt64?,
                reader: MemoryReader?, path: String) throws {
        self.path = path
        self.data = data
        self.address = address
        self.gofunc = gofunc
        self.reader = reader
        let header = try Self.readHeader(data, path: path)
        format = header.magic == Self.magic118 ? .go118 : .go120
        functionCount = header.nfunc
        fileCount = header.nfiles
        headerTextStart = header.textStart
        do {
            funcnameOffset = try ByteView.offset(data.u64(at: 32))
            cuOffset = try ByteView.offset(data.u64(at: 40))
            filetabOffset = try ByteView.offset(data.u64(at: 48))
            pctabOffset = try ByteView.offset(data.u64(at: 56))
            functabOffset = try ByteView.offset(data.u64(at: 64))
        } catch {
            throw BinaryError.corruptPclntab(path: path, reason: "header: \(error)")
        }
        guard let text = textStart ?? (headerTextStart != 0 ? headerTextStart : nil) else {
            throw BinaryError.corruptPclntab(path: path, reason: "text start unknown (header says 0)")
        }
        self.textStart = text
        for (name, offset) in [("funcname", funcnameOffset), ("cu", cuOffset), ("filetab", filetabOffset),
                               ("pctab", pctabOffset), ("functab", functabOffset)] where offset >= data.count {
            throw BinaryError.corruptPclntab(path: path, reason: "\(name) offset \(offset) past the table (\(data.count) bytes)")
        }
        guard functionCount > 0, functionCount < 1 << 26,
              functabOffset + (functionCount + 1) * 8 <= data.count else {
            throw BinaryError.corruptPclntab(path: path, reason: "function count \(functionCount) does not fit the table")
        }
        // Entries must be sorted; check the ends and a sample so a scrambled table is caught early.
        let first = try entryOffset(0)
        let last = try entryOffset(functionCount)
        guard first <= last else {
            throw BinaryError.corruptPclntab(path: path, reason: "function table is not sorted")
        }
    }

    // MARK: - Function table

    @inline(__always)
    func entryOffset(_ index: Int) throws -> UInt32 {
        try data.u32(at: functabOffset + index * 8)
    }

    /// The entry PC of function `index` (`functionCount` gives the end of text).
    public func entry(ofFunctionAt index: Int) throws -> UInt64 {
        textStart &+ UInt64(try entryOffset(index))
    }

    /// The end of Go text according to the table (the sentinel entry).
    public var textEnd: UInt64 {
        (try? entry(ofFunctionAt: functionCount)) ?? textStart
    }

    /// The index of the function whose range holds `pc`, or nil outside Go text.
    public func functionIndex(containing pc: UInt64) -> Int? {
        guard pc >= textStart else { return nil }
        let offset = pc - textStart
        guard offset <= UInt64(UInt32.max) else { return nil }
        let target = UInt32(offset)
        guard let end = try? entryOffset(functionCount), target < end,
              let first = try? entryOffset(0), target >= first else { return nil }
        // Largest index with entryOffset <= target.
        var low = 0
        var high = functionCount - 1
        while low < high {
            let mid = (low + high + 1) / 2
            guard let value = try? entryOffset(mid) else { return nil }
            if value <= target { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// Function `index`'s record.
    public func function(at index: Int) throws -> Function {
        guard index >= 0, index < functionCount else {
            throw BinaryError.corruptPclntab(path: path, reason: "function index \(index) out of range")
        }
        do {
            let funcOffset = try ByteView.offset(data.u32(at: functabOffset + index * 8 + 4))
            let record = functabOffset + funcOffset
            let entryOff = try data.u32(at: record)
            let expected = try entryOffset(index)
            guard entryOff == expected else {
                throw BinaryError.corruptPclntab(path: path, reason: "function \(index): entry 0x\(String(entryOff, radix: 16)) disagrees with functab")
            }
            let end = try entry(ofFunctionAt: index + 1)
            // Go 1.20 inserted startLine (int32) after cuOffset; everything after it moved by 4.
            let hasStartLine = format == .go120
            let afterCU = record + (hasStartLine ? 40 : 36)
            return Function(
                index: index, entry: textStart &+ UInt64(entryOff), end: end,
                nameOffset: try data.i32(at: record + 4), args: try data.i32(at: record + 8),
                pcsp: try data.u32(at: record + 16), pcfile: try data.u32(at: record + 20),
                pcln: try data.u32(at: record + 24), pcdataCount: Int(try data.u32(at: record + 28)),
                cuOffset: try data.u32(at: record + 32), startLine: hasStartLine ? try data.i32(at: record + 36) : 0,
                funcID: try data.u8(at: afterCU), flag: try data.u8(at: afterCU + 1),
                funcdataCount: Int(try data.u8(at: afterCU + 3)), recordOffset: record, fixedSize: afterCU + 4 - record)
        } catch let error as BinaryError {
            throw error
        } catch {
            throw BinaryError.corruptPclntab(path: path, reason: "function \(index): \(error)")
        }
    }

    /// The function whose range holds `pc`.
    public func function(containing pc: UInt64) -> Function? {
        guard let index = functionIndex(containing: pc) else { return nil }
        return try? function(at: index)
    }

    // MARK: - Names and files

    /// A name from the function name table (raw: generic shapes included).
    public func name(atOffset offset: Int32) throws -> String {
        guard offset >= 0 else { throw BinaryError.corruptPclntab(path: path, reason: "negative name offset") }
        do {
            return try data.cString(at: funcnameOffset + Int(offset))
        } catch {
            throw BinaryError.corruptPclntab(path: path, reason: "name offset \(offset): \(error)")
        }
    }

    public func name(of function: Function) throws -> String {
        try name(atOffset: function.nameOffset)
    }

    /// The file for a CU-local file index.
    public func fileName(cuOffset: UInt32, index: Int32) throws -> String {
        guard index >= 0 else { return "?" }
        do {
            let slot = cuOffset &+ UInt32(index)
            let fileOffset = try data.u32(at: self.cuOffset + Int(slot) * 4)
            guard fileOffset != UInt32.max else { return "?" }
            return try data.cString(at: filetabOffset + Int(fileOffset))
        } catch {
            throw BinaryError.corruptPclntab(path: path, reason: "file index \(index): \(error)")
        }
    }

    // MARK: - PC-value tables

    /// The value of the pc-value table at `tableOffset` for `pc` in `function`, or nil when
    /// the table is absent or does not cover `pc`.
    public func pcvalue(tableOffset: UInt32, function: Function, pc: UInt64) -> Int32? {
        guard tableOffset != 0 else { return nil }
        var position = pctabOffset + Int(tableOffset)
        var currentPC = function.entry
        var value: Int32 = -1
        var first = true
        // A function's table cannot have more steps than bytes; bound the loop anyway.
        var steps = 0
        while steps < 1 << 22 {
            steps += 1
            guard let (uvdelta, afterValue) = try? data.uvarint(at: position) else { return nil }
            if uvdelta == 0 && !first { return nil }
            first = false
            let delta32 = UInt32(truncatingIfNeeded: uvdelta)
            let vdelta: Int32 = delta32 & 1 != 0 ? Int32(bitPattern: ~(delta32 >> 1)) : Int32(bitPattern: delta32 >> 1)
            guard let (pcdelta, next) = try? data.uvarint(at: afterValue) else { return nil }
            position = next
            currentPC = currentPC &+ pcdelta
            value = value &+ vdelta
            if pc < currentPC { return value }
        }
        return nil
    }

    /// The offset of pcdata table `table` of `function`, or nil when it has none.
    public func pcdataTable(_ table: Int, of function: Function) -> UInt32? {
        guard table >= 0, table < function.pcdataCount,
              let offset = try? data.u32(at: function.recordOffset + function.fixedSize + table * 4),
              offset != 0 else { return nil }
        return offset
    }

    /// The address of funcdata `index` of `function`, or nil when absent or gofunc is unknown.
    public func funcdataAddress(_ index: Int, of function: Function) -> UInt64? {
        guard let gofunc, index >= 0, index < function.funcdataCount else { return nil }
        let slot = function.recordOffset + function.fixedSize + function.pcdataCount * 4 + index * 4
        guard let offset = try? data.u32(at: slot), offset != UInt32.max else { return nil }
        return gofunc &+ UInt64(offset)
    }

    /// SP delta at `pc` (bytes below the entry SP, return address excluded).
    public func spDelta(function: Function, pc: UInt64) -> Int32? {
        pcvalue(tableOffset: function.pcsp, function: function, pc: pc)
    }

    /// The innermost source position at `pc` (inlined code reports the inlined body's position);
    /// nil parts where the tables do not cover `pc` (padding after a function's code).
    public func position(function: Function, pc: UInt64) -> (file: String?, line: Int?) {
        let fileIndex = pcvalue(tableOffset: function.pcfile, function: function, pc: pc)
        let line = pcvalue(tableOffset: function.pcln, function: function, pc: pc)
        let file = fileIndex.flatMap { try? fileName(cuOffset: function.cuOffset, index: $0) }
        return (file, line.map(Int.init))
    }

    /// The position as the runtime prints it: "?" and 0 where unknown.
    public func fileLine(function: Function, pc: UInt64) -> (file: String, line: Int) {
        let position = position(function: function, pc: pc)
        return (position.file ?? "?", position.line ?? 0)
    }

    // MARK: - Inlining

    /// One entry of a function's inline tree.
    public struct InlinedCall: Sendable, Equatable {
        public let funcID: UInt8
        public let nameOffset: Int32
        /// PC (offset from the outer function's entry) of the call instruction in the parent.
        public let parentPC: Int32
    }

    var inlineEntrySize: Int { format == .go120 ? 16 : 20 }

    /// Entry `index` of `function`'s inline tree.
    public func inlinedCall(_ index: Int32, of function: Function) throws -> InlinedCall {
        guard let base = funcdataAddress(Self.funcdataInlTree, of: function), let reader, index >= 0 else {
            throw BinaryError.corruptPclntab(path: path, reason: "no inline tree")
        }
        let entry = try reader.fetchView(from: base &+ UInt64(index) &* UInt64(inlineEntrySize), count: inlineEntrySize)
        switch format {
        case .go120:
            return InlinedCall(funcID: try entry.u8(at: 0), nameOffset: try entry.i32(at: 4), parentPC: try entry.i32(at: 8))
        case .go118:
            return InlinedCall(funcID: try entry.u8(at: 2), nameOffset: try entry.i32(at: 12), parentPC: try entry.i32(at: 16))
        }
    }

    /// A source frame: a physical function or a call inlined into it.
    public struct SourceFrame: Sendable, Equatable {
        public let function: String
        public let file: String
        public let line: Int
        public let inlined: Bool
        /// funcID of the function (runtime-internal IDs such as wrapper; 0 for normal).
        public let funcID: UInt8
        /// The (link-time) PC this frame is looked up at: the given PC for the innermost, the
        /// inline mark in its caller (entry + parentPC) for each outer level. The runtime's
        /// profiles record it (+1) for every logical frame.
        public let lookupPC: UInt64
    }

    /// The frames at `pc` innermost first: every inlined call, then the physical function.
    /// `pc` is used as given (callers pass pc-1 for return addresses, as the runtime does).
    public func frames(at pc: UInt64) -> [SourceFrame] {
        guard let function = function(containing: pc) else { return [] }
        return frames(at: pc, in: function)
    }

    public func frames(at pc: UInt64, in function: Function) -> [SourceFrame] {
        var result: [SourceFrame] = []
        var depth = 0
        let tracePC = walkInlineTree(from: pc, in: function) { call, callPC in
            depth += 1
            let position = fileLine(function: function, pc: callPC)
            let name = (try? self.name(atOffset: call.nameOffset)) ?? "?"
            result.append(SourceFrame(function: name, file: position.file, line: position.line, inlined: true, funcID: call.funcID,
                                      lookupPC: callPC))
        }
        // A tree deeper than the walk's cap (damage: no compiler inlines that deep) says so.
        if depth >= Self.maxInlineDepth {
            result.append(SourceFrame(function: Self.inlineTreeCut, file: "?", line: 0, inlined: true, funcID: 0, lookupPC: pc))
        }
        let position = fileLine(function: function, pc: tracePC)
        let name = (try? self.name(of: function)) ?? "?"
        result.append(SourceFrame(function: name, file: position.file, line: position.line, inlined: false, funcID: function.funcID,
                                  lookupPC: tracePC))
        return result
    }

    /// The PC in `function` itself that `pc` belongs to: the call site of the outermost call
    /// inlined at `pc`, or `pc` when nothing is inlined there. Go 1.19's traceback reads the
    /// physical frame's line and its arguments' liveness there (later releases read the
    /// liveness at `pc`).
    public func outermostCallPC(at pc: UInt64, in function: Function) -> UInt64 {
        walkInlineTree(from: pc, in: function) { _, _ in }
    }

    /// Inlined calls followed at one PC at most.
    public static let maxInlineDepth = 1024
    /// The frame name that marks an inline tree cut at `maxInlineDepth`.
    public static let inlineTreeCut = "(inline tree cut: deeper than 1024 calls)"

    /// Visits the calls inlined at `pc`, innermost first, each with the PC it is looked up at;
    /// returns the PC in the physical function (the runtime's tracepc after its inline loop).
    private func walkInlineTree(from pc: UInt64, in function: Function, _ visit: (InlinedCall, UInt64) -> Void) -> UInt64 {
        var tracePC = pc
        guard let inlineTable = pcdataTable(Self.pcdataInlTreeIndex, of: function) else { return tracePC }
        var depth = 0
        while depth < Self.maxInlineDepth, let index = pcvalue(tableOffset: inlineTable, function: function, pc: tracePC), index >= 0 {
            depth += 1
            guard let call = try? inlinedCall(index, of: function) else { break }
            visit(call, tracePC)
            tracePC = function.entry &+ UInt64(UInt32(bitPattern: call.parentPC))
        }
        return tracePC
    }

    /// All function names with their index, for lookups by name.
    func functionNames() -> [(index: Int, name: String)] {
        (0..<functionCount).compactMap { index in
            guard let function = try? function(at: index), let name = try? name(of: function) else { return nil }
            return (index, name)
        }
    }

    /// The first function with exactly this name.
    public func function(named wanted: String) -> Function? {
        let target = Array(wanted.utf8)
        for index in 0..<functionCount {
            guard let function = try? function(at: index) else { continue }
            let start = funcnameOffset + Int(function.nameOffset)
            guard let slice = try? data.slice(at: start, count: target.count + 1) else { continue }
            if slice.last == 0 && slice.dropLast().elementsEqual(target) { return function }
        }
        return nil
    }
}
