import Foundation
@testable import GospyBinary
import GospyRuntime
import Testing

/// `gospy addr2line --inline` reproduces the inline chains the runtime itself prints: for each
/// physical frame of the target's own dump, the frames at pc-1 (as tracebacks symbolise return
/// addresses) equal the dump's run of inlined frames followed by that physical frame.
@Suite struct InlineChainTests {
    struct Chain {
        let pc: UInt64
        let expected: [GoroutineDump.Frame]
    }

    @Test(arguments: TestTargets.matrix)
    func inlineChainsMatchTheRuntimesDump(binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let dump = try target.ownDump()
        #expect(dump.goroutines.count > 20)

        let executable = try GoExecutable(path: binary.path)
        let table = executable.pclntab
        // Printed name -> entries (generic instantiations share a printed name).
        var entries: [String: [Pclntab.Function]] = [:]
        for (index, name) in table.functionNames() {
            if let function = try? table.function(at: index) {
                entries[GoroutineDump.printName(name), default: []].append(function)
            }
        }
        // The runtime prints text addresses as loaded; a PIE is loaded at a bias, but the
        // dump only prints offsets from entries, so link-time entries serve.
        var chains: [Chain] = []
        var ambiguous: [(GoroutineDump.Frame, [UInt64], [GoroutineDump.Frame])] = []
        for goroutine in dump.goroutines {
            var pending: [GoroutineDump.Frame] = []
            for (position, frame) in goroutine.frames.enumerated() {
                pending.append(frame)
                guard let offset = frame.offset else { continue }
                let candidates = (entries[frame.function] ?? []).filter { $0.entry &+ offset <= $0.end }
                // Return addresses are symbolised at pc-1. The innermost printed frame of a
                // running goroutine may sit under a hidden frame that decides between pc and
                // pc-1 (runtime.asyncPreempt is injected, a call is not): accept either there.
                let undecided = position == 0 && (goroutine.state == "running" || goroutine.state == "runnable")
                var pcs = candidates.map { $0.entry &+ offset &- (offset > 0 ? 1 : 0) }
                if undecided { pcs += candidates.map { $0.entry &+ offset } }
                if pcs.count == 1 {
                    chains.append(Chain(pc: pcs[0], expected: pending))
                } else {
                    ambiguous.append((frame, pcs, pending))
                }
                pending = []
            }
        }
        #expect(!chains.isEmpty)
        let inlinedChains = chains.filter { $0.expected.count > 1 }
        #expect(!inlinedChains.isEmpty, "the dump shows no inlined frames")

        let allPCs = chains.map(\.pc) + ambiguous.flatMap(\.1)
        let arguments = ["addr2line", "--inline", "--addresses", "--bin", binary.path] + allPCs.map { "0x" + String($0, radix: 16) }
        let result = try Subprocess.run(Subprocess.gospy, arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let answers = Self.parseInlineOutput(result.stdout)

        for chain in chains {
            let got = (answers[chain.pc] ?? []).filter(Self.runtimeShows)
            let want = chain.expected.map { "\($0.function) \($0.file):\($0.line)" }
            #expect(got == want, "0x\(String(chain.pc, radix: 16))")
        }
        // A generic frame whose printed name fits several instantiations must match one of them.
        for (frame, pcs, pending) in ambiguous {
            let want = pending.map { "\($0.function) \($0.file):\($0.line)" }
            #expect(pcs.contains { (answers[$0] ?? []).filter(Self.runtimeShows) == want }, "\(frame.function)+0x\(String(frame.offset ?? 0, radix: 16)): no candidate gives \(want)")
        }
    }

    /// Whether a traceback shows this frame ("name file:line") by default: the runtime hides
    /// unexported runtime.* functions (runtime.showfuncinfo).
    static func runtimeShows(_ frame: String) -> Bool {
        let name = frame.prefix { $0 != " " }
        guard name.hasPrefix("runtime.") else { return true }
        let rest = name.dropFirst("runtime.".count)
        return rest.first.map { $0.isUppercase } ?? false
    }

    /// `addr2line --inline --addresses` output: per address, frames as "printed-name file:line".
    static func parseInlineOutput(_ text: String) -> [UInt64: [String]] {
        var result: [UInt64: [String]] = [:]
        var current: UInt64?
        let lines = text.split(separator: "\n").map(String.init)
        var index = 0
        while index < lines.count {
            if lines[index].hasPrefix("0x"), let pc = UInt64(lines[index].dropFirst(2), radix: 16) {
                current = pc
                result[pc] = []
                index += 1
                continue
            }
            guard let pc = current, index + 1 < lines.count else { break }
            result[pc, default: []].append("\(GoroutineDump.printName(lines[index])) \(lines[index + 1])")
            index += 2
        }
        return result
    }
}
