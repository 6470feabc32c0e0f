@testable import GospyBinary
import GospyRuntime
import GospyTestSupport

/// PCs worth checking in a binary: function entries, call sites (return addresses and the
/// address before them, which tracebacks symbolise), code inlined from other functions, and
/// arbitrary addresses in text.
enum SampledPCs {
    static func sample(_ executable: GoExecutable, seed: UInt64 = 0x60_5b1d) -> (all: [UInt64], inlined: Int, calls: Int) {
        var generator = SeededGenerator(seed: seed)
        let table = executable.pclntab
        var pcs: [UInt64] = []
        var inlinedCount = 0
        var callCount = 0
        let indices = Array(0..<table.functionCount).shuffled(using: &generator)
        for index in indices.prefix(400) {
            if let entry = try? table.entry(ofFunctionAt: index) { pcs.append(entry) }
        }
        // Call sites and inlined code, from decoded functions until both have enough.
        for index in indices where callCount < 400 || inlinedCount < 300 {
            guard let function = try? table.function(at: index), function.end > function.entry,
                  function.end - function.entry < 1 << 16,
                  let code = try? executable.image.fetchBytes(from: function.entry, count: Int(function.end - function.entry))
            else { continue }
            let inlineTable = table.pcdataTable(Pclntab.pcdataInlTreeIndex, of: function)
            for instruction in X86Decoder.decode(code, at: function.entry).instructions {
                if instruction.isCall, callCount < 400 {
                    pcs.append(instruction.nextAddress)
                    pcs.append(instruction.nextAddress - 1)
                    callCount += 1
                }
                if let inlineTable, inlinedCount < 300,
                   let inlineIndex = table.pcvalue(tableOffset: inlineTable, function: function, pc: instruction.address),
                   inlineIndex >= 0 {
                    pcs.append(instruction.address)
                    inlinedCount += 1
                }
            }
        }
        let start = executable.moduleData.text
        let span = max(1, executable.moduleData.etext - start)
        for _ in 0..<200 { pcs.append(start + UInt64.random(in: 0..<span, using: &generator)) }
        var seen = Set<UInt64>()
        return (pcs.filter { seen.insert($0).inserted }, inlinedCount, callCount)
    }
}
