import CElfutils
#if canImport(Glibc)
import Glibc
#endif

/// An ELF executable opened through libelf. Holds the file mapped for its lifetime; section and
/// segment contents are copied out with bounds checks, never sliced blindly.
public final class ElfFile: @unchecked Sendable {
    public struct Section: Sendable, Equatable {
        public let name: String
        public let type: UInt32
        public let flags: UInt64
        public let address: UInt64
        public let offset: UInt64
        public let size: UInt64
        public let link: UInt32

        public var occupiesFile: Bool { type != UInt32(SHT_NOBITS) }
        public func contains(address probe: UInt64) -> Bool {
            probe >= address && probe - address < size
        }
    }

    public struct Segment: Sendable, Equatable {
        public let type: UInt32
        public let flags: UInt32
        public let offset: UInt64
        public let virtualAddress: UInt64
        public let fileSize: UInt64
        public let memorySize: UInt64

        public var isLoad: Bool { type == UInt32(PT_LOAD) }
        public var isExecutable: Bool { flags & UInt32(PF_X) != 0 }
        public var isWritable: Bool { flags & UInt32(PF_W) != 0 }
        public func contains(address probe: UInt64) -> Bool {
            probe >= virtualAddress && probe - virtualAddress < memorySize
        }
    }

    public struct Symbol: Sendable, Equatable {
        public let name: String
        public let value: UInt64
        public let size: UInt64
        public let type: UInt8
    }

    public let path: String
    /// ET_EXEC or ET_DYN.
    public let elfType: UInt16
    public let sections: [Section]
    public let segments: [Segment]
    /// `R_X86_64_RELATIVE` relocations (target address -> addend), sorted by address. They say
    /// what a PIE's pointers hold once loaded; the file itself may hold zeros there.
    public let relativeRelocations: [(address: UInt64, addend: UInt64)]

    private let fd: Int32
    private let elf: OpaquePointer
    private let raw: UnsafeRawBufferPointer

    public init(path: String) throws {
        self.path = path
        elf_version(UInt32(EV_CURRENT))
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BinaryError.cannotOpen(path: path, errno: errno) }
        guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else {
            close(fd)
            throw BinaryError.notELF(path: path)
        }
        var rawSize = 0
        guard elf_kind(elf) == ELF_K_ELF, let rawBase = elf_rawfile(elf, &rawSize) else {
            elf_end(elf)
            close(fd)
            throw BinaryError.notELF(path: path)
        }
        self.fd = fd
        self.elf = elf
        self.raw = UnsafeRawBufferPointer(start: rawBase, count: rawSize)

