import Foundation
@testable import GospyBinary
import Testing
import GospyTestSupport

/// DwarfTypeReader against the probe program (scripts/layoutprobe) built with real toolchains,
/// and against files that have no DWARF or are damaged.
@Suite struct DwarfTypeReaderTests {
    // MARK: - Offsets that cannot match by accident

    @Test(DwarfProbe.toolchain("1.21"))
    func go121RuntimeG() throws {
        let reader = try DwarfTypeReader(path: try DwarfProbe.binary(release: "1.21"))
        let g = try reader.structType(named: "runtime.g")
        #expect(g.size == 408)
        #expect(g.member("goid")?.offset == 0x98)
        #expect(g.member("goid")?.typeName == "uint64")
        #expect(g.member("goid")?.typeSize == 8)
        #expect(g.member("parentGoid")?.offset == 0x110)
        #expect(g.member("sched")?.offset == 0x38)
        #expect(g.member("sched")?.typeName == "runtime.gobuf")
        #expect(g.member("sched")?.typeSize == 56)
        #expect(g.member("sched.pc")?.offset == 0x40)
        #expect(g.member("sched.bp")?.offset == 0x68)
        #expect(g.member("stack.hi")?.offset == 0x8)
        #expect(g.member("atomicstatus")?.typeName == "runtime/internal/atomic.Uint32")
        #expect(g.member("atomicstatus.value")?.offset == 0x90)
        #expect(g.member("syscallbp") == nil)
        // Direct members are not flattened and keep declaration order.
        #expect(g.members.first?.name == "stack")
        #expect(g.members.contains { $0.name == "sched.pc" } == false)
        #expect(g.members.map(\.offset) == g.members.map(\.offset).sorted())
    }

    @Test(DwarfProbe.toolchain("1.19"))
    func go119RuntimeG() throws {
        let reader = try DwarfTypeReader(path: try DwarfProbe.binary(release: "1.19"))
        let g = try reader.structType(named: "runtime.g")
        #expect(g.size == 392)
        #expect(g.member("goid")?.typeName == "int64")  // uint64 from 1.20
        #expect(g.member("atomicstatus")?.typeName == "uint32")  // atomic.Uint32 from 1.20
        #expect(g.member("lockedm")?.offset == 0xe8)
        #expect(g.member("parentGoid") == nil)
        #expect(g.member("gopc")?.offset == 0x128)
    }

    @Test(DwarfProbe.toolchain("1.23"))
    func go123HasSyscallbp() throws {
        let reader = try DwarfTypeReader(path: try DwarfProbe.binary(release: "1.23"))
        let g = try reader.structType(named: "runtime.g")
        #expect(g.size == 432)
        #expect(g.member("syscallbp")?.offset == 0x80)
        #expect(g.member("atomicstatus")?.offset == 0x98)
        #expect(g.member("atomicstatus")?.typeName == "internal/runtime/atomic.Uint32")
        #expect(g.member("goid")?.offset == 0xa0)
    }

    @Test(DwarfProbe.toolchain("1.25"))
    func go125GobufHasNoRet() throws {
        let reader = try DwarfTypeReader(path: try DwarfProbe.binary(release: "1.25"))
        let gobuf = try reader.structType(named: "runtime.gobuf")
        #expect(gobuf.size == 48)
        #expect(gobuf.member("ret") == nil)
        #expect(gobuf.members.map(\.name) == ["sp", "pc", "g", "ctxt", "lr", "bp"])
        let g = try reader.structType(named: "runtime.g")
        #expect(g.member("sched.ret") == nil)
        #expect(g.member("sched.bp")?.offset == 0x60)
        #expect(g.member("syscallbp")?.offset == 0x78)
        // runqsize moved into the queue: schedt.runq.size.
        let sched = try reader.structType(named: "runtime.schedt")
        #expect(sched.member("runqsize") == nil)
        #expect(sched.member("runq.size")?.offset == 0x80)
    }

    /// sizeof(runtime.g) per release, as /work/shared/reference/go-runtime.md section 1 gives it,
    /// and DWARF that Go's linker compressed. One test per release, each skipped (with the
    /// reason) when its toolchain is missing.
    @Suite("Every toolchain") struct EveryToolchain {
        @Test(DwarfProbe.toolchain("1.19")) func go1_19() throws { try check("1.19", gSize: 392) }
        @Test(DwarfProbe.toolchain("1.21")) func go1_21() throws { try check("1.21", gSize: 408) }
        @Test(DwarfProbe.toolchain("1.22")) func go1_22() throws { try check("1.22", gSize: 424) }
        @Test(DwarfProbe.toolchain("1.23")) func go1_23() throws { try check("1.23", gSize: 432) }
        @Test(DwarfProbe.toolchain("1.24")) func go1_24() throws { try check("1.24", gSize: 440) }
        @Test(DwarfProbe.toolchain("1.25")) func go1_25() throws { try check("1.25", gSize: 440) }
        @Test(DwarfProbe.toolchain("1.26")) func go1_26() throws { try check("1.26", gSize: 456) }
        @Test(DwarfProbe.toolchain("1.27")) func go1_27() throws { try check("1.27", gSize: 456) }

