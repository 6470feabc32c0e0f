import Foundation
import Testing

/// A Go release newer than gospy knows, faked by rewriting the newest release's version in a
/// test target's build information: read through DWARF with one warning, or refused (exit 5,
/// naming the newest supported release) when the binary has no DWARF.
@Suite struct NewerReleaseLiveTests {
    static let exitUnsupported: Int32 = 5
    static let newest = TestTargets.newestRelease

    /// A copy of `binary` claiming the release after the newest: every copy of its exact
    /// version string that follows its varint length (the build information's) rewritten, same
    /// length ("go1.27.3" -> "go1.28.3"). Returns the copy's path and the version it claims.
    static func claimingNextRelease(_ binary: TargetBinary, name: String) throws -> (path: String, version: String) {
        let parts = newest.split(separator: ".").compactMap { Int($0) }
        let next = "go\(parts[0]).\(parts[1] + 1)"
        let original = binary.goVersion
        let claimed = next + original.dropFirst("go\(newest)".count)
        try #require(original.hasPrefix("go\(newest)") && claimed.utf8.count == original.utf8.count,
                     "\(original) cannot be rewritten as \(claimed) in place")
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: binary.path)))
        let needle = Array(original.utf8)
        var replaced = 0
        var start = 1
        while start + needle.count <= data.count {
            if data[start] == needle[0], data[start - 1] == UInt8(needle.count),
               data[start..<(start + needle.count)].elementsEqual(needle) {
                data.replaceSubrange(start..<(start + needle.count), with: Array(claimed.utf8))
                replaced += 1
            }
            start += 1
        }
        try #require(replaced >= 1, "no build information version in \(binary.path)")
        let directory = NSTemporaryDirectory() + "gospy-newer-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        try Data(data).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
        return (path, claimed)
    }

    @Test func withDWARFItIsReadWithOneWarning() throws {
        let binary = try #require(TestTargets.binary(release: Self.newest, mode: "plain"), "no test targets: run scripts/build-targets.sh")
        let (path, claimed) = try Self.claimingNextRelease(binary, name: "newer-plain")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let warning = "gospy: warning: \(path) was built with \(claimed), newer than gospy knows (newest: Go \(Self.newest)): "
            + "reading its runtime structs from its DWARF; if the output looks wrong, upgrade gospy\n"

        let info = try Subprocess.run(Subprocess.gospy, ["info", "--bin", path])
        #expect(info.status == 0, "info: exit \(info.status), \(info.stderr)")
        #expect(info.stderr == warning)
        #expect(info.stdout.contains(claimed))
        #expect(info.stdout.contains("DWARF"), "layouts come from DWARF: \(info.stdout)")

        // Live: the goroutines are the ones the target's runtime lists.
        let fake = TargetBinary(release: binary.release, mode: binary.mode, goVersion: claimed, path: path)
        let target = try RunningTarget(fake)
        defer { target.stop() }
        let summary = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid), "--json"])
        #expect(summary.status == 0, "summary: exit \(summary.status), \(summary.stderr)")
        #expect(summary.stderr == warning.replacingOccurrences(of: path, with: "/proc/\(target.pid)/exe"))
        let report = try JSONDecoder().decode(SummaryJSON.self, from: Data(summary.stdout.utf8))
        let dump = try target.ownDump()
        #expect(report.goVersion == claimed)
        #expect(Set(report.goroutines.map(\.id)) == Set(dump.goroutines.map(\.id)))
        #expect(!ProcessState.anyStopped(target.pid), "target left stopped")
    }

    @Test func withoutDWARFItIsRefusedNamingTheNewestSupportedRelease() throws {
        let binary = try #require(TestTargets.binary(release: Self.newest, mode: "distro"), "no test targets: run scripts/build-targets.sh")
        let (path, claimed) = try Self.claimingNextRelease(binary, name: "newer-distro")
        defer { try? FileManager.default.removeItem(atPath: path) }
        for arguments in [["info", "--bin", path], ["addr2line", "--bin", path, "0x401000"]] {
            let result = try Subprocess.run(Subprocess.gospy, arguments)
            #expect(result.status == Self.exitUnsupported, "\(arguments[0]): exit \(result.status), \(result.stderr)")
            #expect(result.stderr == "gospy: \(path) was built with \(claimed), newer than the newest release gospy supports "
                + "(Go \(Self.newest)), and has no DWARF to read its runtime structs from: upgrade gospy\n")
            #expect(result.stdout.isEmpty)
        }
    }
}
