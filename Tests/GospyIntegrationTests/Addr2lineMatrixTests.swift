import Foundation
import GospyRuntime
import Testing

/// `gospy addr2line` against each toolchain's `go tool addr2line`, on every version x build mode.
@Suite struct Addr2lineMatrixTests {
    @Test func matrixIsBuilt() {
        TestTargets.requireMatrix()
        #expect(TestTargets.matrix.count == 48, "expected 8 releases x 6 modes, manifest has \(TestTargets.matrix.count)")
    }

    /// The binary whose symbols and text let `go tool addr2line` answer for `binary`: itself,
    /// except stripped external-link PIEs, which go tool cannot read; their unstripped twin
    /// (same flags without -s -w) has the same text.
    static func oracleBinary(for binary: TargetBinary) -> TargetBinary? {
        binary.mode == "distro" ? TestTargets.binary(release: binary.release, mode: "distro-unstripped") : binary
    }

    @Test(arguments: TestTargets.matrix)
    func agreesWithGoToolAddr2line(binary: TargetBinary) throws {
        let executable = try GoExecutable(path: binary.path)
        let sample = SampledPCs.sample(executable)
        #expect(sample.all.count >= 1000)
        #expect(sample.inlined >= 100, "too few inlined PCs sampled")
        #expect(sample.calls >= 300)
        let input = sample.all.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"

        let oracle = try #require(Self.oracleBinary(for: binary), "no oracle build for \(binary.testDescription)")
        if oracle.path != binary.path {
            // Same text, or the comparison means nothing.
            let twin = try GoExecutable(path: oracle.path)
            #expect(twin.moduleData.text == executable.moduleData.text)
            #expect(twin.pclntab.functionCount == executable.pclntab.functionCount)
        }
        // That release's own tool first; Go 1.19's cannot find the pclntab of an external-link
        // PIE, and there the newest tool (which reads every format since 1.18) answers.
        var expected = try Subprocess.run(TestTargets.toolchain(release: binary.release), ["tool", "addr2line", oracle.path], input: input)
        var oracleTool = binary.release
        if expected.stdout.split(separator: "\n").allSatisfy({ $0 == "?" || $0 == "?:0" }) {
            expected = try Subprocess.run(TestTargets.toolchain(release: TestTargets.newestRelease), ["tool", "addr2line", oracle.path], input: input)
            oracleTool = TestTargets.newestRelease
        }
        #expect(expected.status == 0, "go\(oracleTool) tool addr2line failed: \(expected.stderr)")
        let actual = try Subprocess.run(Subprocess.gospy, ["addr2line", "--bin", binary.path], input: input)
        #expect(actual.status == 0, "gospy failed: \(actual.stderr)")

        let want = expected.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let got = actual.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(want.count == got.count)
        #expect(!want.allSatisfy { $0 == "?" || $0 == "?:0" || $0.isEmpty }, "oracle answered nothing")
        var mismatches: [String] = []
        for (index, pc) in sample.all.enumerated() where 2 * index + 1 < min(want.count, got.count) {
            let a = want[(2 * index)...(2 * index + 1)]
            let b = got[(2 * index)...(2 * index + 1)]
            if !a.elementsEqual(b) {
                mismatches.append("0x\(String(pc, radix: 16)): go\(oracleTool) \(a.joined(separator: " ")) | gospy \(b.joined(separator: " "))")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(sample.all.count) differ, e.g. \(mismatches.prefix(3))")
    }
}