        private func check(_ release: String, gSize: Int) throws {
            let reader = try DwarfTypeReader(path: try DwarfProbe.binary(release: release))
            // Go's linker compresses DWARF (SHF_COMPRESSED): libdw must have decompressed it.
            #expect(reader.compressedSections.contains(".debug_info"))
            #expect(try reader.structType(named: "runtime.g").size == gSize)
            let names = try reader.structTypeNames(withPrefix: "runtime.")
            for name in ["runtime.g", "runtime.m", "runtime.p", "runtime.schedt", "runtime.gobuf", "runtime.moduledata",
                         "runtime.sudog", "runtime._panic", "runtime._defer", "runtime.stack"] {
                #expect(names.contains(name), "Go \(release): no \(name) in DWARF")
            }
            // Maps are runtime.hmap until 1.23; Swiss tables from 1.24.
            #expect(names.contains("runtime.hmap") == (release < "1.24"), "Go \(release)")
            // Every flattened member lies inside its struct.
            for name in ["runtime.g", "runtime.m", "runtime.p", "runtime.schedt"] {
                let type = try reader.structType(named: name)
                for member in type.flattenedMembers {
                    #expect(member.offset + (member.typeSize ?? 0) <= type.size, "Go \(release) \(name).\(member.name)")
                }
            }
        }
    }

    @Test(DwarfProbe.toolchain("1.22"))
    func lookupsAndDepth() throws {
        let reader = try DwarfTypeReader(path: try DwarfProbe.binary(release: "1.22"))
        #expect(throws: DwarfError.typeNotFound(path: reader.path, typeName: "runtime.nosuchtype")) {
            try reader.structType(named: "runtime.nosuchtype")
        }
        let found = try reader.structTypes(named: ["runtime.g", "runtime.nosuchtype", "runtime.m"])
        #expect(Set(found.keys) == ["runtime.g", "runtime.m"])
        // Depth 1: no dotted paths at all.
        let shallow = try reader.structType(named: "runtime.p", flattenDepth: 1)
        #expect(shallow.flattenedMembers == shallow.members)
        // p.gFree is `struct { gList; n int32 }`: the embedded gList's head is two levels down.
        let p = try reader.structType(named: "runtime.p", flattenDepth: 3)
        #expect(p.member("gFree.gList.head")?.offset == p.member("gFree")?.offset)
        #expect(p.member("gFree.n")?.offset == p.member("gFree")!.offset + 8)
        let moduledata = try reader.structType(named: "runtime.moduledata")
        #expect(moduledata.member("ftab.len")?.offset == 0x88)
        #expect(moduledata.member("gofunc")?.offset == 0x140)
    }

    // MARK: - No DWARF, damaged files

    @Test(DwarfProbe.toolchain("1.21"))
    func strippedBinaryHasNoDWARF() throws {
        let path = try DwarfProbe.binary(release: "1.21", stripped: true)
        #expect(throws: DwarfError.noDWARF(path: path)) { try DwarfTypeReader(path: path) }
    }

    @Test func systemBinaryWithoutDWARF() throws {
        let path = "/bin/ls"
        try #require(FileManager.default.fileExists(atPath: path))
        do {
            _ = try DwarfTypeReader(path: path)
            Issue.record("expected an error for \(path), which has no DWARF")
        } catch {
            #expect(error == .noDWARF(path: path))
            #expect(error.description.contains(path))
        }
    }

    @Test func missingAndNonELFFiles() throws {
        #expect(throws: DwarfError.cannotOpen(path: "/nonexistent/gospy", errno: ENOENT)) {
            try DwarfTypeReader(path: "/nonexistent/gospy")
        }
        let text = try DwarfProbe.scratchFile("not-elf.txt", contents: Array("hello, not an ELF file\n".utf8))
        #expect(throws: DwarfError.notELF(path: text)) { try DwarfTypeReader(path: text) }
        let empty = try DwarfProbe.scratchFile("empty", contents: [])
        #expect(throws: DwarfError.notELF(path: empty)) { try DwarfTypeReader(path: empty) }
    }

    @Test(DwarfProbe.toolchain("1.21"))
    func truncatedCopiesGiveTypedErrors() throws {
        let original = try Array(Data(contentsOf: URL(fileURLWithPath: try DwarfProbe.binary(release: "1.21"))))
        let expected = try DwarfTypeReader(path: try DwarfProbe.binary(release: "1.21")).structType(named: "runtime.g")
        let debugInfo = try #require(DwarfProbe.sectionRange(named: ".debug_info", in: original))
        // Cuts that must fail: in the ELF header, in the section table (Go writes it near the
        // start), in the text, inside .debug_info.
        let mustFail = [0, 16, 63, 64 + 200, 4096, original.count / 4,
                        debugInfo.lowerBound + 10, (debugInfo.lowerBound + debugInfo.upperBound) / 2,
                        debugInfo.upperBound - 1]
        // Cuts after .debug_info (in .symtab/.strtab, which DWARF reading does not need) may
        // succeed, but then with the right answer.
        let mayPass = [debugInfo.upperBound + 1, original.count - 1]
        for length in mustFail + mayPass {
            let path = try DwarfProbe.scratchFile("truncated-\(length)", contents: Array(original[0..<length]))
            do {
                let reader = try DwarfTypeReader(path: path)
                let g = try reader.structType(named: "runtime.g")
                #expect(mayPass.contains(length), "a copy cut to \(length) of \(original.count) bytes was read without error")
                #expect(g == expected)
            } catch {
                #expect(error.path == path)
                switch error {
                case .notELF, .badELF, .corrupt, .noDWARF, .typeNotFound, .malformedType: break
                case .cannotOpen: Issue.record("unexpected \(error)")
                }
            }
        }
    }

    @Test(DwarfProbe.toolchain("1.21"))
    func garbledDWARFGivesTypedErrors() throws {
        // Overwrite the compressed .debug_info payload (past its Chdr) with garbage.
        let path = try DwarfProbe.binary(release: "1.21")
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let section = try #require(DwarfProbe.sectionRange(named: ".debug_info", in: bytes))
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        for index in (section.lowerBound + 24)..<section.upperBound {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[index] = UInt8(truncatingIfNeeded: state >> 56)
        }
        let garbled = try DwarfProbe.scratchFile("garbled-debug-info", contents: bytes)
        do {
            let reader = try DwarfTypeReader(path: garbled)
            _ = try reader.structType(named: "runtime.g")
            Issue.record("garbled .debug_info was read without error")
        } catch {
            #expect(error.path == garbled)
        }
    }
}

