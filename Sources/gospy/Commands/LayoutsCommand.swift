import ArgumentParser
import Foundation
import GospyBinary
import GospyRuntime

/// `gospy layouts`: the runtime struct layouts of a binary (from its DWARF, or gospy's built-in
/// table for its Go release), and the Swift fragment `scripts/gen-layouts.sh` puts into each
/// release's generated file (Sources/GospyRuntime/Layouts/Generated/Go1_XX.swift).
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

    @Flag(name: .long, help: "Print the struct layouts as Swift for a release's generated file (DWARF only; used by scripts/gen-layouts.sh).")
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
                throw LayoutsCommandError("\(bin) has no DWARF and no Go build information (not a Go program?); give --release to see a built-in table")
            }
            printError("\(bin): no DWARF (built with \(goVersion ?? "Go " + release))")
            guard let table = RuntimeLayout.builtin(release: release) else {
                throw LayoutError.unsupportedRelease(release)
            }
            printError("using gospy's built-in table for Go \(release)")
            try emit(table, goVersion: goVersion)
            return
        case let .failure(error):
            throw error
        }
        if emitSwift {
            print(Self.swiftFragment(layout), terminator: "")
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
            print(String(decoding: try encoder.encode(document), as: UTF8.self))
            return
        }
        print("Go \(layout.release)\(goVersion.map { " (\($0))" } ?? ""): \(layout.source)")
        for name in layout.structs.keys.sorted() {
            let structLayout = layout.structs[name]!
            print("")
            print("\(name)  size \(structLayout.size) (0x\(hex(structLayout.size)))")
            for (field, offset) in Self.byOffset(structLayout.fields) {
                print("  0x\(hex(offset).leftPadded(to: 4))  \(field)")
            }
        }
    }

    private func dumpStructs(bin: String) throws {
        let reader = try DwarfTypeReader(path: bin)
        for (index, name) in `struct`.enumerated() {
            let type = try reader.structType(named: name, flattenDepth: depth)
            if index > 0 { print("") }
            print("\(type.name)  size \(type.size) (0x\(hex(type.size)))")
            for member in type.flattenedMembers {
                let indent = String(repeating: "  ", count: member.name.split(separator: ".").count)
                let size = member.typeSize.map(String.init) ?? "?"
                print("\(indent)0x\(hex(member.offset).leftPadded(to: 4))  \(member.name)  \(member.typeName ?? "?") (\(size))")
            }
        }
    }

    /// Fields ordered by offset, then name: the order they appear in memory.
    static func byOffset(_ fields: [String: Int]) -> [(String, Int)] {
        fields.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map { ($0.key, $0.value) }
    }

    /// One release's struct layouts as a Swift array literal of `StructLayout`s, for the
    /// `structs:` argument in that release's generated file (scripts/gen-layouts.sh writes the
    /// rest): structs sorted by name, fields by offset then name.
    static func swiftFragment(_ layout: RuntimeLayout) -> String {
        var out = "[\n"
        for name in layout.structs.keys.sorted() {
            let structLayout = layout.structs[name]!
            out += "            StructLayout(name: \(swiftString(name)), size: \(structLayout.size), fields: ["
            let fields = byOffset(structLayout.fields)
            if fields.isEmpty {
                out += ":]),\n"
                continue
            }
            out += "\n"
            for (field, offset) in fields {
                out += "                \(swiftString(field)): 0x\(hex(offset)),\n"
            }
            out += "            ]),\n"
        }
        out += "        ]"
        return out
    }

    private static func swiftString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

struct LayoutsCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
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

private func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

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
