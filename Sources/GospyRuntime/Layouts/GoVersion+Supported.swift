import GospyBinary

extension GoVersion {
    /// The releases gospy supports, by "major.minor", oldest first: those it has built-in
    /// runtime data for (Layouts/Generated, generated from scripts/go-releases.txt).
    public static var supportedReleases: [String] { RuntimeLayout.builtinReleases }

    /// The supported releases as people read them: "1.19, 1.21–1.27".
    public static var supportedRanges: String { BinaryError.ranges(of: supportedReleases) }

    /// The newest release gospy has built-in runtime data for ("1.27").
    public static var newestSupportedRelease: String { supportedReleases.last ?? "?" }

    /// Whether gospy has built-in runtime data for this version's release.
    public var isSupported: Bool { BuiltinRelease.named(release) != nil }

    /// Whether this release is newer than every release gospy knows: with DWARF, its struct
    /// layouts can still be read from the binary (see GoExecutable).
    public var isNewerThanSupported: Bool {
        let newest = Self.newestSupportedRelease.split(separator: ".").compactMap { Int($0) }
        guard newest.count == 2 else { return false }
        return (major, minor) > (newest[0], newest[1])
    }
}