// MARK: - Building the probe

/// Builds scripts/layoutprobe with an installed toolchain, caching the result under
/// ~/.cache/gospy/layoutprobe/ (keyed by release, toolchain version, flags and source).
enum DwarfProbe {
    static let home = GoProbe.home
    static func goroot(_ release: String) -> String { GoProbe.goroot(release) }

    /// Runs a test only when Go `release`'s toolchain is installed; otherwise it is reported as
    /// skipped, naming the toolchain.
    static func toolchain(_ release: String) -> ConditionTrait {
        .enabled(if: GoProbe.isInstalled(release), "needs the Go \(release) toolchain at \(goroot(release))")
    }

    static func isInstalled(_ release: String) -> Bool { GoProbe.isInstalled(release) }

    static func binary(release: String, stripped: Bool = false) throws -> String {
        try GoProbe.binary(release: release, stripped: stripped)
    }

    /// A file under the test scratch directory with these contents.
    static func scratchFile(_ name: String, contents: [UInt8]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gospy-dwarf-tests-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(contents).write(to: url)
        return url.path
    }

    /// The file range of an ELF64 section, by name (test helper, no validation beyond bounds).
    static func sectionRange(named wanted: String, in bytes: [UInt8]) -> Range<Int>? {
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> Int { u32(at) | u32(at + 4) << 32 }
        guard bytes.count > 64 else { return nil }
        let table = u64(0x28), entrySize = u16(0x3a), count = u16(0x3c), names = u16(0x3e)
        guard table + entrySize * count <= bytes.count else { return nil }
        let namesOffset = u64(table + names * entrySize + 0x18)
        for index in 0..<count {
            let entry = table + index * entrySize
            var cursor = namesOffset + u32(entry)
            var name = ""
            while cursor < bytes.count, bytes[cursor] != 0 {
                name.append(Character(UnicodeScalar(bytes[cursor])))
                cursor += 1
            }
            if name == wanted {
                let offset = u64(entry + 0x18), size = u64(entry + 0x20)
                return offset..<min(bytes.count, offset + size)
            }
        }
        return nil
    }

}

