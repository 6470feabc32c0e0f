import Foundation

/// Builds scripts/layoutprobe (a small Go program whose DWARF holds the runtime types) with an
/// installed toolchain, caching the result under ~/.cache/gospy/layoutprobe/ (keyed by
/// release, toolchain version, flags and source). Shared by the unit and integration tests.
public enum GoProbe {
    public static let home = FileManager.default.homeDirectoryForCurrentUser.path
    public static let toolchains = ProcessInfo.processInfo.environment["GOSPY_TOOLCHAINS"] ?? home + "/.cache/gospy/toolchains"
    static let probeSource = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/layoutprobe").path

    public static func goroot(_ release: String) -> String { toolchains + "/go" + release }

    public static func isInstalled(_ release: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: goroot(release) + "/bin/go")
    }

    /// The probe built with Go `release` (with DWARF, or with -ldflags=-s -w).
    public static func binary(release: String, stripped: Bool = false) throws -> String {
        let goroot = goroot(release)
        let flags = stripped ? ["-ldflags=-s -w"] : []
        var key = "\(release)|\(flags)|"
        key += (try? String(contentsOfFile: goroot + "/VERSION", encoding: .utf8)) ?? "no VERSION"
        for file in ["main.go", "go.mod"] {
            key += (try? String(contentsOfFile: probeSource + "/" + file, encoding: .utf8)) ?? ""
        }
        let directory = home + "/.cache/gospy/layoutprobe/go\(release)-\(fnv1a(key))"
        let output = directory + (stripped ? "/probe-stripped" : "/probe")
        if FileManager.default.fileExists(atPath: output) { return output }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = output + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var environment = ProcessInfo.processInfo.environment
        environment["GOTOOLCHAIN"] = "local"
        environment["GOFLAGS"] = ""
        environment["GOENV"] = "off"
        environment["GOROOT"] = goroot
        environment["GOCACHE"] = home + "/.cache/gospy/gocache/go" + release
        environment["GOOS"] = "linux"
        environment["GOARCH"] = "amd64"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: goroot + "/bin/go")
        process.arguments = ["build"] + flags + ["-o", temporary, "."]
        process.currentDirectoryURL = URL(fileURLWithPath: probeSource)
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GoProbeBuildError(release: release, output: message)
        }
        _ = rename(temporary, output)  // atomic: concurrent builds of the same probe are harmless
        return output
    }

    static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

public struct GoProbeBuildError: Error, CustomStringConvertible {
    public let release: String
    public let output: String
    public var description: String { "building scripts/layoutprobe with Go \(release) failed:\n\(output)" }
}

/// A small deterministic PRNG (SplitMix64), so randomised tests are the same on every run.
public struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
