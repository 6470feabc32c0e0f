import Foundation
import GospyRuntime
import Testing

/// Runtime globals derived without symbols must equal the symbols the linker wrote.
@Suite struct RuntimeGlobalsMatrixTests {
    static let unstripped = TestTargets.all.filter { !$0.isStripped }
    static let stripped = TestTargets.matrix.filter(\.isStripped)

    /// The build with the same source and flags but symbols kept.
    static func twin(of binary: TargetBinary) -> TargetBinary? {
        TestTargets.binary(release: binary.release, mode: binary.mode == "distro" ? "distro-unstripped" : "plain")
    }

    static func symbolAddresses(_ executable: GoExecutable) -> [RuntimeGlobals.Name: UInt64] {
        var result: [RuntimeGlobals.Name: UInt64] = [:]
        for name in RuntimeGlobals.Name.allCases {
            if let symbol = executable.elf.symbol(named: name.rawValue) { result[name] = symbol.value }
        }
        return result
    }

    /// Derivation with symbols ignored, on binaries that have them: exact comparison.
    @Test(arguments: unstripped)
    func derivedGlobalsEqualSymbols(binary: TargetBinary) throws {
        let executable = try GoExecutable(path: binary.path)
        let layout = try RuntimeLayout.forExecutable(executable)
        let symbols = Self.symbolAddresses(executable)
        #expect(symbols.count == RuntimeGlobals.Name.allCases.count, "unstripped build lacks symbols: \(symbols.keys)")
        let derived = RuntimeGlobals.locate(in: executable, layout: layout, useSymbols: false)
        for name in RuntimeGlobals.Name.allCases {
            #expect(derived[name] == symbols[name], "\(name.rawValue): derived \(derived[name].map { String($0, radix: 16) } ?? "nil") (\(derived.failures[name] ?? "")), symbol \(symbols[name].map { String($0, radix: 16) } ?? "nil")")
            if case .symbol? = derived.locations[name]?.source { Issue.record("\(name.rawValue) came from a symbol") }
        }
        let symbolCount = executable.elf.symbol(named: "runtime.waitReasonStrings").map { Int($0.size / 16) }
        #expect(derived.waitReasonCount == symbolCount)
    }

    /// On -s -w builds: equal to the unstripped twin's symbols. The twin's buildinfo records
    /// different -ldflags, which may shift every data section by the same amount; that shift
    /// is read from the section headers and must be the same for all of them.
    @Test(arguments: stripped)
    func strippedGlobalsEqualTwinSymbols(binary: TargetBinary) throws {
        let executable = try GoExecutable(path: binary.path)
        #expect(!executable.elf.hasSymbolTable)
        #expect(executable.buildInfo.goVersion == binary.goVersion)
        let twinBinary = try #require(Self.twin(of: binary), "no unstripped twin for \(binary.testDescription)")
        let twin = try GoExecutable(path: twinBinary.path)
        let dataSections = [".noptrdata", ".data", ".bss", ".noptrbss"]
        let shifts = Set(dataSections.compactMap { name -> UInt64? in
            guard let mine = executable.elf.section(named: name), let theirs = twin.elf.section(named: name) else { return nil }
            return mine.address &- theirs.address
        })
        #expect(shifts.count == 1, "data sections moved by different amounts: \(shifts)")
        let shift = shifts.first ?? 0

        let layout = try RuntimeLayout.forExecutable(executable)
        let derived = RuntimeGlobals.locate(in: executable, layout: layout)
        let symbols = Self.symbolAddresses(twin)
        for name in RuntimeGlobals.Name.allCases {
            let expected = symbols[name].map { $0 &+ shift }
            #expect(derived[name] != nil && derived[name] == expected,
                    "\(name.rawValue): derived \(derived[name].map { String($0, radix: 16) } ?? "nil") (\(derived.failures[name] ?? "")), twin symbol + shift \(expected.map { String($0, radix: 16) } ?? "nil")")
        }
    }
}
