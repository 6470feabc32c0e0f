import Foundation
import GospyBinary
@testable import GospyRuntime
import Testing
import GospyTestSupport

/// The built-in layout tables (Layouts/Generated/BuiltinReleases.swift) against DWARF read again from the probe
/// built with each toolchain, plus spot checks of the tables that need no toolchain.
@Suite struct LayoutTableTests {
    // MARK: - Tables equal DWARF, release by release

    /// One test case per built-in release, each cancelled (with the reason) when its toolchain is missing.
    @Suite("Built-in table equals DWARF") struct BuiltinTableEqualsDWARF {
        @Test(arguments: RuntimeLayout.builtinReleases)
        func release(_ release: String) throws {
            if !GoProbe.isInstalled(release) {
                try Test.cancel("needs the Go \(release) toolchain at \(LayoutProbe.goroot(release))")
            }
            try compare(release)
        }

        private func compare(_ release: String) throws {
            let table = try #require(RuntimeLayout.builtin(release: release), "no built-in table for Go \(release)")
            let fromDWARF = try RuntimeLayout.fromDWARF(path: try LayoutProbe.binary(release: release), release: release)
            #expect(fromDWARF.release == release)
            #expect(Set(fromDWARF.structs.keys) == Set(table.structs.keys), "Go \(release): struct sets differ")
            for name in Set(fromDWARF.structs.keys).union(table.structs.keys).sorted() {
                guard let dwarf = fromDWARF.structs[name], let builtin = table.structs[name] else { continue }
                #expect(dwarf.size == builtin.size, "Go \(release) \(name): size \(dwarf.size) in DWARF, \(builtin.size) in the table")
                let onlyDWARF = Set(dwarf.fields.keys).subtracting(builtin.fields.keys).sorted()
                let onlyTable = Set(builtin.fields.keys).subtracting(dwarf.fields.keys).sorted()
                #expect(onlyDWARF.isEmpty, "Go \(release) \(name): fields only in DWARF: \(onlyDWARF)")
                #expect(onlyTable.isEmpty, "Go \(release) \(name): fields only in the table: \(onlyTable)")
                for (field, offset) in dwarf.fields.sorted(by: { $0.key < $1.key }) {
                    guard let tableOffset = builtin.fields[field] else { continue }
                    #expect(offset == tableOffset, "Go \(release) \(name).\(field): 0x\(String(offset, radix: 16)) in DWARF, 0x\(String(tableOffset, radix: 16)) in the table")
                }
            }
            // The table says which toolchain it came from; it should be the one installed.
            let version = try? String(contentsOfFile: LayoutProbe.goroot(release) + "/VERSION", encoding: .utf8)
            if let version, let toolchain = RuntimeLayout.builtinToolchains[release] {
                #expect(version.hasPrefix(toolchain), "Go \(release): table from \(toolchain), installed \(version.prefix(20))")
            }
        }
    }

    @Test func everySupportedReleaseHasATable() {
        #expect(RuntimeLayout.builtinReleases == GoVersion.supportedReleases)
        for release in GoVersion.supportedReleases {
            let table = RuntimeLayout.builtin(release: release)
            #expect(table?.source == .builtinTable(release: release))
            for name in RuntimeLayout.requiredStructs {
                #expect(table?.structs[name] != nil, "Go \(release): no \(name)")
            }
        }
        #expect(RuntimeLayout.builtin(release: "1.20") == nil)
        #expect(RuntimeLayout.builtin(release: "1.18") == nil)
        #expect(RuntimeLayout.builtin(for: GoVersion(parsing: "go1.23.9")!)?.release == "1.23")
    }

    /// The releases file the scripts read and the Swift data generated from it agree: a release
    /// added to scripts/go-releases.txt needs scripts/gen-layouts.sh run.
    @Test func releasesFileMatchesTheBuiltinData() throws {
        let entries = try GoReleasesFile.entries()
        #expect(entries.map(\.release) == RuntimeLayout.builtinReleases)
        for (release, version) in entries {
            #expect(RuntimeLayout.builtinToolchains[release] == "go" + version, "Go \(release)")
        }
    }

