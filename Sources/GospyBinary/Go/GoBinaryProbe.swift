import GospyMemory
#if canImport(Glibc)
import Glibc
#endif

/// The cheap test "is this file a Go program, and which version": a few `pread`s of the ELF
/// header, the section headers and `.go.buildinfo`, no mapping of the whole file. `gospy ps`
/// runs it on every process's executable, so non-Go programs must be skipped in microseconds.
public enum GoBinaryProbe {
    public enum Result: Sendable, Equatable {
        /// Not an ELF file (a script's interpreter is what /proc/PID/exe names, so rare).
        case notELF
        /// ELF with section headers and no `.go.buildinfo`: not Go.
        case notGo
        /// Go, with its build information.
        case go(BuildInfo)
        /// No section headers (sstrip'ed) or an old pointer-format blob: only the full
        /// analysis (GoExecutable) can tell.
        case undecided
    }

    /// Bounds: target files are hostile.
    static let maxSections = 1 << 16
    static let maxBuildInfoBytes = 1 << 20

    public static func probe(path: String) throws -> Result {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BinaryError.cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        guard let header = read(fd, offset: 0, count: 64), header.count == 64,
              header[0] == 0x7f, header[1] == 0x45, header[2] == 0x4c, header[3] == 0x46 else { return .notELF }
        guard header[4] == 2, header[5] == 1 else { return .notGo } // 64-bit little-endian only
        let view = ByteView(bytes: header, baseAddress: 0)
        let sectionOffset = try view.u64(at: 0x28)
        func u16(_ at: Int) -> Int { Int(header[at]) | Int(header[at + 1]) << 8 }
        let entrySize = u16(0x3a)
        let count = u16(0x3c)
        let namesIndex = u16(0x3e)
        guard count > 0, count < maxSections, entrySize >= 64, namesIndex < count else { return .undecided }
        guard let table = read(fd, offset: sectionOffset, count: count * entrySize), table.count == count * entrySize else {
            return .undecided
        }
        let sections = ByteView(bytes: table, baseAddress: 0)
        func field(_ index: Int, _ offset: Int) throws -> UInt64 { try sections.u64(at: index * entrySize + offset) }
        let namesOffset = try field(namesIndex, 0x18)
        let namesSize = try field(namesIndex, 0x20)
        guard namesSize <= 1 << 20, let names = read(fd, offset: namesOffset, count: Int(namesSize)) else { return .undecided }
        let wanted = Array(".go.buildinfo".utf8) + [0]
        for index in 0..<count {
            let nameOffset = Int(try sections.u32(at: index * entrySize))
            guard nameOffset >= 0, nameOffset + wanted.count <= names.count,
                  Array(names[nameOffset..<(nameOffset + wanted.count)]) == wanted else { continue }
            let address = try field(index, 0x10)
            let offset = try field(index, 0x18)
            let size = Int(min(try field(index, 0x20), UInt64(maxBuildInfoBytes)))
            guard size >= 32, let bytes = read(fd, offset: offset, count: size) else { return .undecided }
            // The Go 1.18+ inline format lies wholly in the section; the old pointer format
            // points elsewhere, and then the section's reader fails: undecided.
            let reader = BufferMemoryReader(address: address, bytes: bytes)
            guard let info = try? BuildInfo.parse(at: address, reader: reader, path: path) else { return .undecided }
            return .go(info)
        }
        return .notGo
    }

    private static func read(_ fd: Int32, offset: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0, count <= 1 << 24, offset < UInt64(Int64.max) else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        guard got >= 0 else { return nil }
        return Array(bytes.prefix(got))
    }
}
