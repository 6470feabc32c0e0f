/// The parts of `runtime.moduledata` gospy needs: where the pclntab, text and data of the
/// module are.
public struct ModuleData: Sendable, Equatable {
    /// Field offsets within runtime.moduledata, from the runtime layout of the module's release
    /// (`RuntimeLayout.moduledata`): the first fields (pcHeader … enoptrbss) have kept their
    /// offsets since Go 1.18, gofunc moves (0x130 in 1.19, 0x140 in 1.20–1.26, 0x158 in 1.27).
    public struct Layout: Sendable, Equatable {
        public let pcHeader: Int, funcnametab: Int, pclntable: Int, minpc: Int, maxpc: Int
        public let text: Int, etext: Int, noptrdata: Int, enoptrdata: Int, data: Int, edata: Int
        public let bss: Int, ebss: Int, noptrbss: Int, enoptrbss: Int, gofunc: Int

        public init(
            pcHeader: Int, funcnametab: Int, pclntable: Int, minpc: Int, maxpc: Int, text: Int, etext: Int,
            noptrdata: Int, enoptrdata: Int, data: Int, edata: Int, bss: Int, ebss: Int,
            noptrbss: Int, enoptrbss: Int, gofunc: Int
        ) {
            self.pcHeader = pcHeader
            self.funcnametab = funcnametab
            self.pclntable = pclntable
            self.minpc = minpc
            self.maxpc = maxpc
            self.text = text
            self.etext = etext
            self.noptrdata = noptrdata
            self.enoptrdata = enoptrdata
            self.data = data
            self.edata = edata
            self.bss = bss
            self.ebss = ebss
            self.noptrbss = noptrbss
            self.enoptrbss = enoptrbss
            self.gofunc = gofunc
        }

        /// How many bytes `read` fetches: up to the last field it reads.
        var readSize: Int { max(enoptrbss, gofunc) + 8 }
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
    public let gofunc: UInt64

    /// Reads a moduledata at `address`, checking that it is self-consistent.
    public static func read(at address: UInt64, layout: Layout, reader: MemoryReader) throws -> ModuleData {
        let view = try reader.fetchView(from: address, count: layout.readSize)
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
            gofunc: try word(layout.gofunc))
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
