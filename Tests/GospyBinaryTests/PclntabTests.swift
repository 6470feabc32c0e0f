import Testing
import GospyTestSupport
@testable import GospyBinary
@testable import GospyMemory

@Suite struct PclntabTests {
    static let gofuncAddress: UInt64 = 0x60_0000

    static func sampleBuilder(_ format: Pclntab.Format) -> PclntabBuilder {
        var builder = PclntabBuilder(format: format)
        builder.functions = [
            .init(name: "main.main", size: 0x40, sp: [(0, 4), (16, 0x3c)], file: [(0, 0x40)],
                  line: [(10, 0x10), (11, 0x10), (12, 0x20)],
                  inline: [(-1, 0x20), (0, 0x8), (1, 0x8), (-1, 0x10)],
                  inlineTree: [(name: "main.middle", parentPC: 0x18), (name: "main.leaf", parentPC: 0x22)]),
            .init(name: "main.helper[go.shape.int]", size: 0x20, sp: [(0, 0x20)], file: [(1, 0x20)], line: [(40, 0x20)]),
            .init(name: "runtime.goexit", size: 0x10, sp: [(0, 0x10)], file: [(1, 0x10)], line: [(99, 0x10)]),
        ]
        return builder
    }

    static func table(_ format: Pclntab.Format) throws -> Pclntab {
        let (bytes, gofunc) = sampleBuilder(format).build()
        let reader = BufferMemoryReader(address: gofuncAddress, bytes: gofunc)
        return try Pclntab(data: ByteView(bytes: bytes, baseAddress: 0x50_0000), address: 0x50_0000,
                           textStart: nil, gofunc: gofuncAddress, reader: reader, path: "synthetic")
    }

    /// A damaged inline tree whose parent leads back to itself is followed 1,024 calls deep and
    /// then marked, the physical frame still last.
    @Test func anInlineTreeThatLoopsIsCutAndSaysSo() throws {
        var builder = PclntabBuilder(format: .go120)
        builder.functions = [
            .init(name: "main.main", size: 0x40, sp: [(0, 0x40)], file: [(0, 0x40)], line: [(10, 0x40)],
                  inline: [(0, 0x40)], inlineTree: [(name: "main.loop", parentPC: 0x10)]),
        ]
        let (bytes, gofunc) = builder.build()
        let table = try Pclntab(data: ByteView(bytes: bytes, baseAddress: 0x50_0000), address: 0x50_0000, textStart: nil,
                                gofunc: Self.gofuncAddress, reader: BufferMemoryReader(address: Self.gofuncAddress, bytes: gofunc),
                                path: "synthetic")
        let frames = table.frames(at: 0x401020)
        #expect(frames.count == Pclntab.maxInlineDepth + 2)
        #expect(frames.dropLast(2).allSatisfy { $0.function == "main.loop" && $0.inlined })
        #expect(frames[frames.count - 2].function == Pclntab.inlineTreeCut)
        #expect(frames.last?.function == "main.main" && frames.last?.inlined == false)
        // An intact tree has no mark.
        #expect(!(try Self.table(.go120)).frames(at: 0x401022).contains { $0.function == Pclntab.inlineTreeCut })
    }

    @Test(arguments: [Pclntab.Format.go120, .go118])
    func findsFunctionsByPC(format: Pclntab.Format) throws {
        let table = try Self.table(format)
        #expect(table.format == format)
        #expect(table.functionCount == 3)
        #expect(table.textStart == 0x401000)
        #expect(table.textEnd == 0x401070)
        #expect(table.functionIndex(containing: 0x400fff) == nil)
        #expect(table.functionIndex(containing: 0x401000) == 0)
        #expect(table.functionIndex(containing: 0x40103f) == 0)
        #expect(table.functionIndex(containing: 0x401040) == 1)
        #expect(table.functionIndex(containing: 0x40106f) == 2)
        #expect(table.functionIndex(containing: 0x401070) == nil)
        let helper = try #require(table.function(containing: 0x401050))
        #expect(try table.name(of: helper) == "main.helper[go.shape.int]")
        #expect(helper.entry == 0x401040 && helper.end == 0x401060)
        #expect(table.function(named: "runtime.goexit")?.index == 2)
        #expect(table.function(named: "runtime.goexi") == nil)
    }

