import Foundation
import GospyFuzzTargets
import GospyMemory
import Testing

/// Every input a fuzz target crashed on (Regressions/TARGET/NAME, added with its fix) runs
/// through its target again: the test process itself would die on a regression.
@Suite struct RegressionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions").path

    static var inputs: [String] {
        FuzzTarget.allCases.flatMap { target in
            ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + target.rawValue)) ?? [])
                .sorted().map { target.rawValue + "/" + $0 }
        }
    }

    /// The executable-backed targets' executable: GOSPY_FUZZ_BINARY, else the newest release's
    /// plain TestTargets build (the one scripts/fuzz.sh fuzzes with).
    static let environment: Environment? = {
        let variables = ProcessInfo.processInfo.environment
        let cache = variables["GOSPY_CACHE"] ?? NSHomeDirectory() + "/.cache/gospy"
        let manifest = (try? String(contentsOfFile: cache + "/targets/manifest.tsv", encoding: .utf8)) ?? ""
        let plain = manifest.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
            .last { $0.count >= 4 && $0[1] == "plain" }?[3]
        return (variables["GOSPY_FUZZ_BINARY"] ?? plain).flatMap { try? Environment(binary: $0, imagePath: nil) }
    }()

    @Test(arguments: inputs) func replays(_ input: String) throws {
        let target = try #require(FuzzTarget(rawValue: String(input.split(separator: "/")[0])))
        let data = try #require(FileManager.default.contents(atPath: Self.directory + "/" + input))
        if target.needsEnvironment {
            let environment = try #require(Self.environment, "no TestTargets build to replay \(input) with: run scripts/build-targets.sh")
            target.run(Array(data), environment: environment)
        } else {
            target.run(Array(data))
        }
    }

    /// The byte-buffer targets over short and degenerate inputs (every target must survive them).
    @Test(arguments: [FuzzTarget.executable, .buildinfo, .pclntab, .moduledata, .x86, .arginfo, .sockdiag, .stackmaps])
    func degenerateInputs(_ target: FuzzTarget) throws {
        let environment = target.needsEnvironment ? try #require(Self.environment, "no TestTargets build: run scripts/build-targets.sh") : nil
        for input: [UInt8] in [[], [0], [0xff], Array(repeating: 0, count: 100), Array(repeating: 0xff, count: 100),
                               Array("\u{7f}ELF".utf8) + Array(repeating: 0xff, count: 60)] {
            target.run(input, environment: environment)
        }
    }

    /// Images round-trip through their file format; damaged image files are errors, not traps.
    @Test func memoryImageFormat() throws {
        let reader = BufferMemoryReader(regions: [.init(address: 0x1000, bytes: [1, 2, 3]), .init(address: 0x9000, bytes: [4])])
        let encoded = MemoryImage.encode(reader)
        let decoded = try MemoryImage.decode(encoded)
        #expect(decoded.regions.map(\.address) == [0x1000, 0x9000])
        #expect(decoded.regions.map(\.bytes) == [[1, 2, 3], [4]])
        for cut in 0..<encoded.count { #expect(throws: MemoryImage.FormatError.self) { try MemoryImage.decode(Array(encoded[..<cut])) } }
        var huge = encoded
        huge.replaceSubrange(8..<16, with: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        #expect(throws: MemoryImage.FormatError.self) { try MemoryImage.decode(huge) }
    }
}