        do {
            guard rawSize >= 64, raw[4] == 2 /* ELFCLASS64 */, raw[5] == 1 /* little endian */ else {
                throw BinaryError.unsupportedELF(path: path, reason: "not 64-bit little-endian")
            }
            var header = GElf_Ehdr()
            guard gelf_getehdr(elf, &header) != nil else { throw BinaryError.notELF(path: path) }
            guard header.e_machine == UInt16(EM_X86_64) else {
                throw BinaryError.unsupportedELF(path: path, reason: "machine \(header.e_machine), not x86-64")
            }
            elfType = header.e_type
            // A cut-off file: the section header table (at the end) or a segment's bytes missing.
            let sectionTableEnd = header.e_shoff.addingReportingOverflow(UInt64(header.e_shnum) &* UInt64(header.e_shentsize))
            guard !sectionTableEnd.overflow, sectionTableEnd.partialValue <= UInt64(rawSize) else {
                throw BinaryError.truncated(path: path, what: "the section header table")
            }
            segments = try Self.readSegments(elf, path: path)
            for (index, segment) in segments.enumerated() where segment.isLoad {
                let end = segment.offset.addingReportingOverflow(segment.fileSize)
                guard !end.overflow, end.partialValue <= UInt64(rawSize) else {
                    throw BinaryError.truncated(path: path, what: "loadable segment \(index)")
                }
            }
            sections = try Self.readSections(elf, path: path, fileSize: UInt64(rawSize))
            for section in sections where section.occupiesFile && section.type != UInt32(SHT_NULL) {
                let end = section.offset.addingReportingOverflow(section.size)
                guard !end.overflow, end.partialValue <= UInt64(rawSize) else {
                    throw BinaryError.truncated(path: path, what: "section \(section.name)")
                }
            }
            relativeRelocations = Self.readRelativeRelocations(elf)
        } catch {
            elf_end(elf)
            close(fd)
            throw error
        }
    }

    deinit {
        elf_end(elf)
        close(fd)
    }

    public var isPositionIndependent: Bool { elfType == UInt16(ET_DYN) }
    public var fileSize: Int { raw.count }

    public func section(named name: String) -> Section? {
        sections.first { $0.name == name }
    }

    public var hasDWARF: Bool {
        sections.contains { $0.name == ".debug_info" || $0.name == ".zdebug_info" }
    }

    public var hasSymbolTable: Bool {
        sections.contains { $0.type == UInt32(SHT_SYMTAB) }
    }

    /// Whether the binary asks for a dynamic loader (cgo / external linking, or PIE).
    public var interpreter: String? {
        guard let interp = segments.first(where: { $0.type == UInt32(PT_INTERP) }),
              let bytes = try? fileBytes(offset: interp.offset, count: interp.fileSize)
        else { return nil }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// `count` bytes at file `offset`; throws `.truncated` when they are not all in the file.
    public func fileBytes(offset: UInt64, count: UInt64, what: String = "data") throws -> [UInt8] {
        guard offset <= UInt64(raw.count), count <= UInt64(raw.count) - offset else {
            throw BinaryError.truncated(path: path, what: what)
        }
        let start = Int(offset)
        return Array(raw[start..<(start + Int(count))])
    }

    /// File bytes lent to `body` without a copy (valid only during the call).
    public func withFileBytes<Result>(offset: UInt64, count: UInt64, what: String = "data",
                                      _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        guard offset <= UInt64(raw.count), count <= UInt64(raw.count) - offset else {
            throw BinaryError.truncated(path: path, what: what)
        }
        let start = Int(offset)
        return try body(UnsafeRawBufferPointer(rebasing: raw[start..<(start + Int(count))]))
    }

    /// Copies file bytes into `buffer` (used by the image reader).
    func copyFileBytes(offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard offset <= UInt64(raw.count), UInt64(buffer.count) <= UInt64(raw.count) - offset else { return false }
        let start = Int(offset)
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + buffer.count)]))
        return true
    }

    /// A section's bytes as stored in the file (without relocations applied).
    public func contents(of section: Section) throws -> ByteView {
        guard section.occupiesFile else { return ByteView(bytes: [], baseAddress: section.address) }
        return ByteView(
            bytes: try fileBytes(offset: section.offset, count: section.size, what: "section \(section.name)"),
            baseAddress: section.address)
    }

    /// Symbols from .symtab (absent in stripped binaries) and .dynsym, by name.
    public var symbols: [String: Symbol] {
        if let symbolTable { return symbolTable }
        let table = readSymbols()
        symbolTable = table
        return table
    }
    private var symbolTable: [String: Symbol]?
    private var symbolScans = 0

    /// One symbol. The first few lookups scan the tables comparing names in place (a Go
    /// binary has tens of thousands of symbols: `gospy ps` needs one or two of them, and
    /// building the table by name cost it most of its time); later ones build the table.
    public func symbol(named name: String) -> Symbol? {
        if let symbolTable { return symbolTable[name] }
        symbolScans += 1
        if symbolScans > 4 { return symbols[name] }
        return scanSymbols(for: name)
    }

    /// What `symbols[name]` would hold, without building the table: .symtab before .dynsym,
    /// the first definition (non-zero value) kept, else the last entry of that name.
    private func scanSymbols(for name: String) -> Symbol? {
        let wanted = Array(name.utf8) + [0]
        guard wanted.count > 1 else { return nil }
        var found: Symbol?
        forEachSymbol { sym, cName in
            guard wanted.withUnsafeBufferPointer({ strcmp(cName, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }) == 0,
                  found?.value ?? 0 == 0 else { return }
            found = Symbol(name: name, value: sym.st_value, size: sym.st_size, type: sym.st_info & 0xf)
        }
        return found
    }

    /// Every entry of .symtab and .dynsym, in section order (.symtab first), with its name.
    private func forEachSymbol(_ body: (GElf_Sym, UnsafePointer<CChar>) -> Void) {
        var scn = elf_nextscn(elf, nil)
        while let section = scn {
            defer { scn = elf_nextscn(elf, section) }
            var header = GElf_Shdr()
            guard gelf_getshdr(section, &header) != nil,
                  header.sh_type == UInt32(SHT_SYMTAB) || header.sh_type == UInt32(SHT_DYNSYM),
                  header.sh_entsize > 0, let data = elf_getdata(section, nil) else { continue }
            let count = Int(header.sh_size / header.sh_entsize)
            for index in 0..<count {
                var sym = GElf_Sym()
                guard gelf_getsym(data, Int32(index), &sym) != nil else { break }
                guard let cName = elf_strptr(elf, Int(header.sh_link), Int(sym.st_name)) else { continue }
                body(sym, cName)
            }
        }
    }

    /// The GNU build id (hex), present with external linking.
    public var gnuBuildID: String? {
        for note in notes() where note.name == "GNU" && note.type == 3 {
            return note.descriptor.map { String(format2: $0) }.joined()
        }
        return nil
    }

    /// The Go build id string from the .note.go.buildid note.
    public var goBuildID: String? {
        for note in notes() where note.name == "Go" && note.type == 4 {
            return String(decoding: note.descriptor, as: UTF8.self)
        }
        return nil
    }

    struct Note {
        let name: String
        let type: UInt32
        let descriptor: [UInt8]
    }

    /// Notes from every SHT_NOTE section (or PT_NOTE segment when sections are missing).
    func notes() -> [Note] {
        var ranges: [(UInt64, UInt64)] = sections.filter { $0.type == UInt32(SHT_NOTE) }.map { ($0.offset, $0.size) }
        if ranges.isEmpty {
            ranges = segments.filter { $0.type == UInt32(PT_NOTE) }.map { ($0.offset, $0.fileSize) }
        }
        var result: [Note] = []
        for (offset, size) in ranges {
            guard let bytes = try? fileBytes(offset: offset, count: size) else { continue }
            let view = ByteView(bytes: bytes)
            var position = 0
            while position + 12 <= view.count {
                guard let nameSize = try? Int(view.u32(at: position)),
                      let descSize = try? Int(view.u32(at: position + 4)),
                      let type = try? view.u32(at: position + 8) else { break }
                let nameStart = position + 12
                let descStart = nameStart + ((nameSize + 3) & ~3)
                let next = descStart + ((descSize + 3) & ~3)
                guard nameSize < 4096, descSize < 1 << 20, next <= view.count,
                      let nameBytes = try? view.slice(at: nameStart, count: nameSize),
                      let desc = try? view.slice(at: descStart, count: descSize) else { break }
                let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                result.append(Note(name: name, type: type, descriptor: Array(desc)))
                position = next
            }
        }
        return result
    }

    // MARK: - Reading tables through libelf

    private static func readSegments(_ elf: OpaquePointer, path: String) throws -> [Segment] {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else {
            throw BinaryError.truncated(path: path, what: "the program header table")
        }
        var result: [Segment] = []
        for index in 0..<count {
            var header = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(index), &header) != nil else {
                throw BinaryError.truncated(path: path, what: "program header \(index)")
            }
            result.append(Segment(
                type: header.p_type, flags: header.p_flags, offset: header.p_offset,
                virtualAddress: header.p_vaddr, fileSize: header.p_filesz, memorySize: header.p_memsz))
        }
        return result
    }

    private static func readSections(_ elf: OpaquePointer, path: String, fileSize: UInt64) throws -> [Section] {
        var stringIndex = 0
        guard elf_getshdrstrndx(elf, &stringIndex) == 0 else {
            // No section headers at all is legal for an executable; report none.
            return []
        }
        var result: [Section] = []
        var scn = elf_nextscn(elf, nil)
        while let section = scn {
            var header = GElf_Shdr()
            guard gelf_getshdr(section, &header) != nil else {
                throw BinaryError.truncated(path: path, what: "a section header")
            }
            let name = elf_strptr(elf, stringIndex, Int(header.sh_name)).map { String(cString: $0) } ?? ""
            result.append(Section(
                name: name, type: header.sh_type, flags: header.sh_flags, address: header.sh_addr,
                offset: header.sh_offset, size: header.sh_size, link: header.sh_link))
            scn = elf_nextscn(elf, section)
        }
        return result
    }

    private static func readRelativeRelocations(_ elf: OpaquePointer) -> [(address: UInt64, addend: UInt64)] {
        var result: [(address: UInt64, addend: UInt64)] = []
        var scn = elf_nextscn(elf, nil)
        while let section = scn {
            defer { scn = elf_nextscn(elf, section) }
            var header = GElf_Shdr()
            guard gelf_getshdr(section, &header) != nil, header.sh_type == UInt32(SHT_RELA),
                  header.sh_entsize > 0, let data = elf_getdata(section, nil) else { continue }
            let count = Int(header.sh_size / header.sh_entsize)
            for index in 0..<count {
                var rela = GElf_Rela()
                guard gelf_getrela(data, Int32(index), &rela) != nil else { break }
                // ELF64_R_TYPE(info) == R_X86_64_RELATIVE
                if rela.r_info & 0xffff_ffff == UInt64(R_X86_64_RELATIVE) {
                    result.append((rela.r_offset, UInt64(bitPattern: rela.r_addend)))
                }
            }
        }
        result.sort { $0.address < $1.address }
        return result
    }

    private func readSymbols() -> [String: Symbol] {
        var table: [String: Symbol] = [:]
        forEachSymbol { sym, cName in
            let name = String(cString: cName)
            // .symtab first, so its definition wins over an undefined .dynsym import.
            guard !name.isEmpty, table[name]?.value ?? 0 == 0 else { return }
            table[name] = Symbol(name: name, value: sym.st_value, size: sym.st_size, type: sym.st_info & 0xf)
        }
        return table
    }
}

extension String {
    fileprivate init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
