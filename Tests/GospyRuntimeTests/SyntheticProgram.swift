import GospyBinary
import GospyMemory
import GospyTestSupport
@testable import GospyRuntime

/// A small Go program as the runtime stage sees it: a synthetic pclntab (Go 1.22 funcIDs),
/// loaded at a bias like a PIE, and goroutine stacks laid out in a memory buffer the way the
/// compiler lays out amd64 frames (return address at sp + frame size).
enum SyntheticProgram {
    static let version = GoVersion(major: 1, minor: 22, patch: 0)
    static let loadBias: UInt64 = 0x10_0000
    /// Go 1.22's funcID numbering (GeneratedFuncIDs).
    static let goexitID: UInt8 = 8, sigpanicID: UInt8 = 19, wrapperID: UInt8 = 22

    /// Name, size, frame size after the 4-byte prologue, lines (value, pc delta), funcID, flag.
    static let layout: [(name: String, size: UInt32, frame: Int32, lines: [(Int32, UInt32)], funcID: UInt8, flag: UInt8)] = [
        ("runtime.goexit", 0x10, 0, [(100, 0x10)], goexitID, 1),
        ("main.main", 0x40, 0x18, [(10, 0x10), (11, 0x10), (12, 0x20)], 0, 0),
        ("main.(*T).Run-fm", 0x20, 0x08, [(20, 0x20)], wrapperID, 0),
        // Line 30 up to +0x20, line 31 from there: a return address at +0x20 is a call on line 30.
        ("main.worker", 0x40, 0x28, [(30, 0x20), (31, 0x20)], 0, 0),
        ("runtime.gopark", 0x20, 0x10, [(40, 0x20)], 0, 0),
        ("runtime.sigpanic", 0x20, 0x10, [(50, 0x20)], sigpanicID, 0),
        ("runtime.Gosched", 0x20, 0x10, [(60, 0x20)], 0, 0),
    ]

    static let symbolizer: Symbolizer = {
        var builder = PclntabBuilder(format: .go120)
        builder.functions = layout.map { function in
            let file: Int32 = function.name.hasPrefix("runtime.") ? 1 : 0
            var sp: [(Int32, UInt32)] = [(0, function.size)]
            if function.frame != 0 { sp = [(0, 4), (function.frame, function.size - 4)] }
            return .init(name: function.name, size: function.size, sp: sp, file: [(file, function.size)],
                         line: function.lines, funcID: function.funcID, flag: function.flag)
        }
        let table = try! Pclntab(data: ByteView(bytes: builder.build().table, baseAddress: 0x50_0000), address: 0x50_0000,
                                 textStart: nil, gofunc: nil, reader: nil, path: "synthetic")
        return Symbolizer(pclntab: table, version: version, loadBias: loadBias)
    }()

    /// The process address of `name`'s entry plus `offset`.
    static func pc(_ name: String, _ offset: UInt64 = 0) -> UInt64 {
        var entry: UInt64 = 0x401000
        for function in layout {
            if function.name == name { return entry + offset + loadBias }
            entry += UInt64(function.size)
        }
        fatalError("no function \(name)")
    }

    static func frameSize(_ name: String) -> UInt64 {
        UInt64(layout.first { $0.name == name }!.frame)
    }

    static let stackLo: UInt64 = 0xc000_0000
    static let stackHi: UInt64 = 0xc000_1000

    /// A stack whose innermost frame is at `calls[0]` with sp `sp`: each frame's return
    /// address (the next entry's PC) is stored at sp + its frame size, as a CALL leaves it;
    /// then the words in `override` are written over it.
    static func stack(_ calls: [(name: String, offset: UInt64)], sp: UInt64 = 0xc000_0e00,
                      override: [UInt64: UInt64] = [:]) -> (pc: UInt64, sp: UInt64, memory: BufferMemoryReader) {
        var bytes = [UInt8](repeating: 0, count: Int(stackHi - stackLo))
        func store(_ value: UInt64, at address: UInt64) {
            let start = Int(address - stackLo)
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(start..<start + 8, with: $0) }
        }
        var frameSP = sp
        for (index, call) in calls.enumerated() {
            let slot = frameSP + frameSize(call.name)
            store(index + 1 < calls.count ? pc(calls[index + 1].name, calls[index + 1].offset) : 0, at: slot)
            frameSP = slot + 8
        }
        for (address, value) in override { store(value, at: address) }
        return (pc(calls[0].name, calls[0].offset), sp, BufferMemoryReader(address: stackLo, bytes: bytes))
    }

    /// Unwinds a stack made by `stack(_:)`.
    static func unwind(_ calls: [(name: String, offset: UInt64)], trapped: Bool = false,
                       override: [UInt64: UInt64] = [:]) -> UnwoundStack {
        let (pc, sp, memory) = stack(calls, override: override)
        return StackUnwinder(symbolizer: symbolizer).unwind(
            pc: pc, sp: sp, stackLo: stackLo, stackHi: stackHi, trapped: trapped, fromSyscall: false,
            origin: trapped ? "registers" : "sched") { try? memory.fetch(UInt64.self, from: $0) }
    }

    /// A parked goroutine: gopark <- worker <- the method-value wrapper <- main.main <- goexit.
    static let parked: [(name: String, offset: UInt64)] = [
        ("runtime.gopark", 0x10), ("main.worker", 0x20), ("main.(*T).Run-fm", 0x10), ("main.main", 0x20), ("runtime.goexit", 1),
    ]

    static func goroutine(id: UInt64 = 7, status: GoroutineStatus = .waiting, creatorPC: UInt64 = 0, parentID: UInt64? = nil,
                          syscallSP: UInt64 = 0, labels: UInt64 = 0) -> Goroutine {
        Goroutine(address: 0xc000_2000, id: id, status: status, scanning: false, waitReason: 0, waitReasonText: nil,
                  waitSince: 0, m: 0, lockedM: 0, startPC: 0, creatorPC: creatorPC, parentID: parentID, schedPC: 0,
                  schedSP: 0, schedBP: 0, syscallPC: 0, syscallSP: syscallSP, stackLo: stackLo, stackHi: stackHi, labels: labels)
    }
}
