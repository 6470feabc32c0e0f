import Foundation
import GospyBinary
import GospyMemory
import GospyRuntime

/// Seed corpora taken from a real TestTargets build, in each target's input format.
public enum Seeds {
    /// Per target, named seeds from `binary` (snapshot seeds need only a few mutation lists).
    public static func make(binary: String) throws -> [FuzzTarget: [(name: String, bytes: [UInt8])]] {
        let executable = try GoExecutable(path: binary)
        let table = executable.pclntab
        let image = executable.image
        var seeds: [FuzzTarget: [(name: String, bytes: [UInt8])]] = [:]
        seeds[.executable] = [("binary", Array(try Data(contentsOf: URL(fileURLWithPath: binary))))]
        if let section = executable.elf.section(named: ".go.buildinfo") {
            seeds[.buildinfo] = [("buildinfo", Array(try executable.elf.contents(of: section).bytes.prefix(4096)))]
        }
        let (tableBytes, gofunc) = try pclntabBytes(of: executable)
        var pclntab = InputWriter()
        pclntab.u64(table.textStart)
        pclntab.u32(UInt32(gofunc.count))
        pclntab.append(gofunc)
        pclntab.append(tableBytes)
        if !tableBytes.isEmpty { seeds[.pclntab] = [("table", pclntab.bytes)] }
        // moduledata in its surroundings.
        let md = executable.moduleData
        if let region = try? image.fetchBytes(from: md.address &- 256, count: 1024),
           let release = RuntimeLayout.builtinReleases.firstIndex(of: executable.version.release) {
            var input = InputWriter()
            input.u64(md.pcHeader)
            input.u32(UInt32(truncatingIfNeeded: md.funcnametab &- md.pcHeader))
            input.u8(UInt8(release))
            input.append(region)
            seeds[.moduledata] = [("moduledata", input.bytes)]
        }
        let functions = ["runtime.allgadd", "runtime.mcommoninit", "runtime.retake", "runtime.procresize",
                         "runtime.newproc1", "runtime.gopark", "runtime.schedule", "main.main"]
        for (index, name) in functions.enumerated() {
            guard let function = table.function(named: name), function.end > function.entry,
                  let code = try? image.fetchBytes(from: function.entry, count: Int(min(function.end - function.entry, 1 << 16)))
            else { continue }
            seeds[.x86, default: []].append((name, code))
            if index < 4 { seeds[.globals, default: []].append((name, [UInt8(index)] + code)) }
            if let info = table.funcdataAddress(Pclntab.funcdataArgInfo, of: function),
               let bytes = try? image.fetchBytes(from: info, count: 16) {
                seeds[.arginfo, default: []].append((name, [0xff, 0xff] + bytes))
            }
        }
        // No mutation, and one of each kind.
        seeds[.snapshot] = [("none", [])] + MutableImage.AreaKind.allCases.map { kind in
            var input = InputWriter()
            input.u8(UInt8(kind.rawValue) | 3 << 2)
            input.u32(1)
            input.u32(8)
            input.u64(0xffff_ffff_ffff_fff0)
            return ("\(kind)", input.bytes)
        }
        seeds[.sockdiag] = SockDiagTarget.seeds()
        if let maps = StackMapsTarget.Table(executable: executable) { seeds[.stackmaps] = StackMapsTarget.seeds(maps) }
        return seeds
    }

    /// The executable's pclntab and its gofunc data (up to 1 MB of it).
    static func pclntabBytes(of executable: GoExecutable) throws -> (table: [UInt8], gofunc: [UInt8]) {
        let tableSection = executable.elf.section(named: ".gopclntab") ?? executable.elf.section(named: ".data.rel.ro.gopclntab")
        let tableBytes = try tableSection.map { try executable.elf.contents(of: $0).bytes } ?? []
        var gofunc: [UInt8] = []
        if let address = executable.pclntab.gofunc {
            var size = 1 << 20
            while size >= 4096, (try? executable.image.fetchBytes(from: address, count: size)) == nil { size /= 2 }
            gofunc = (try? executable.image.fetchBytes(from: address, count: size)) ?? []
        }
        return (tableBytes, gofunc)
    }

    /// Writes `make(binary:)` into DIR/TARGET/NAME.
    public static func write(binary: String, to directory: String) throws {
        for (target, list) in try make(binary: binary) {
            let folder = directory + "/" + target.rawValue
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for seed in list {
                try Data(seed.bytes).write(to: URL(fileURLWithPath: folder + "/seed-" + seed.name))
            }
        }
    }
}
