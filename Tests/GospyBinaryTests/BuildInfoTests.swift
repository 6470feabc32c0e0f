import GospyRuntime
import Testing
import GospyTestSupport
@testable import GospyBinary
@testable import GospyMemory

@Suite struct BuildInfoTests {
    static func blob(version: String, modinfo: String) -> [UInt8] {
        var bytes = BuildInfo.magic + [8, 2] + [UInt8](repeating: 0, count: 16)
        bytes += PclntabBuilder.uvarint(UInt64(version.utf8.count)) + Array(version.utf8)
        let wrapped = [UInt8](repeating: 0x30, count: 16) + Array(modinfo.utf8) + [UInt8](repeating: 0x31, count: 16)
        bytes += PclntabBuilder.uvarint(UInt64(wrapped.count)) + wrapped
        return bytes
    }

    @Test func parsesInlineStringFormat() throws {
        let modinfo = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\nbuild\t-trimpath=true\nbuild\tCGO_ENABLED=1\n"
        let reader = BufferMemoryReader(address: 0x1000, bytes: Self.blob(version: "go1.22.10", modinfo: modinfo))
        let info = try BuildInfo.parse(at: 0x1000, reader: reader, path: "x")
        #expect(info.goVersion == "go1.22.10")
        #expect(info.mainPath == "example.com/app")
        #expect(info.setting("-trimpath") == "true")
        #expect(info.setting("CGO_ENABLED") == "1")
    }

    @Test func parsesPointerFormat() throws {
        // Pre-1.18: pointers to string headers.
        var reader = BufferMemoryReader(address: 0x1000, bytes: BuildInfo.magic + [8, 0] + le64(0x2000) + le64(0x2010))
        reader.add(address: 0x2000, bytes: le64(0x3000) + le64(8) + le64(0) + le64(0))
        reader.add(address: 0x3000, bytes: Array("go1.16.3".utf8))
        let info = try BuildInfo.parse(at: 0x1000, reader: reader, path: "x")
        #expect(info.goVersion == "go1.16.3")
    }

    @Test func rejectsDamage() {
        var bad = Self.blob(version: "go1.22.10", modinfo: "")
        bad[3] = 0
        #expect(throws: BinaryError.self) { try BuildInfo.parse(at: 0, reader: BufferMemoryReader(address: 0, bytes: bad), path: "x") }
        let cut = Array(Self.blob(version: "go1.22.10", modinfo: "").prefix(36))
        #expect(throws: BinaryError.self) { try BuildInfo.parse(at: 0, reader: BufferMemoryReader(address: 0, bytes: cut), path: "x") }
        var huge = Self.blob(version: "go1.22.10", modinfo: "")
        huge.replaceSubrange(32..<33, with: [0xff, 0xff, 0xff, 0xff, 0x0f])
        #expect(throws: BinaryError.self) { try BuildInfo.parse(at: 0, reader: BufferMemoryReader(address: 0, bytes: huge), path: "x") }
    }

    @Test func parsesVersions() {
        #expect(GoVersion(parsing: "go1.21.13")?.release == "1.21")
        #expect(GoVersion(parsing: "go1.23rc1")?.minor == 23)
        #expect(GoVersion(parsing: "go1.24.0 X:nocoverageredesign")?.patch == 0)
        #expect(GoVersion(parsing: "devel go1.27-abcdef")?.release == "1.27")
        #expect(GoVersion(parsing: "1.21") == nil)
        #expect(GoVersion(parsing: "go1.20.5")?.isSupported == false)
        #expect(GoVersion(parsing: "go1.19.8")?.isSupported == true)
    }

    @Test func unsupportedVersionMessageListsTheSupportedReleasesAsRanges() {
        #expect(BinaryError.ranges(of: ["1.19", "1.21", "1.22", "1.23", "1.27", "1.28"]) == "1.19, 1.21–1.23, 1.27–1.28")
        #expect(BinaryError.ranges(of: ["1.21"]) == "1.21")
        let error = BinaryError.unsupportedGoVersion(path: "x", version: "go1.20.5", supported: ["1.19", "1.21", "1.22"])
        #expect(error.description == "x was built with go1.20.5, which gospy does not support (supported: Go 1.19, 1.21–1.22)")
    }
}

@Suite struct ModuleDataTests {
    @Test func findsCandidatesAndChecksPlausibility() throws {
        // The offsets of Go 1.21 to 1.26.
        let layout = ModuleData.Layout(
            pcHeader: 0x0, funcnametab: 0x8, pclntable: 0x68, minpc: 0xa0, maxpc: 0xa8, text: 0xb0, etext: 0xb8,
            noptrdata: 0xc0, enoptrdata: 0xc8, data: 0xd0, edata: 0xd8, bss: 0xe0, ebss: 0xe8,
            noptrbss: 0xf0, enoptrbss: 0xf8, gofunc: 0x140)
        #expect(try RuntimeLayout.builtin(release: "1.21")?.moduledata == layout)
        var words = [UInt64](repeating: 0, count: 0x150 / 8)
        words[0] = 0x50_0000            // pcHeader
        words[1] = 0x50_0048            // funcnametab
        words[0x68 / 8 + 1] = 0x1000    // pclntable.len
        words[0xa0 / 8] = 0x401000      // minpc
        words[0xa8 / 8] = 0x402000      // maxpc
        words[0xb0 / 8] = 0x401000      // text
        words[0xb8 / 8] = 0x402000      // etext
        words[0x140 / 8] = 0x60_0000    // gofunc
        let bytes = [UInt8](repeating: 0xee, count: 24) + words.flatMap(le64)
        let view = ByteView(bytes: bytes, baseAddress: 0x70_0000)
        let found = ModuleData.candidates(in: view, pclntab: 0x50_0000, funcnametab: 0x50_0048)
        #expect(found == [0x70_0018])
        let md = try ModuleData.read(at: 0x70_0018, layout: layout, reader: BufferMemoryReader(address: 0x70_0000, bytes: bytes))
        #expect(md.isPlausible)
        #expect(md.text == 0x401000 && md.gofunc == 0x60_0000 && md.pclntableLength == 0x1000)
    }
}
