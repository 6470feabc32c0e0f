import GospyBinary

/// How an executable was built, as far as the binary shows it.
public struct BuildDescription: Sendable, Equatable {
    public let positionIndependent: Bool
    public let hasSymbolTable: Bool
    public let hasDWARF: Bool
    /// The runtime's text starts after other code in .text: an external linker put C code first.
    public let externallyLinked: Bool
    public let cgoEnabled: Bool?
    public let trimpath: Bool
    public let interpreter: String?

    public var stripped: Bool { !hasSymbolTable && !hasDWARF }

    public init(_ executable: GoExecutable) {
        let elf = executable.elf
        positionIndependent = elf.isPositionIndependent
        hasSymbolTable = elf.hasSymbolTable
        hasDWARF = elf.hasDWARF
        interpreter = elf.interpreter
        if let text = elf.section(named: ".text") {
            externallyLinked = executable.moduleData.text > text.address
        } else {
            externallyLinked = executable.buildInfo.setting("-ldflags")?.contains("linkmode=external") ?? false
        }
        cgoEnabled = executable.buildInfo.setting("CGO_ENABLED").map { $0 == "1" }
        trimpath = executable.buildInfo.setting("-trimpath") == "true"
    }
}
