/// What gospy knows about one Go release without the target's DWARF: the runtime struct layouts
/// it reads and the release's funcID numbering. Every release's value, and the list of them, is
/// generated into Layouts/Generated/BuiltinReleases.swift by scripts/gen-layouts.sh from each
/// release's toolchain.
struct BuiltinRelease: Sendable {
    /// "1.27".
    let release: String
    /// The toolchain the data was generated from ("go1.27.3").
    let toolchain: String
    /// The structs and fields of `RuntimeLayout.wantedFields` this release has.
    let structs: [StructLayout]
    /// funcID numbers by name ("wrapper", "goexit", "runtime_main", ...).
    let funcIDs: [String: UInt8]

    /// The built-in data for `release` ("1.21"), or nil when gospy has none.
    static func named(_ release: String) -> BuiltinRelease? { byRelease[release] }

    private static let byRelease: [String: BuiltinRelease] =
        Dictionary(uniqueKeysWithValues: all.map { ($0.release, $0) })
}
