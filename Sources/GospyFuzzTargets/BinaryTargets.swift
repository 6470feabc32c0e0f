import Foundation
import GospyBinary
import GospyMemory
import GospyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// The file and code parsers' fuzz targets. Each bounds its own work per input (a few dozen
/// lookups), so that a slow input is the parser's fault, not the target's.
enum BinaryTargets {
    /// Where the byte-buffer targets place their input: an ordinary-looking text address.
    static let base: UInt64 = 0x40_0000

    /// The input as a file (a memfd, nothing on disk), analysed as an executable would be.
    static func executable(_ data: [UInt8]) {
        let fd = memfdCreate("gospy-fuzz", 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { return }
        let path = "/proc/self/fd/\(fd)"
        guard let executable = try? GoExecutable(path: path) else {
            // Not a Go executable: the ELF layer alone still parses what it can.
            if let elf = try? ElfFile(path: path) {
                _ = elf.symbols.count
                _ = elf.interpreter
                _ = elf.gnuBuildID
                for section in elf.sections.prefix(64) { _ = try? elf.contents(of: section) }
            }
            return
        }
        let table = executable.pclntab
        for index in stride(from: 0, to: table.functionCount, by: max(1, table.functionCount / 32)) {
            guard let function = try? table.function(at: index) else { continue }
            exercise(table, function)
        }
        // Layouts and the globals derivation, symbols ignored as for a stripped binary.
        if let layout = try? RuntimeLayout.forExecutable(executable) {
            _ = RuntimeGlobals.locate(in: executable, layout: layout, useSymbols: false)
        }
    }

    static func buildinfo(_ data: [UInt8]) {
        let reader = BufferMemoryReader(address: base, bytes: data)
        _ = try? BuildInfo.parse(at: base, reader: reader, path: "fuzz")
    }

    /// Input: text start (u64), gofunc length (u32), the gofunc bytes, then the table.
    static func pclntab(_ data: [UInt8]) {
        var input = InputCursor(data)
        let textStart = input.u64()
        let gofunc = input.take(Int(input.u32() % (1 << 22)))
        let table = input.remaining
        let gofuncAddress: UInt64 = 0x10_0000_0000
        let reader = BufferMemoryReader(address: gofuncAddress, bytes: gofunc)
        guard let pclntab = try? Pclntab(data: ByteView(bytes: table, baseAddress: base), address: base,
                                         textStart: textStart, gofunc: gofuncAddress, reader: reader, path: "fuzz")
        else { return }
        for index in stride(from: 0, to: min(pclntab.functionCount, 1 << 16), by: max(1, pclntab.functionCount / 16)) {
            guard let function = try? pclntab.function(at: index) else { continue }
            exercise(pclntab, function)
        }
        _ = pclntab.function(named: "runtime.main")
    }

    /// Every per-function lookup a stack walk and a traceback make, at a few PCs.
    static func exercise(_ table: Pclntab, _ function: Pclntab.Function) {
        _ = try? table.name(of: function)
        let span = function.end > function.entry ? function.end - function.entry : 1
        for step in 0..<4 {
            let pc = function.entry &+ span * UInt64(step) / 4
            _ = table.function(containing: pc)
            _ = table.frames(at: pc, in: function)
            _ = table.spDelta(function: function, pc: pc)
            _ = table.position(function: function, pc: pc)
            _ = table.argumentLayout(of: function, at: pc)
            for index in 0..<4 {
                if let offset = table.pcdataTable(index, of: function) { _ = table.pcvalue(tableOffset: offset, function: function, pc: pc) }
                _ = table.funcdataAddress(index, of: function)
            }
        }
        _ = try? table.inlinedCall(0, of: function)
    }

    /// Input: the pclntab address (u64), funcnametab offset (u32), release selector (u8), then
    /// a data region to search for moduledata.
    static func moduledata(_ data: [UInt8]) {
        var input = InputCursor(data)
        let pclntab = input.u64()
        let funcnametab = pclntab &+ UInt64(input.u32())
        let releases = RuntimeLayout.builtinReleases
        guard !releases.isEmpty else { return }
        let release = releases[Int(input.u8()) % releases.count]
        let region = input.remaining
        guard let layout = try? RuntimeLayout.builtin(release: release)?.moduledata else { return }
        let view = ByteView(bytes: region, baseAddress: base)
        let reader = BufferMemoryReader(address: base, bytes: region)
        for candidate in ModuleData.candidates(in: view, pclntab: pclntab, funcnametab: funcnametab).prefix(64) {
            if let md = try? ModuleData.read(at: candidate, layout: layout, reader: reader) { _ = md.isPlausible }
        }
    }

    static func x86(_ data: [UInt8]) {
        let decoded = X86Decoder.decode(data, at: base)
        for instruction in decoded.instructions {
            _ = instruction.ripTarget
            _ = instruction.branchTarget
            _ = instruction.memoryAccess
            _ = instruction.memoryOperandSize
            _ = instruction.isCall
            _ = instruction.isExchange
        }
        _ = X86Decoder.decodeInstruction(data, at: base)
    }

    /// Input: a selector byte (which runtime function) then that function's new code. The
    /// derivation reads the real executable's code everywhere else.
    static func globals(_ data: [UInt8], environment: Environment) {
        guard let layout = try? environment.image.layout else { return }
        var input = InputCursor(data)
        let functions = environment.derivationFunctions
        guard !functions.isEmpty else { return }
        let function = functions[Int(input.u8()) % functions.count]
        let size = Int(function.end - function.entry)
        var code = input.take(size)
        code.append(contentsOf: repeatElement(0xcc, count: size - code.count))
        let overlay = OverlayMemoryReader(base: environment.image.executable.image,
                                          overlay: BufferMemoryReader(address: function.entry, bytes: code))
        // Only the globals derived from code: the data scans do not read the code.
        _ = RuntimeGlobals.locate(in: environment.image.executable, layout: layout, useSymbols: false, code: overlay,
                                  names: [.allgs, .allglen, .allgptr, .allm, .allp, .gomaxprocs, .sched])
    }

    /// Input: a liveness bitmap byte, a live start offset, then the ArgInfo program; the
    /// words rendered are the input's bytes again.
    static func arginfo(_ data: [UInt8]) {
        var input = InputCursor(data)
        let bitmap = input.u8()
        let liveStart = input.u8()
        let program = input.remaining
        guard let layout = try? ArgumentLayout(parsing: program, isLive: { _, slot in bitmap & (1 << (slot % 8)) != 0 },
                                               liveStartOffset: liveStart) else { return }
        let words = (0..<layout.wordCount).map { index in
            UInt64(index < program.count ? program[index] : 0) &* 0x0101_0101_0101_0101
        }
        _ = layout.render(words[...])
        _ = layout.render(ArraySlice(repeatElement(UInt64(0), count: layout.wordCount)))
    }
}

/// glibc's memfd_create (2.27+), which the Glibc module does not import.
@_silgen_name("memfd_create")
private func memfdCreate(_ name: UnsafePointer<CChar>, _ flags: UInt32) -> Int32

/// Reads `overlay` where it has the bytes, `base` elsewhere.
struct OverlayMemoryReader: MemoryReader {
    let base: MemoryReader
    let overlay: BufferMemoryReader

    func read(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        if (try? overlay.read(from: address, into: buffer)) != nil { return }
        try base.read(from: address, into: buffer)
    }
}
