import Foundation
import Testing
import GospyTestSupport

/// Bad input gets one line naming the problem and a distinct exit code; never a trap.
@Suite struct BadInputTests {
    static let exitBadBinary: Int32 = 9
    static let exitNotGo: Int32 = 4
    static let exitUnsupported: Int32 = 5

    static var sample: TargetBinary? { TestTargets.binary(release: "1.22", mode: "plain") }

    func scratchCopy(_ bytes: [UInt8], _ name: String) throws -> String {
        let directory = NSTemporaryDirectory() + "gospy-badinput-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs `gospy info` and `gospy addr2line` on `path`; both must fail the same clean way.
    func expectCleanFailure(_ path: String, status: Int32, mentions: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        for arguments in [["info", "--bin", path], ["addr2line", "--bin", path, "0x401000"]] {
            let result = try Subprocess.run(Subprocess.gospy, arguments)
            #expect(result.status == status, "\(arguments[0]): exit \(result.status), stderr \(result.stderr)", sourceLocation: sourceLocation)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments[0]): stderr \(result.stderr.debugDescription)", sourceLocation: sourceLocation)
            #expect(result.stderr.hasPrefix("gospy: "), sourceLocation: sourceLocation)
            #expect(result.stderr.contains(mentions), "\(arguments[0]): \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        }
    }

    @Test func notAnELFFile() throws {
        let path = try scratchCopy(Array("#!/bin/sh\necho hello\n".utf8), "script.sh")
        try expectCleanFailure(path, status: Self.exitBadBinary, mentions: "not an ELF")
    }

    @Test func emptyFile() throws {
        try expectCleanFailure(try scratchCopy([], "empty"), status: Self.exitBadBinary, mentions: "not an ELF")
    }

    @Test func missingFile() throws {
        try expectCleanFailure("/nonexistent/gospy-test", status: Self.exitBadBinary, mentions: "cannot open")
    }

    @Test func nonGoELF() throws {
        try expectCleanFailure("/bin/ls", status: Self.exitNotGo, mentions: "not a Go program")
    }

    @Test(arguments: [0.1, 0.5, 0.9, 0.999])
    func truncatedBinary(fraction: Double) throws {
        let binary = try #require(Self.sample)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: binary.path)))
        let cut = Array(bytes.prefix(Int(Double(bytes.count) * fraction)))
        try expectCleanFailure(try scratchCopy(cut, "truncated-\(fraction)"), status: Self.exitBadBinary, mentions: "truncated")
    }

    /// Overwrites `count` bytes at the start of a section of a copy of the sample binary.
    func corrupt(section: String, at offset: Int = 0, with bytes: [UInt8], name: String) throws -> String {
        let binary = try #require(Self.sample)
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: binary.path)))
        let headers = try Subprocess.run("/usr/bin/readelf", ["-SW", binary.path]).stdout
        let line = try #require(headers.split(separator: "\n").first { $0.contains(" \(section) ") })
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        let nameIndex = try #require(fields.firstIndex { $0 == section })
        let fileOffset = try #require(Int(fields[nameIndex + 3], radix: 16))
        for (k, byte) in bytes.enumerated() { data[fileOffset + offset + k] = byte }
        return try scratchCopy(data, name)
    }

    @Test func corruptBuildInfoMagic() throws {
        let path = try corrupt(section: ".go.buildinfo", with: Array("XXXX".utf8), name: "bad-buildinfo")
        try expectCleanFailure(path, status: Self.exitBadBinary, mentions: "build information is damaged")
    }

    @Test func corruptPclntabHeader() throws {
        let path = try corrupt(section: ".gopclntab", with: [0x12, 0x34, 0x56, 0x78], name: "bad-pclntab-magic")
        try expectCleanFailure(path, status: Self.exitBadBinary, mentions: "pclntab is damaged")
    }

    @Test func corruptPclntabCounts() throws {
        // nfunc (offset 8) set to a huge value.
        let path = try corrupt(section: ".gopclntab", at: 8, with: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0], name: "bad-pclntab-nfunc")
        try expectCleanFailure(path, status: Self.exitBadBinary, mentions: "pclntab is damaged")
    }

    /// Unknown older releases (a newer one is NewerReleaseLiveTests'): refused, DWARF or not.
    @Test(arguments: ["go1.17", "go1.20"])
    func unsupportedGoVersion(version: String) throws {
        // Same-length replacement of the version inside .go.buildinfo ("go1.22" -> version).
        let binary = try #require(Self.sample)
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: binary.path)))
        let needle = Array("go1.22.10".utf8)
        let replacement = Array((version + ".10").utf8)
        var replaced = 0
        for start in 0..<(data.count - needle.count) where data[start] == needle[0] && Array(data[start..<(start + needle.count)]) == needle {
            // Only the buildinfo copy follows a varint length byte equal to its size.
            if start > 0, data[start - 1] == UInt8(needle.count) {
                data.replaceSubrange(start..<(start + needle.count), with: replacement)
                replaced += 1
            }
        }
        #expect(replaced >= 1)
        let path = try scratchCopy(data, "version-\(version)")
        try expectCleanFailure(path, status: Self.exitUnsupported, mentions: "\(version).10, which gospy does not support")
    }

    /// layouts fails the way every command does: one "gospy:" line and gospy's exit code.
    @Test(arguments: [
        (["layouts", "--bin", "/bin/ls"], Self.exitNotGo, "no DWARF and no Go build information"),
        (["layouts", "--bin", "/bin/ls", "--struct", "runtime.g"], Self.exitBadBinary, "no DWARF debug information"),
        (["layouts", "--bin", "/nonexistent/gospy-test"], Self.exitBadBinary, "cannot open"),
        (["layouts", "--release", "1.17"], Self.exitUnsupported, "no built-in runtime layout for Go 1.17"),
    ])
    func layoutsFailsLikeEveryCommand(arguments: [String], status: Int32, mentions: String) throws {
        let result = try Subprocess.run(Subprocess.gospy, arguments)
        #expect(result.status == status, "exit \(result.status), stderr \(result.stderr)")
        #expect(result.stderr.hasPrefix("gospy: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr.debugDescription)")
        #expect(result.stderr.contains(mentions), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    /// The command line is ArgumentParser's: usage errors exit 64 with its message, help exits 0.
    @Test func usageErrorsAndHelpKeepArgumentParsersCodes() throws {
        let missing = try Subprocess.run(Subprocess.gospy, ["summary"])
        #expect(missing.status == 64)
        #expect(missing.stderr.hasPrefix("Error: Missing expected argument '--pid <pid>'"), "\(missing.stderr)")
        let invalid = try Subprocess.run(Subprocess.gospy, ["layouts"])
        #expect(invalid.status == 64)
        #expect(invalid.stderr.hasPrefix("Error: give --bin PATH, or --release R"), "\(invalid.stderr)")
        for arguments in [[], ["--help"], ["help", "dump"], ["dump", "--help"]] {
            let help = try Subprocess.run(Subprocess.gospy, arguments)
            #expect(help.status == 0, "\(arguments): exit \(help.status), stderr \(help.stderr)")
            #expect(help.stdout.contains("USAGE: gospy"), "\(arguments): \(help.stdout.prefix(200))")
        }
    }

    /// Random damage anywhere in the pclntab or data: any outcome but a crash.
    @Test func randomDamageNeverTraps() throws {
        let binary = try #require(Self.sample)
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: binary.path)))
        var generator = SeededGenerator(seed: 42)
        for round in 0..<40 {
            var data = original
            for _ in 0..<64 {
                let index = Int.random(in: 0..<data.count, using: &generator)
                data[index] = UInt8.random(in: 0...255, using: &generator)
            }
            let path = try scratchCopy(data, "damaged-\(round)")
            let pcs = (0..<50).map { _ in "0x" + String(UInt64.random(in: 0x401000..<0x500000, using: &generator), radix: 16) }
            for arguments in [["info", "--bin", path], ["addr2line", "--inline", "--bin", path] + pcs] {
                let result = try Subprocess.run(Subprocess.gospy, arguments)
                #expect([0, Self.exitBadBinary, Self.exitNotGo, Self.exitUnsupported].contains(result.status),
                        "round \(round) \(arguments[0]): exit \(result.status) \(result.stderr.prefix(300))")
            }
        }
    }
}
