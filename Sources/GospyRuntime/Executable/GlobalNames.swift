import GospyBinary

/// Names addresses inside global variables from the ELF symbol table (none in a stripped
/// binary): "main.registryMu", or "main.config+0x18" inside one.
public struct GlobalNames: Sendable {
    struct Variable: Sendable {
        let start: UInt64
        let size: UInt64
        let name: String
    }

    /// Data objects sorted by address.
    private let variables: [Variable]
    private let loadBias: UInt64

    public init(executable: GoExecutable, loadBias: UInt64) {
        let objectType: UInt8 = 1  // STT_OBJECT
        variables = executable.elf.symbols.values
            .filter { ($0.type & 0xf) == objectType && $0.size > 0 && $0.value != 0 }
            .map { Variable(start: $0.value, size: $0.size, name: $0.name) }
            .sorted { $0.start < $1.start }
        self.loadBias = loadBias
    }

    public var isEmpty: Bool { variables.isEmpty }

    /// The variable holding the process address `address`, nil when none does.
    public func name(of address: UInt64) -> String? {
        guard address >= loadBias else { return nil }
        let link = address - loadBias
        // The last variable starting at or below the address.
        var low = 0, high = variables.count
        while low < high {
            let middle = (low + high) / 2
            if variables[middle].start <= link { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let variable = variables[low - 1]
        let offset = link - variable.start
        guard offset < variable.size else { return nil }
        return offset == 0 ? variable.name : "\(variable.name)+0x\(String(offset, radix: 16))"
    }
}
