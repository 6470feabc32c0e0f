import GospyBinary

/// A Go executable analysed without DWARF or symbols: its version and module, its pclntab and
/// moduledata, and where each was found. The same analysis serves a file on disk and, with a
/// load bias, a running process's image.
public final class GoExecutable: @unchecked Sendable {
    /// How a piece of the binary was located, for `gospy info` and for messages.
    public enum Provenance: Sendable, Equatable, CustomStringConvertible {
        case section(String)
        case symbol(String)
        case scan(String)
        case moduleData
        case code(String)
        case dwarf
        case builtinTable(String)

        public var description: String {
            switch self {
            case let .section(name): return "section \(name)"
            case let .symbol(name): return "symbol \(name)"
            case let .scan(what): return "scan of \(what)"
            case .moduleData: return "runtime.firstmoduledata"
            case let .code(function): return "code of \(function)"
            case .dwarf: return "DWARF"
            case let .builtinTable(release): return "built-in table for Go \(release)"
            }
        }
    }

    public let path: String
    public let elf: ElfFile
    /// The file laid out at its link-time addresses, relocations applied.
    public let image: ImageMemoryReader
    public let buildInfo: BuildInfo
    public let buildInfoSource: Provenance
    public let version: GoVersion
    public let pclntab: Pclntab
    public let pclntabSource: Provenance
    public let moduleData: ModuleData
    public let moduleDataSource: Provenance
    /// Set for a release newer than gospy knows, read through its DWARF: the one-line warning
    /// the CLI prints (results rest on the newest known release's other assumptions).
    public let newerReleaseWarning: String?

    public init(path: String) throws {
        self.path = path
        let elf = try ElfFile(path: path)
        self.elf = elf
        let image = ImageMemoryReader(elf: elf)
        self.image = image

        // 1. Version, from .go.buildinfo.
        let located = Self.locateBuildInfo(elf: elf, image: image)
        guard let (buildInfoAddress, buildInfoSource) = located else {
            throw BinaryError.notGo(path: path)
        }
        buildInfo = try BuildInfo.parse(at: buildInfoAddress, reader: image, path: path)
        self.buildInfoSource = buildInfoSource
        guard let version = GoVersion(parsing: buildInfo.goVersion) else {
            throw BinaryError.corruptBuildInfo(path: path, reason: "unrecognised version \(buildInfo.goVersion.debugDescription)")
        }
        // A release newer than gospy knows is read when its DWARF gives the struct layouts; an
        // unknown older one (1.20, before 1.19) or one without DWARF is refused.
        let readThroughDWARF = !version.isSupported && version.isNewerThanSupported && elf.hasDWARF
        guard version.isSupported || readThroughDWARF else {
            throw BinaryError.unsupportedGoVersion(
                path: path, version: buildInfo.goVersion, supported: GoVersion.supportedReleases)
        }
        self.version = version
        newerReleaseWarning = readThroughDWARF
            ? "\(path) was built with \(buildInfo.goVersion), newer than gospy knows (newest: Go \(GoVersion.newestSupportedRelease)): "
                + "reading its runtime structs from its DWARF; if the output looks wrong, upgrade gospy"
            : nil

        // 2. The pclntab header (its bytes are read once moduledata says how long it is).
        guard let (tableAddress, tableLimit, tableSource) = Self.locatePclntab(elf: elf, image: image) else {
            throw BinaryError.pclntabNotFound(path: path)
        }
        let headerView: ByteView
        do {
            headerView = try image.fetchView(from: tableAddress, count: 72)
        } catch {
            throw BinaryError.corruptPclntab(path: path, reason: "header unreadable")
        }
        let funcnameOffset = (try? headerView.u64(at: 32)) ?? 0

        // 3. moduledata: text start, gofunc, data ranges.
        // Built-in tables, not DWARF: the offsets are the same and reading DWARF is slow. A newer
        // release has no table: its DWARF, then.
        let moduleDataLayout = readThroughDWARF
            ? try? RuntimeLayout.fromDWARF(path: path, release: version.release).moduledata
            : try? RuntimeLayout.builtin(release: version.release)?.moduledata
        guard let layout = moduleDataLayout else {
            throw BinaryError.unsupportedGoVersion(
                path: path, version: buildInfo.goVersion, supported: GoVersion.supportedReleases)
        }
        guard let (moduleData, moduleDataSource) = Self.locateModuleData(
            elf: elf, image: image, layout: layout, pclntab: tableAddress,
            funcnametab: tableAddress &+ funcnameOffset)
        else {
            throw BinaryError.moduleDataNotFound(path: path)
        }
        self.moduleData = moduleData
        self.moduleDataSource = moduleDataSource

        // 4. The whole table: moduledata.pclntable says how far the _func records go.
        var length = tableLimit &- tableAddress
        if moduleData.pclntableLength > 0 {
            let pclnOffset = (try? headerView.u64(at: 64)) ?? 0
            let wanted = pclnOffset &+ moduleData.pclntableLength
            if wanted > 0, wanted <= length { length = wanted }
        }
        guard length > 72, length < 1 << 31 else {
            throw BinaryError.corruptPclntab(path: path, reason: "implausible size \(length)")
        }
        let tableView: ByteView
        do {
            tableView = try image.fetchView(from: tableAddress, count: Int(length))
        } catch {
            throw BinaryError.truncated(path: path, what: "the pclntab")
        }
        pclntab = try Pclntab(data: tableView, address: tableAddress, textStart: moduleData.text,
                              gofunc: moduleData.gofunc, reader: image, path: path)
        pclntabSource = tableSource
        if pclntab.headerTextStart != 0, pclntab.headerTextStart != moduleData.text {
            throw BinaryError.corruptPclntab(
                path: path, reason: "text start 0x\(String(pclntab.headerTextStart, radix: 16)) disagrees with moduledata")
        }
    }

