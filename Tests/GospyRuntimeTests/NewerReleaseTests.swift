import GospyBinary
import Testing
@testable import GospyRuntime

/// What gospy does with a Go release it has no tables for, without Go: versions faked.
@Suite struct NewerReleaseTests {
    static let newest = GoVersion.supportedReleases.last!
    /// The release after the newest gospy knows ("1.28" while 1.27 is the newest).
    static var next: String {
        let parts = newest.split(separator: ".").compactMap { Int($0) }
        return "\(parts[0]).\(parts[1] + 1)"
    }

    @Test func onlyReleasesAfterTheNewestCountAsNewer() throws {
        #expect(GoVersion.newestSupportedRelease == Self.newest)
        #expect(try #require(GoVersion(parsing: "go\(Self.next).0")).isNewerThanSupported)
        #expect(try #require(GoVersion(parsing: "go2.0")).isNewerThanSupported)
        #expect(try #require(GoVersion(parsing: "go\(Self.next)rc1")).isNewerThanSupported)
        // Known, unknown older and in-between releases are not "newer": those stay refused.
        for old in ["go\(Self.newest).3", "go1.20.5", "go1.17", "go1.0"] {
            #expect(try #require(GoVersion(parsing: old)).isNewerThanSupported == false, "\(old)")
        }
    }

    @Test func aNewerReleaseUsesTheNewestFuncIDNumbering() throws {
        let newestTable = try #require(FuncIDTable.forRelease(Self.newest))
        let guessed = try #require(FuncIDTable.forRelease(Self.next))
        #expect(guessed.values == newestTable.values)
        #expect(guessed.release == Self.newest, "the table says which release's numbering it is")
        #expect(FuncIDTable.forRelease("1.20") == nil)
        #expect(FuncIDTable.forRelease("1.17") == nil)
    }

    @Test func aNewerReleaseWithoutDWARFIsRefusedNamingTheNewestSupported() {
        let error = BinaryError.unsupportedGoVersion(
            path: "/srv/app", version: "go\(Self.next).1", supported: GoVersion.supportedReleases)
        #expect(error.description == "/srv/app was built with go\(Self.next).1, newer than the newest release gospy "
            + "supports (Go \(Self.newest)), and has no DWARF to read its runtime structs from: upgrade gospy")
        // An unknown older release keeps the list of supported ones.
        let older = BinaryError.unsupportedGoVersion(path: "/srv/app", version: "go1.20.5", supported: GoVersion.supportedReleases)
        #expect(older.description == "/srv/app was built with go1.20.5, which gospy does not support (supported: Go \(GoVersion.supportedRanges))")
    }

    @Test func theTablesStayRefusedForANewerRelease() {
        // Layout tables are never guessed: without DWARF a newer release has none.
        #expect(RuntimeLayout.builtin(release: Self.next) == nil)
    }
}
