import GospyBinary

extension GoVersion {
    /// The releases gospy supports, by "major.minor", oldest first: those it has built-in
    /// runtime data for (Layouts/Generated, generated from scripts/go-releases.txt).
    public static var supportedReleases: [String] { RuntimeLayout.builtinReleases }

    /// Whether gospy has built-in runtime data for this version's release.
    public var isSupported: Bool { BuiltinRelease.named(release) != nil }
}
