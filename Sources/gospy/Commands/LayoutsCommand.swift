import ArgumentParser
import FoundationEssentials
import GospyBinary
import GospyRuntime

/// `gospy layouts`: the runtime struct layouts of a binary (from its DWARF, or gospy's built-in
/// table for its Go release), and the Swift lines `scripts/gen-layouts.sh` merges into the
/// generated table (Sources/GospyRuntime/Layouts/Generated/BuiltinReleases.swift).
struct LayoutsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layouts",
        abstract: "Show the Go runtime struct layouts of a binary (DWARF, or the built-in table).",
        discussion: """
            With --bin, reads runtime.g, runtime.m, runtime.p, runtime.schedt, runtime.moduledata, ... \
            from the binary's DWARF. A binary without DWARF (built with -ldflags=-s -w) gets gospy's \
            built-in table for its Go release. With only --release, prints that built-in table.
            """
    )

    @Option(name: .long, help: "The Go executable to read.")
    var bin: String?

    @Option(name: .long, help: "The Go release (\"1.21\"); default: read from the binary's .go.buildinfo.")
    var release: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Flag(name: .long, help: "Print the struct layouts as Swift, one StructLayout a line, for the generated table (DWARF only; used by scripts/gen-layouts.sh).")
    var emitSwift = false

    @Option(name: .long, help: "Print every member of this struct type from DWARF (repeatable), e.g. runtime.g.")
    var `struct`: [String] = []

    @Option(name: .long, help: "How deep --struct goes into nested structs.")
    var depth = 3

    func validate() throws {
        if bin == nil && release == nil {
            throw ValidationError("give --bin PATH, or --release R for a built-in table")
        }
        if emitSwift && bin == nil {
            throw ValidationError("--emit-swift needs --bin (it reads DWARF)")
        }
        if emitSwift && json {
            throw ValidationError("--emit-swift and --json cannot be combined")
        }
    }

    func run() throws {
        guard let bin else {
            let release = release ?? ""
            guard let table = RuntimeLayout.builtin(release: release) else {
                throw LayoutError.unsupportedRelease(release)
            }
            try emit(table, goVersion: RuntimeLayout.builtinToolchains[release])
            return
        }

        let goVersion = LayoutBuildInfo.goVersion(path: bin)
        let release = self.release ?? goVersion.flatMap { GoVersion(parsing: $0)?.release }

        if !`struct`.isEmpty {
            try dumpStructs(bin: bin)
            return
        }

        let layout: RuntimeLayout
        let result = Result { () throws(LayoutError) -> RuntimeLayout in
            try RuntimeLayout.fromDWARF(path: bin, release: release ?? "unknown")
        }
        switch result {
        case let .success(found):
            layout = found
        case .failure(.dwarf(.noDWARF)) where !emitSwift:
            guard let release else {
                throw LayoutsCommandError.noDWARFNorBuildInfo(path: bin)
            }
            Output.error("\(bin): no DWARF (built with \(goVersion ?? "Go " + release))\n")
            guard let table = RuntimeLayout.builtin(release: release) else {
                throw LayoutError.unsupportedRelease(release)
            }
            Output.error("using gospy's built-in table for Go \(release)\n")
            try emit(table, goVersion: goVersion)
            return
        case let .failure(error):
            throw error
        }
        if emitSwift {
            Output.write(LayoutSwiftFragment.render(layout))
            return
        }
        try emit(layout, goVersion: goVersion)
    }

    // MARK: - Output

    private func emit(_ layout: RuntimeLayout, goVersion: String?) throws {
        if json {
            let document = JSONLayout(
                release: layout.release, goVersion: goVersion, source: layout.source,
                structs: layout.structs.mapValues { JSONLayout.Struct(size: $0.size, fields: $0.fields) })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            Output.write(String(decoding: try encoder.encode(document), as: UTF8.self) + "\n")
            return
        }
        var text = "Go \(layout.release)\(goVersion.map { " (\($0))" } ?? ""): \(layout.source)\n"
        for name in layout.structs.keys.sorted() {
            let structLayout = layout.structs[name]!
            text += "\n\(name)  size \(structLayout.size) (0x\(hex(structLayout.size)))\n"
            for (field, offset) in structLayout.fieldsByOffset {
                text += "  0x\(hex(offset).leftPadded(to: 4))  \(field)\n"
            }
        }
        Output.write(text)
    }

    private func dumpStructs(bin: String) throws {
        let reader = try DwarfTypeReader(path: bin)
        for (index, name) in `struct`.enumerated() {
            let type = try reader.structType(named: name, flattenDepth: depth)
            var text = index > 0 ? "\n" : ""
            text += "\(type.name)  size \(type.size) (0x\(hex(type.size)))\n"
            for member in type.flattenedMembers {
                let indent = String(repeating: "  ", count: member.name.split(separator: ".").count)
                let size = member.typeSize.map(String.init) ?? "?"
                text += "\(indent)0x\(hex(member.offset).leftPadded(to: 4))  \(member.name)  \(member.typeName ?? "?") (\(size))\n"
            }
            // Each struct as soon as it is read: an error on a later one leaves the earlier ones printed.
            Output.write(text)
        }
    }
}

/// Why `gospy layouts` cannot tell which Go release a binary is: it needs --release.
enum LayoutsCommandError: Error, Equatable, CustomStringConvertible {
    /// No DWARF to read the layouts from, and no build information naming a built-in table.
    case noDWARFNorBuildInfo(path: String)

    var description: String {
        switch self {
        case let .noDWARFNorBuildInfo(path):
            return "\(path) has no DWARF and no Go build information (not a Go program?); give --release to see a built-in table"
        }
    }
}

private struct JSONLayout: Encodable {
    struct Struct: Encodable {
        let size: Int
        let fields: [String: Int]
    }
    let release: String
    let goVersion: String?
    let source: LayoutSource
    let structs: [String: Struct]
}

private func hex(_ value: Int) -> String { String(value, radix: 16) }

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Reads the Go version from `.go.buildinfo` through the real parser, without the rest of the
/// analysis (the layouts command also serves binaries gospy cannot otherwise inspect).
enum LayoutBuildInfo {
    static func goVersion(path: String) -> String? {
        guard let elf = try? ElfFile(path: path), let section = elf.section(named: ".go.buildinfo") else { return nil }
        return try? BuildInfo.parse(at: section.address, reader: ImageMemoryReader(elf: elf), path: path).goVersion
    }
}
