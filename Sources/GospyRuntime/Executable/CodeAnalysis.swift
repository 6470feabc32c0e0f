import GospyBinary

/// Derives runtime globals from the machine code of runtime functions. Placeholder until the
/// x86 decoder lands.
struct CodeAnalysis {
    let executable: GoExecutable
    let layout: RuntimeLayout

    func derive(_ name: RuntimeGlobals.Name) throws -> (UInt64, String) {
        throw RuntimeGlobalsError.functionMissing("(code analysis not built yet)")
    }
}
