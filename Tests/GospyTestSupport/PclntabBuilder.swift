import GospyBinary

/// Builds small synthetic pclntabs (Go 1.18 or 1.20+ layout) for parser, unwinder and
/// traceback tests.
public struct PclntabBuilder {
    public struct Function {
        public var name: String
        public var size: UInt32
        /// (value, pc delta) steps for each table.
        public var sp: [(Int32, UInt32)]
        public var file: [(Int32, UInt32)]
        public var line: [(Int32, UInt32)]
        /// Inline-tree index steps (pcdata 2) and the entries: (name, parentPC).
        public var inline: [(Int32, UInt32)]
        public var inlineTree: [(name: String, parentPC: Int32)]
        /// _func.funcID (the release's numbering) and _func.flag (1 top frame, 2 writes SP).
        public var funcID: UInt8
        public var flag: UInt8
        /// _func.args (bytes of arguments; negative: unknown), the PCDATA_StackMapIndex steps
        /// (pcdata 1) and funcdata offsets from gofunc by funcdata index (stack maps and objects).
        public var args: Int32 = 0
        public var stackMapIndex: [(Int32, UInt32)] = []
        public var funcdata: [Int: UInt32] = [:]

        public init(name: String, size: UInt32, sp: [(Int32, UInt32)], file: [(Int32, UInt32)], line: [(Int32, UInt32)],
                    inline: [(Int32, UInt32)] = [], inlineTree: [(name: String, parentPC: Int32)] = [],
                    funcID: UInt8 = 0, flag: UInt8 = 0) {
            self.name = name
            self.size = size
            self.sp = sp
            self.file = file
            self.line = line
            self.inline = inline
            self.inlineTree = inlineTree
            self.funcID = funcID
            self.flag = flag
        }
    }

    public var format: Pclntab.Format
    public var textStart: UInt64 = 0x401000
    public var files = ["main.go", "util.go"]
    public var functions: [Function] = []

    public init(format: Pclntab.Format = .go120) {
        self.format = format
    }

    public static func uvarint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        repeat {
            var byte = UInt8(value & 0x7f)
            value >>= 7
            if value != 0 { byte |= 0x80 }
            out.append(byte)
        } while value != 0
        return out
    }

    /// A pc-value table: value deltas zig-zag encoded, as the Go linker writes them.
    public static func pcvalueTable(_ steps: [(Int32, UInt32)]) -> [UInt8] {
        var out: [UInt8] = []
        var previous: Int32 = -1
        for (value, delta) in steps {
            let d = value - previous
            let zigzag = d < 0 ? (UInt32(bitPattern: ~d) << 1) | 1 : UInt32(d) << 1
            out += uvarint(UInt64(zigzag)) + uvarint(UInt64(delta))
            previous = value
        }
        return out + [0]
    }

    /// The table bytes, and (for inline trees) the gofunc bytes to put at `gofunc`.
    public func build() -> (table: [UInt8], gofunc: [UInt8]) {
        // Name table.
        var names: [UInt8] = []
        var nameOffsets: [String: Int32] = [:]
        func nameOffset(_ name: String) -> Int32 {
            if let offset = nameOffsets[name] { return offset }
            let offset = Int32(names.count)
            names += Array(name.utf8) + [0]
            nameOffsets[name] = offset
            return offset
        }
        for function in functions {
            _ = nameOffset(function.name)
            for call in function.inlineTree { _ = nameOffset(call.name) }
        }
        // Files: one CU holding every file.
        var filetab: [UInt8] = []
        var cutab: [UInt8] = []
        for file in files {
            cutab += le32(UInt32(filetab.count))
            filetab += Array(file.utf8) + [0]
        }
        // pc tables.
        var pctab: [UInt8] = [0]
        var tableOffsets: [[UInt32]] = []
        for function in functions {
            var offsets: [UInt32] = []
            for steps in [function.sp, function.file, function.line, function.inline, function.stackMapIndex] {
                if steps.isEmpty { offsets.append(0); continue }
                offsets.append(UInt32(pctab.count))
                pctab += Self.pcvalueTable(steps)
            }
            tableOffsets.append(offsets)
        }
        // gofunc: inline trees.
        var gofunc: [UInt8] = []
        var inlineOffsets: [UInt32?] = []
        for function in functions {
            guard !function.inlineTree.isEmpty else { inlineOffsets.append(nil); continue }
            inlineOffsets.append(UInt32(gofunc.count))
            for call in function.inlineTree {
                switch format {
                case .go120:
                    gofunc += [0, 0, 0, 0] + le32(UInt32(bitPattern: nameOffset(call.name)))
                        + le32(UInt32(bitPattern: call.parentPC)) + le32(0)
                case .go118:
                    gofunc += [0xff, 0xff, 0, 0] + le32(0) + le32(0)
                        + le32(UInt32(bitPattern: nameOffset(call.name))) + le32(UInt32(bitPattern: call.parentPC))
                }
            }
        }
        // Header, then the sections in order.
        let headerSize = 72
        let funcnameOffset = headerSize
        let cuOffset = funcnameOffset + names.count
        let filetabOffset = cuOffset + cutab.count
        let pctabOffset = filetabOffset + filetab.count
        let functabOffset = pctabOffset + pctab.count
        var table: [UInt8] = le32(format == .go120 ? Pclntab.magic120 : Pclntab.magic118) + [0, 0, 1, 8]
        table += le64(UInt64(functions.count)) + le64(UInt64(files.count)) + le64(textStart)
        table += [funcnameOffset, cuOffset, filetabOffset, pctabOffset, functabOffset].flatMap { le64(UInt64($0)) }
        table += names + cutab + filetab + pctab
        // functab: entries then the _func records.
        var entry: UInt32 = 0
        var entries: [UInt32] = []
        for function in functions {
            entries.append(entry)
            entry += function.size
        }
        var records: [UInt8] = []
        var recordOffsets: [UInt32] = []
        let functabSize = (functions.count + 1) * 8
        for (index, function) in functions.enumerated() {
            recordOffsets.append(UInt32(functabSize + records.count))
            let offsets = tableOffsets[index]
            let npcdata: UInt32 = offsets[3] != 0 || offsets[4] != 0 ? 3 : 0
            let nfuncdata: UInt8 = inlineOffsets[index] != nil || !function.funcdata.isEmpty ? 4 : 0
            records += le32(entries[index]) + le32(UInt32(bitPattern: nameOffset(function.name)))
                + le32(UInt32(bitPattern: function.args)) + le32(0)
            records += le32(offsets[0]) + le32(offsets[1]) + le32(offsets[2]) + le32(npcdata) + le32(0)
            switch format {
            case .go120: records += le32(0) + [function.funcID, function.flag, 0, nfuncdata]
            case .go118: records += [function.funcID, function.flag, 0, nfuncdata]
            }
            if npcdata > 0 { records += le32(0) + le32(offsets[4]) + le32(offsets[3]) }
            if nfuncdata > 0 {
                for slot in 0..<3 { records += le32(function.funcdata[slot] ?? UInt32.max) }
                records += le32(inlineOffsets[index] ?? UInt32.max)
            }
            while records.count % 4 != 0 { records.append(0) }
        }
        for index in functions.indices {
            table += le32(entries[index]) + le32(recordOffsets[index])
        }
        table += le32(entry) + le32(0)
        table += records
        return (table, gofunc)
    }
}

public func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
public func le64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