    @Test(arguments: [Pclntab.Format.go120, .go118])
    func decodesPCValueTables(format: Pclntab.Format) throws {
        let table = try Self.table(format)
        let main = try table.function(at: 0)
        #expect(table.spDelta(function: main, pc: 0x401000) == 0)
        #expect(table.spDelta(function: main, pc: 0x401004) == 16)
        #expect(table.fileLine(function: main, pc: 0x401000) == ("main.go", 10))
        #expect(table.fileLine(function: main, pc: 0x401010) == ("main.go", 11))
        #expect(table.fileLine(function: main, pc: 0x40103f) == ("main.go", 12))
        let helper = try table.function(at: 1)
        #expect(table.fileLine(function: helper, pc: 0x401041) == ("util.go", 40))
        // Past the table's end: unknown, as the runtime says "?" and go tool addr2line ":-1".
        #expect(table.position(function: helper, pc: 0x401060).line == nil)
    }

    @Test(arguments: [Pclntab.Format.go120, .go118])
    func expandsInlineTrees(format: Pclntab.Format) throws {
        let table = try Self.table(format)
        // At 0x40102c the inline index is 1 (leaf, inlined into middle at 0x22), whose parent
        // index at 0x401022 is 0 (middle, inlined into main at 0x18).
        let frames = table.frames(at: 0x40102c)
        #expect(frames.map(\.function) == ["main.leaf", "main.middle", "main.main"])
        #expect(frames.map(\.inlined) == [true, true, false])
        #expect(frames.map(\.line) == [12, 12, 11])
        // Outside inlined code: just the function.
        #expect(table.frames(at: 0x401004).map(\.function) == ["main.main"])
    }

    @Test func rejectsDamagedHeaders() throws {
        var (bytes, _) = Self.sampleBuilder(.go120).build()
        func attempt(_ data: [UInt8]) -> Error? {
            do {
                _ = try Pclntab(data: ByteView(bytes: data), address: 0, textStart: nil, gofunc: nil, reader: nil, path: "x")
                return nil
            } catch { return error }
        }
        #expect(attempt(Array(bytes.prefix(40))) != nil)       // truncated header
        #expect(attempt(Array(bytes.prefix(200))) != nil)      // functab cut off
        var wrongMagic = bytes
        wrongMagic[0] = 0
        #expect(attempt(wrongMagic) as? BinaryError == .corruptPclntab(
            path: "x", reason: "header: magic 0xffffff00 is neither Go 1.18's 0xfffffff0 nor Go 1.20's 0xfffffff1"))
        var wrongPointerSize = bytes
        wrongPointerSize[7] = 4
        #expect(attempt(wrongPointerSize) as? BinaryError == .corruptPclntab(
            path: "x", reason: "header: pad, minLC and ptrSize are 0 0 1 4, not 0 0 1 8 (64-bit x86)"))
        var hugeCount = bytes
        hugeCount.replaceSubrange(8..<16, with: le64(1 << 40))
        #expect(attempt(hugeCount) != nil)
        var badOffset = bytes
        badOffset.replaceSubrange(64..<72, with: le64(UInt64.max))
        #expect(attempt(badOffset) != nil)
        // Textstart 0 (Go 1.26+) without moduledata's value: cannot place functions.
        bytes.replaceSubrange(24..<32, with: le64(0))
        #expect(attempt(bytes) != nil)
    }

    /// Random damage to a valid table: lookups may fail, never trap.
    @Test func randomDamageNeverTraps() throws {
        let (bytes, gofunc) = Self.sampleBuilder(.go120).build()
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<2000 {
            var damaged = bytes
            for _ in 0..<4 {
                damaged[Int(generator.next() % UInt64(damaged.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            let reader = BufferMemoryReader(address: Self.gofuncAddress, bytes: gofunc)
            guard let table = try? Pclntab(data: ByteView(bytes: damaged), address: 0, textStart: 0x401000,
                                           gofunc: Self.gofuncAddress, reader: reader, path: "x") else { continue }
            for pc in stride(from: UInt64(0x400ff0), to: 0x401080, by: 3) {
                _ = table.frames(at: pc)
                if let function = table.function(containing: pc) { _ = table.spDelta(function: function, pc: pc) }
            }
        }
    }
}