    /// The generated tables write each layout and numbering once with the releases that have it:
    /// every release then has one layout per struct and one funcID numbering, and the tables name
    /// no release gospy does not list.
    @Test func sharedTablesGiveEachReleaseOneOfEach() {
        let releases = Set(BuiltinRelease.all.map(\.release))
        for release in releases {
            let names = BuiltinRelease.named(release)!.structs.map(\.name)
            #expect(names.count == Set(names).count, "Go \(release): a struct has two layouts")
            let numberings = BuiltinRelease.funcIDNumberings.filter { $0.releases.contains(release) }
            #expect(numberings.count == 1, "Go \(release): \(numberings.count) funcID numberings")
        }
        let named = BuiltinRelease.structLayouts.flatMap(\.releases) + BuiltinRelease.funcIDNumberings.flatMap(\.releases)
        #expect(Set(named).isSubset(of: releases), "unknown releases: \(Set(named).subtracting(releases).sorted())")
    }

    @Test func tablesOnlyHoldWantedFields() {
        for release in RuntimeLayout.builtinReleases {
            let table = RuntimeLayout.builtin(release: release)!
            for (name, layout) in table.structs {
                let wanted = Set(RuntimeLayout.wantedFields[name] ?? [])
                #expect(wanted.isEmpty == false, "Go \(release): \(name) is not in wantedFields")
                #expect(Set(layout.fields.keys).isSubset(of: wanted), "Go \(release) \(name)")
                #expect(layout.name == name)
                for (field, offset) in layout.fields {
                    #expect(offset >= 0 && offset < max(layout.size, 1) || offset == layout.size,
                            "Go \(release) \(name).\(field) at \(offset) is outside the struct (\(layout.size) bytes)")
                }
            }
        }
    }

    // MARK: - Spot checks of the tables (no toolchain needed)

    /// sizeof(runtime.g) and key offsets, as /work/shared/reference/go-runtime.md section 1 has
    /// them (and as DWARF confirms, see builtinTableEqualsDWARF).
    @Test(arguments: [
        // release, size, goid, atomicstatus, sched.bp, syscallsp, lockedm, gopc, startpc, labels
        ("1.19", 392, 0x98, 0x90, 0x68, 0x70, 0xe8, 0x128, 0x138, 0x168),
        ("1.21", 408, 0x98, 0x90, 0x68, 0x70, 0xd0, 0x118, 0x128, 0x158),
        ("1.22", 424, 0x98, 0x90, 0x68, 0x70, 0xd0, 0x118, 0x128, 0x158),
        ("1.23", 432, 0xa0, 0x98, 0x68, 0x70, 0xd8, 0x120, 0x130, 0x160),
        ("1.24", 440, 0xa0, 0x98, 0x68, 0x70, 0xd8, 0x120, 0x130, 0x160),
        ("1.25", 440, 0x98, 0x90, 0x60, 0x68, 0xd0, 0x118, 0x128, 0x158),
        ("1.26", 456, 0x98, 0x90, 0x60, 0x68, 0xd0, 0x120, 0x130, 0x160),
        ("1.27", 456, 0x98, 0x90, 0x60, 0x68, 0xd0, 0x120, 0x130, 0x160),
    ] as [(String, Int, Int, Int, Int, Int, Int, Int, Int, Int)])
    func runtimeGMatchesReference(
        release: String, size: Int, goid: Int, atomicstatus: Int, schedBP: Int, syscallsp: Int,
        lockedm: Int, gopc: Int, startpc: Int, labels: Int
    ) throws {
        let layout = try #require(RuntimeLayout.builtin(release: release))
        let g = try layout.g
        #expect(g.size == size)
        #expect(g.goid == goid)
        #expect(g.atomicstatus == atomicstatus)
        #expect(g.schedSP == 0x38)
        #expect(g.schedPC == 0x40)
        #expect(g.schedBP == schedBP)
        #expect(g.syscallsp == syscallsp)
        #expect(g.lockedm == lockedm)
        #expect(g.gopc == gopc)
        #expect(g.startpc == startpc)
        #expect(g.labels == labels)
        #expect(g.stackLo == 0 && g.stackHi == 8 && g.m == 0x30)
    }

    @Test func go121Offsets() throws {
        let layout = try #require(RuntimeLayout.builtin(release: "1.21"))
        #expect(try layout.offset("runtime.g", "goid") == 0x98)
        #expect(try layout.offset("runtime.g", "parentGoid") == 0x110)
        #expect(try layout.g.parentGoid == 0x110)
        #expect(try layout.g.syscallbp == nil)
        #expect(try layout.g.schedRet == 0x58)
        #expect(RuntimeLayout.builtin(release: "1.19")?.has("runtime.g", "parentGoid") == false)
    }

    @Test func go123HasSyscallbp() throws {
        let layout = try #require(RuntimeLayout.builtin(release: "1.23"))
        #expect(try layout.g.syscallbp == 0x80)
        #expect(RuntimeLayout.builtin(release: "1.22")?.has("runtime.g", "syscallbp") == false)
    }

    @Test func go125GobufHasNoRet() throws {
        let layout = try #require(RuntimeLayout.builtin(release: "1.25"))
        #expect(layout.has("runtime.g", "sched.ret") == false)
        #expect(try layout.g.schedRet == nil)
        #expect(RuntimeLayout.builtin(release: "1.24")?.has("runtime.g", "sched.ret") == true)
        #expect(throws: LayoutError.missingField(
            structName: "runtime.g", field: "sched.ret", release: "1.25", source: .builtinTable(release: "1.25"))
        ) {
            try layout.offset("runtime.g", "sched.ret")
        }
    }

    /// Section 3 of the reference: m, p, schedt and moduledata offsets.
    @Test func mPSchedtModuledataMatchReference() throws {
        func table(_ release: String) throws -> RuntimeLayout { try #require(RuntimeLayout.builtin(release: release)) }
        for release in ["1.19", "1.21", "1.22", "1.23", "1.24"] {
            let m = try table(release).m
            #expect(m.procid == 0x48 && m.curg == 0xc0 && m.p == 0xd0 && m.id == 0xe8, "Go \(release)")
            #expect(m.spinning == 0x114 && m.blocked == 0x115, "Go \(release)")
        }
        let m125 = try table("1.25").m
        #expect(m125.procid == 0x40 && m125.curg == 0xb8 && m125.p == 0xc8 && m125.id == 0xe0)
        #expect(m125.spinning == 0x10c && m125.blocked == 0x10d)
        for release in ["1.26", "1.27"] {
            let m = try table(release).m
            #expect(m.procid == 0x40 && m.curg == 0xb8 && m.p == 0xd0 && m.id == 0xe8, "Go \(release)")
        }
        let alllink = ["1.19": 0x150, "1.21": 0x150, "1.22": 0x148, "1.23": 0x148, "1.24": 0x160, "1.25": 0x158,
                       "1.26": 0x160, "1.27": 0x160]
        for (release, offset) in alllink { #expect(try table(release).m.alllink == offset, "Go \(release)") }

        // Reference values by release; a release added since has none yet.

        let pM = ["1.19": 0x38, "1.21": 0x38, "1.22": 0x38, "1.23": 0x30, "1.24": 0x30, "1.25": 0x30, "1.26": 0x30, "1.27": 0x30]
        let runqhead = ["1.19": 0x190, "1.21": 0x190, "1.22": 0x190, "1.23": 0x188, "1.24": 0x188, "1.25": 0x188,
                        "1.26": 0x190, "1.27": 0x190]
        for release in GoVersion.supportedReleases {
            let p = try table(release).p
            #expect(p.id == 0 && p.status == 4 && p.schedtick == 0x10 && p.syscalltick == 0x14, "Go \(release)")
            if let m = pM[release] { #expect(p.m == m, "Go \(release)") }
            if let head = runqhead[release] { #expect(p.runqhead == head, "Go \(release)") }
            #expect(p.runqtail == p.runqhead + 4 && p.runq == p.runqhead + 8 && p.runnext == p.runq + 0x800)
        }

        // release: nmidle, npidle, nmspinning, runq size field, gcwaiting
        let sched: [String: (Int, Int, Int, Int, Int)] = [
            "1.19": (0x28, 0x58, 0x5c, 0x70, 0xe0), "1.21": (0x28, 0x58, 0x5c, 0x78, 0xe8),
            "1.22": (0x28, 0x58, 0x5c, 0x78, 0xe8), "1.23": (0x28, 0x58, 0x5c, 0x78, 0xe8),
            "1.24": (0x28, 0x58, 0x5c, 0x78, 0xe8), "1.25": (0x30, 0x60, 0x64, 0x80, 0xf8),
            "1.26": (0x40, 0x70, 0x74, 0x90, 0x108), "1.27": (0x40, 0x70, 0x74, 0x90, 0x108),
        ]
        for (release, want) in sched {
            let layout = try table(release)
            let s = try layout.schedt
            #expect(s.goidgen == 0)
            #expect((s.nmidle, s.npidle, s.nmspinning, s.runqSize, s.gcwaiting) == want, "Go \(release)")
            let usesRunqSize = ["1.19", "1.21", "1.22", "1.23", "1.24"].contains(release)
            #expect(layout.has("runtime.schedt", "runqsize") == usesRunqSize, "Go \(release)")
            #expect(layout.has("runtime.schedt", "runq.size") == !usesRunqSize, "Go \(release)")
            if !usesRunqSize { #expect(s.runqSize == s.runqHead + 0x10) }
        }

        let gofunc = ["1.19": 0x130, "1.21": 0x140, "1.22": 0x140, "1.23": 0x140, "1.24": 0x140, "1.25": 0x140,
                      "1.26": 0x140, "1.27": 0x158]
        for release in GoVersion.supportedReleases {
            let md = try table(release).moduledata
            #expect(md.pcHeader == 0 && md.funcnametab == 8 && md.pclntable == 0x68)
            #expect(md.text == 0xb0 && md.etext == 0xb8, "Go \(release)")
            if let offset = gofunc[release] { #expect(md.gofunc == offset, "Go \(release)") }
        }
    }

    // MARK: - Errors

    @Test func missingStructAndFieldErrorsNameEverything() throws {
        let layout = try #require(RuntimeLayout.builtin(release: "1.22"))
        do {
            _ = try layout.offset("runtime.g", "syscallbp")
            Issue.record("1.22 has no g.syscallbp")
        } catch {
            #expect(error == .missingField(structName: "runtime.g", field: "syscallbp", release: "1.22",
                                           source: .builtinTable(release: "1.22")))
            #expect(error.description.contains("runtime.g") && error.description.contains("syscallbp")
                    && error.description.contains("1.22"))
        }
        #expect(throws: LayoutError.missingStruct(structName: "runtime.nosuch", release: "1.22",
                                                  source: .builtinTable(release: "1.22"))) {
            try layout.size(of: "runtime.nosuch")
        }
    }

    @Test(LayoutProbe.toolchain("1.24"))
    func strippedBinaryFallsBackToTheTable() throws {
        let path = try LayoutProbe.binary(release: "1.24", stripped: true)
        #expect(throws: LayoutError.dwarf(.noDWARF(path: path))) {
            try RuntimeLayout.fromDWARF(path: path, release: "1.24")
        }
        let layout = try RuntimeLayout.forBinary(path: path, release: "1.24")
        #expect(layout == RuntimeLayout.builtin(release: "1.24"))
        #expect(throws: LayoutError.unsupportedRelease("1.20")) {
            try RuntimeLayout.forBinary(path: path, release: "1.20")
        }
        let withDWARF = try LayoutProbe.binary(release: "1.24")
        #expect(try RuntimeLayout.forBinary(path: withDWARF, release: "1.24").source == .dwarf(path: withDWARF))
    }

    @Test func nonGoFilesGiveTypedErrors() throws {
        #expect(throws: LayoutError.dwarf(.noDWARF(path: "/bin/ls"))) {
            try RuntimeLayout.fromDWARF(path: "/bin/ls", release: "1.21")
        }
        #expect(throws: LayoutError.dwarf(.cannotOpen(path: "/nonexistent", errno: ENOENT))) {
            try RuntimeLayout.fromDWARF(path: "/nonexistent", release: "1.21")
        }
    }
}

// MARK: - Building the probe

/// The probe builder (GospyTestSupport) plus the skip condition, which needs Testing.
enum LayoutProbe {
    static func goroot(_ release: String) -> String { GoProbe.goroot(release) }

    /// Runs a test only when Go `release`'s toolchain is installed; otherwise it is reported as
    /// skipped, naming the toolchain.
    static func toolchain(_ release: String) -> ConditionTrait {
        .enabled(if: GoProbe.isInstalled(release), "needs the Go \(release) toolchain at \(goroot(release))")
    }

    static func binary(release: String, stripped: Bool = false) throws -> String {
        try GoProbe.binary(release: release, stripped: stripped)
    }
}