    // MARK: - Locating the pieces

    private static func locateBuildInfo(elf: ElfFile, image: ImageMemoryReader) -> (UInt64, Provenance)? {
        if let section = elf.section(named: ".go.buildinfo") {
            return (section.address, .section(".go.buildinfo"))
        }
        // No section headers: the blob is 16-byte aligned at the start of a writable segment's data.
        for segment in elf.segments where segment.isLoad && segment.isWritable {
            guard let bytes = try? elf.fileBytes(offset: segment.offset, count: min(segment.fileSize, 1 << 24)) else { continue }
            let view = ByteView(bytes: bytes, baseAddress: segment.virtualAddress)
            var start = 0
            while let index = view.firstIndex(of: BuildInfo.magic, from: start) {
                if (segment.virtualAddress &+ UInt64(index)) % 16 == 0 {
                    return (segment.virtualAddress &+ UInt64(index), .scan("data segments for the buildinfo magic"))
                }
                start = index + 1
            }
        }
        return nil
    }

    /// The table's address and the end of the region it lies in.
    private static func locatePclntab(elf: ElfFile, image: ImageMemoryReader) -> (UInt64, UInt64, Provenance)? {
        for name in [".gopclntab", ".data.rel.ro.gopclntab"] {
            if let section = elf.section(named: name), section.size > 72 {
                return (section.address, section.address &+ section.size, .section(name))
            }
        }
        if let start = elf.symbol(named: "runtime.pclntab"), let end = elf.symbol(named: "runtime.epclntab"),
           end.value > start.value {
            return (start.value, end.value, .symbol("runtime.pclntab"))
        }
        // Scan non-executable segments for the magic followed by 00 00 01 08.
        for segment in elf.segments where segment.isLoad && !segment.isExecutable {
            guard let bytes = try? elf.fileBytes(offset: segment.offset, count: segment.fileSize) else { continue }
            let view = ByteView(bytes: bytes, baseAddress: segment.virtualAddress)
            for magic in [Pclntab.magic120, Pclntab.magic118] {
                let pattern = withUnsafeBytes(of: magic.littleEndian) { Array($0) } + [0, 0, 1, 8]
                var start = 0
                while let index = view.firstIndex(of: pattern, from: start) {
                    start = index + 1
                    let address = segment.virtualAddress &+ UInt64(index)
                    guard address % 8 == 0,
                          let header = try? view.subview(at: index, count: min(72, view.count - index)),
                          let parsed = try? Pclntab.readHeader(header, path: elf.path),
                          parsed.nfunc > 0, parsed.nfunc < 1 << 24 else { continue }
                    let end = segment.virtualAddress &+ segment.fileSize
                    return (address, end, .scan("data for the pclntab magic"))
                }
            }
        }
        return nil
    }

    private static func locateModuleData(elf: ElfFile, image: ImageMemoryReader, layout: ModuleData.Layout,
                                         pclntab: UInt64, funcnametab: UInt64) -> (ModuleData, Provenance)? {
        func accept(_ address: UInt64) -> ModuleData? {
            guard let md = try? ModuleData.read(at: address, layout: layout, reader: image),
                  md.pcHeader == pclntab, md.isPlausible else { return nil }
            return md
        }
        if let section = elf.section(named: ".go.module"), let md = accept(section.address) {
            return (md, .section(".go.module"))
        }
        if let symbol = elf.symbol(named: "runtime.firstmoduledata"), let md = accept(symbol.value) {
            return (md, .symbol("runtime.firstmoduledata"))
        }
        var regions: [(UInt64, UInt64, String)] = []
        if let section = elf.section(named: ".noptrdata") {
            regions.append((section.address, section.size, ".noptrdata"))
        }
        for segment in elf.segments where segment.isLoad && segment.isWritable {
            regions.append((segment.virtualAddress, segment.fileSize, "writable segments"))
        }
        for (start, size, what) in regions {
            guard size < 1 << 30, let view = try? image.fetchView(from: start, count: Int(size)) else { continue }
            for candidate in ModuleData.candidates(in: view, pclntab: pclntab, funcnametab: funcnametab) {
                if let md = accept(candidate) { return (md, .scan(what)) }
            }
        }
        return nil
    }
}
