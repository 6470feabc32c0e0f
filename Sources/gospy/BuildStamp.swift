import GospyBinary
import GospyRuntime

/// What `gospy --version` says about this build. scripts/package.sh builds with
/// `-DGOSPY_PACKAGED` and generates Generated/PackagedBuild.swift (commit, date); any other
/// build is a development build and says so rather than guess.
enum BuildStamp {
    /// gospy's own version, raised by hand at a release.
    static let version = "0.1.0"

    #if GOSPY_PACKAGED
    static let commit: String? = PackagedBuild.commit
    static let date: String? = PackagedBuild.date
    #else
    static let commit: String? = nil
    static let date: String? = nil
    #endif

    /// The text of `gospy --version`.
    static var text: String {
        let build = if let commit, let date {
            "commit \(commit), built \(date)"
        } else {
            "development build (commit and date unknown: scripts/package.sh stamps them)"
        }
        return """
            gospy \(version)
            \(build)
            Go releases: \(GoVersion.supportedRanges) (newer ones only with DWARF, with a warning)
            """
    }
}
