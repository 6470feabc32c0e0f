/// The parts of `runtime.moduledata` gospy needs: where the pclntab pieces, text and data of the
/// module are. The first fields (pcHeader … etext) have kept their offsets since Go 1.18; later
/// ones move between releases, so their offsets are passed in from the runtime layout tables.
public struct ModuleData: Sendable, Equatable {
    /// Field offsets within runtime.moduledata.
    public struct Layout: Sendable, Equatable {
        public var pcHeader = 0x0
        public var funcnametab = 0x8
        public var cutab = 0x20
        public var filetab = 0x38
        public var pctab = 0x50
        public var pclntable = 0x68
        public var ftab = 0x80
        public var minpc = 0xa0
        public var maxpc = 0xa8
        public var text = 0xb0
        public var etext = 0xb8
        public var noptrdata = 0xc0
        public var enoptrdata = 0xc8
        public var data = 0xd0
        public var edata = 0xd8
        public var bss = 0xe0
        public var ebss = 0xe8
        public var noptrbss = 0xf0
        public var enoptrbss = 0xf8
        /// Moves between releases (0x130 in 1.19, 0x140 in 1.20–1.26, 0x158 in 1.27).
        public var gofunc: Int?

        public init() {}

        /// Builds a layout from DWARF-style field offsets ("pcHeader", "text", "gofunc", ...).
        public init(fields: [String: Int]) {
            self.init()
            func take(_ name: String, _ keyPath: WritableKeyPath<Layout, Int>) {
                if let value = fields[name] { self[keyPath: keyPath] = value }
            }
            take("pcHeader", \.pcHeader)
            take("funcnametab", \.funcnametab)
            take("cutab", \.cutab)
            take("filetab", \.filetab)
            take("pctab", \.pctab)
            take("pclntable", \.pclntable)
            take("ftab", \.ftab)
            take("minpc", \.minpc)
            take("maxpc", \.maxpc)
            take("text", \.text)
            take("etext", \.etext)
            take("noptrdata", \.noptrdata)
            take("enoptrdata", \.enoptrdata)
            take("data", \.data)
            take("edata", \.edata)
            take("bss", \.bss)
            take("ebss", \.ebss)
            take("noptrbss", \.noptrbss)
            take("enoptrbss", \.enoptrbss)
            gofunc = fields["gofunc"]
        }

        var size: Int { max(enoptrbss, gofunc ?? 0) + 8 }
    }

    public let address: UInt64
    public let pcHeader: UInt64
    public let funcnametab: UInt64
    public let pclntableLength: UInt64
    public let minpc: UInt64
    public let maxpc: UInt64
    public let text: UInt64
    public let etext: UInt64
    public let noptrdata: UInt64
    public let enoptrdata: UInt64
    public let data: UInt64
    public let edata: UInt64
    public let bss: UInt64
    public let ebss: UInt64
    public let noptrbss: UInt64
    public let enoptrbss: UInt64
    public let gofunc: UInt64?

    /// Reads a moduledata at `address`, checking that it is self-consistent.
    public static func read(at address: UInt64, layout: Layout, reader: MemoryReader) throws -> ModuleData {
        let view = try reader.fetchView(from: address, count: layout.size)
        func word(_ offset: Int) throws -> UInt64 { try view.u64(at: offset) }
        let md = ModuleData(
            address: address,
            pcHeader: try word(layout.pcHeader),
            funcnametab: try word(layout.funcnametab),
            pclntableLength: try word(layout.pclntable + 8),
            minpc: try word(layout.minpc), maxpc: try word(layout.maxpc),
            text: try word(layout.text), etext: try word(layout.etext),
            noptrdata: try word(layout.noptrdata), enoptrdata: try word(layout.enoptrdata),
            data: try word(layout.data), edata: try word(layout.edata),
            bss: try word(layout.bss), ebss: try word(layout.ebss),
            noptrbss: try word(layout.noptrbss), enoptrbss: try word(layout.enoptrbss),
            gofunc: try layout.gofunc.map { try word($0) })
        return md
    }

    /// Whether the fields look like a real moduledata for a pclntab at `pclntab`.
    public var isPlausible: Bool {
        text != 0 && text < etext && minpc >= text && maxpc <= etext && minpc <= maxpc
            && noptrdata <= enoptrdata && data <= edata && bss <= ebss && noptrbss <= enoptrbss
            && funcnametab > pcHeader
    }

    /// Addresses in `view` (8-byte aligned) where a moduledata may start: the word equals
    /// `pclntab` and the next one points at its function name table.
    public static func candidates(in view: ByteView, pclntab: UInt64, funcnametab: UInt64) -> [UInt64] {
        var result: [UInt64] = []
        var offset = 0
        let misalignment = Int(view.baseAddress % 8)
        if misalignment != 0 { offset = 8 - misalignment }
        while offset + 16 <= view.count {
            if let value = try? view.u64(at: offset), value == pclntab,
               let names = try? view.u64(at: offset + 8), names == funcnametab {
                result.append(view.baseAddress &+ UInt64(offset))
            }
            offset += 8
        }
        return result
    }
}
