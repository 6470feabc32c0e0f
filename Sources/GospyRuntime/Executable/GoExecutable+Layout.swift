import GospyBinary

extension RuntimeLayout {
    /// The struct layouts for an analysed executable: its DWARF when it has readable DWARF,
    /// else the built-in table for its release (damaged DWARF should not stop an inspection
    /// the tables can serve).
    public static func forExecutable(_ executable: GoExecutable) throws(LayoutError) -> RuntimeLayout {
        let release = executable.version.release
        if executable.elf.hasDWARF {
            do {
                return try forBinary(path: executable.path, release: release)
            } catch .dwarf {
                // Fall through to the table.
            }
        }
        guard let table = builtin(release: release) else { throw .unsupportedRelease(release) }
        return table
    }
}
