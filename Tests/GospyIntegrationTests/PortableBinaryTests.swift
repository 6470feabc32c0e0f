import Foundation
import Testing

/// The packaged gospy (scripts/package.sh: dist/gospy) needs glibc alone: its NEEDED entries
/// are glibc's, and it inspects a Go program inside a root filesystem that holds nothing but
/// glibc's loader and libraries, the two programs and /proc.
@Suite(.serialized) struct PortableBinaryTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var packaged: String { repository + "/dist/gospy" }

    /// The libraries of glibc: the only ones the packaged binary may need.
    static let glibcLibraries: Set<String> = [
        "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
        "ld-linux-x86-64.so.2",
    ]

    /// Builds dist/gospy unless it was built from these sources (scripts/test.sh has built it
    /// before `swift test`, so this is a hash check); the build uses its own scratch directory.
    static func packagedBinary() throws -> String {
        let result = try Subprocess.run(repository + "/scripts/package.sh", ["--binary-only"])
        try #require(result.status == 0, "scripts/package.sh failed: \(result.stderr)")
        return packaged
    }

    @Test func needsOnlyGlibc() throws {
        let binary = try Self.packagedBinary()
        let dynamic = try Subprocess.run("/usr/bin/readelf", ["-d", binary])
        #expect(dynamic.status == 0)
        let needed = dynamic.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap { line in
            line.split(separator: "[").last?.split(separator: "]").first.map(String.init)
        }
        #expect(!needed.isEmpty, "no NEEDED entries: \(dynamic.stdout)")
        #expect(Set(needed).isSubset(of: Self.glibcLibraries), "needs more than glibc: \(needed)")
        // Nothing of the Swift runtime, Foundation, elfutils or the compression libraries.
        #expect(!needed.contains { $0.hasPrefix("libswift") || $0.contains("Foundation") || $0.contains("ICU")
            || $0.hasPrefix("libdw") || $0.hasPrefix("libelf") || $0.hasPrefix("libz") || $0.hasPrefix("liblzma")
            || $0.hasPrefix("libbz2") || $0.hasPrefix("libstdc++") || $0.hasPrefix("libgcc_s") }, "\(needed)")
    }

    @Test(.enabled(if: getuid() == 0, "chroot and mounting /proc need root"))
    func inspectsAGoProgramInARootWithOnlyGlibc() throws {
        let binary = try Self.packagedBinary()
        // Stripped, PIE, cgo: the distro build needs libc itself.
        let target = try #require(TestTargets.binary(release: TestTargets.newestRelease, mode: "distro"),
                                  "no test targets: run scripts/build-targets.sh")
        let root = try Self.makeRoot(gospy: binary, target: target.path)
        defer {
            // Never while /proc is still mounted in it.
            if !FileManager.default.fileExists(atPath: root + "/proc/self") { try? FileManager.default.removeItem(atPath: root) }
        }
        let proc = root + "/proc"
        let mount = try Subprocess.run("/usr/bin/mount", ["-t", "proc", "proc", proc])
        try #require(mount.status == 0, "mount /proc: \(mount.stderr)")
        defer {
            // Lazily if busy: the root's removal must never descend into a live /proc.
            if (try? Subprocess.run("/usr/bin/umount", [proc]))?.status != 0 {
                _ = try? Subprocess.run("/usr/bin/umount", ["-l", proc])
            }
        }

        let version = try Subprocess.run("/usr/sbin/chroot", [root, "/gospy", "--version"])
        #expect(version.status == 0, "gospy --version in the root: \(version.stderr)")
        #expect(version.stdout.hasPrefix("gospy ") && version.stdout.contains("Go releases: "), "\(version.stdout)")

        // The target runs inside the root too (chroot execs it: same pid).
        let jailed = TargetBinary(release: target.release, mode: target.mode, goVersion: target.goVersion, path: "/usr/sbin/chroot")
        let running = try RunningTarget(jailed, arguments: [root, "/gospytarget"])
        defer { running.stop() }
        let pid = String(running.pid)

        let summary = try Subprocess.run("/usr/sbin/chroot", [root, "/gospy", "summary", "--pid", pid, "--json"])
        try #require(summary.status == 0, "gospy summary in the root: exit \(summary.status), \(summary.stderr)")
        let dump = try Subprocess.run("/usr/sbin/chroot", [root, "/gospy", "dump", "--pid", pid])
        try #require(dump.status == 0, "gospy dump in the root: exit \(dump.status), \(dump.stderr)")
        // The target's own view, written inside the root.
        let reply = try running.send("dump /own-dump.txt")
        try #require(reply.hasPrefix("DUMPED"), "dump replied \(reply)")
        let own = GoroutineDump(parsing: try String(contentsOfFile: root + "/own-dump.txt", encoding: .utf8))
        #expect(!ProcessState.anyStopped(running.pid), "target left stopped")

        let report = try JSONDecoder().decode(SummaryJSON.self, from: Data(summary.stdout.utf8))
        #expect(report.goVersion == target.goVersion)
        #expect(report.unreadableGoroutines == 0)
        let theirs = Set(own.goroutines.map(\.id))
        #expect(theirs.count >= 25, "the parked target has dozens of goroutines: \(theirs.count)")
        #expect(Set(report.goroutines.map(\.id)) == theirs, "summary's goroutines differ from the runtime's")
        let gospyDump = GoroutineDump(parsing: dump.stdout)
        #expect(Set(gospyDump.goroutines.map(\.id)) == theirs, "dump's goroutines differ from the runtime's")
        // Parked goroutines show the runtime's own innermost frame.
        var compared = 0
        for runtime in own.goroutines where !SummaryMatrixTests.isTransient(runtime.state) {
            guard let mine = gospyDump.goroutine(runtime.id), !SummaryMatrixTests.isTransient(mine.state) else { continue }
            #expect(mine.frames.first?.function == runtime.frames.first?.function, "goroutine \(runtime.id)")
            compared += 1
        }
        #expect(compared >= 25, "too few parked goroutines compared: \(compared)")
    }

    /// A fresh root holding /gospy, /gospytarget, an empty /proc and the libraries `ldd` says the
    /// two load, each of which must be glibc's.
    static func makeRoot(gospy: String, target: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "gospy-root-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let root = String(cString: try #require(made, "mkdtemp failed"))
        let files = FileManager.default
        try files.createDirectory(atPath: root + "/proc", withIntermediateDirectories: false)
        try files.copyItem(atPath: gospy, toPath: root + "/gospy")
        try files.copyItem(atPath: target, toPath: root + "/gospytarget")
        for program in [gospy, target] {
            let ldd = try Subprocess.run("/usr/bin/ldd", [program])
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)";
            // a static program has none ("not a dynamic executable", exit 1).
            for line in ldd.stdout.split(separator: "\n") {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard let path = words.first(where: { $0.hasPrefix("/") }).map(String.init) else { continue }
                let name = URL(fileURLWithPath: path).lastPathComponent
                try #require(glibcLibraries.contains(name), "\(program) loads \(path), not glibc's")
                let destination = root + path
                guard !files.fileExists(atPath: destination) else { continue }
                try files.createDirectory(atPath: URL(fileURLWithPath: destination).deletingLastPathComponent().path,
                                          withIntermediateDirectories: true)
                // The file itself, not a symlink into the host.
                try files.copyItem(atPath: URL(fileURLWithPath: path).resolvingSymlinksInPath().path, toPath: destination)
            }
        }
        return root
    }
}
