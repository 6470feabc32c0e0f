import GospyBinary

extension RuntimeLayout {
    /// The struct layouts for an analysed executable: its DWARF when it has some, else the
    /// built-in table for its release.
    public static func forExecutable(_ executable: GoExecutable) throws(LayoutError) -> RuntimeLayout {
        if executable.elf.hasDWARF {
            return try forBinary(path: executable.path, release: executable.version.release)
        }
        guard let table = builtin(release: executable.version.release) else {
            throw .unsupportedRelease(executable.version.release)
        }
        return table
    }
}
