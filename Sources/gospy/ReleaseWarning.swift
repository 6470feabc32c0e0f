import GospyRuntime

/// The one warning gospy prints when it reads a Go release newer than it knows (through the
/// binary's DWARF): on stderr, so output formats stay clean.
enum ReleaseWarning {
    static func print(for executable: GoExecutable) {
        if let warning = executable.newerReleaseWarning {
            Output.error("gospy: warning: \(warning)\n")
        }
    }
}
