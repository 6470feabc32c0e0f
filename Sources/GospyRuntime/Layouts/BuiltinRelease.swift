/// What gospy knows about one Go release without the target's DWARF: the runtime struct layouts
/// it reads and the release's funcID numbering. The releases, and the tables that hold their
/// data (each distinct layout and numbering once, with the releases that have it), are
/// generated into Layouts/Generated/BuiltinReleases.swift by scripts/gen-layouts.sh from each
/// release's toolchain.
struct BuiltinRelease: Sendable {
    /// "1.27".
    let release: String
    /// The toolchain the data was generated from ("go1.27.3").
    let toolchain: String

    /// The structs and fields of `RuntimeLayout.wantedFields` this release has.
    var structs: [StructLayout] {
        Self.structLayouts.filter { $0.releases.contains(release) }.map(\.layout)
    }

    /// funcID numbers by name ("wrapper", "goexit", "runtime_main", ...).
    var funcIDs: [String: UInt8] {
        Self.funcIDNumberings.first { $0.releases.contains(release) }?.funcIDs ?? [:]
    }

    /// The built-in data for `release` ("1.21"), or nil when gospy has none.
    static func named(_ release: String) -> BuiltinRelease? { byRelease[release] }

    private static let byRelease: [String: BuiltinRelease] =
        Dictionary(uniqueKeysWithValues: all.map { ($0.release, $0) })
}
