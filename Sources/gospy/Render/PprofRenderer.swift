import Foundation
import GospyInspector
import GospyOutput
import GospyRuntime

/// The goroutine profile (profile.proto, gzipped) that `go tool pprof` reads, built from the
/// unwound stacks: one location per physical frame, its logical frames as lines.
enum PprofRenderer {
    static func render(_ items: [DumpedGoroutine], labels: [UInt64: [(String, String)]], image: RuntimeImage,
                       binaryName: String) throws -> [UInt8] {
        // The runtime's goroutine profile records logical frames with wrappers elided, at
        // most 32 (before Go 1.23) or 128 of them, drops runtime.goexit, and names functions
        // as the pclntab does (generic shapes included).
        let depth = image.executable.version.atLeast(1, 23) ? 128 : 32
        let wrapper = image.funcIDs?.wrapper
        let panics = Set(["gopanic", "sigpanic", "panicwrap"].compactMap { image.funcIDs?.values[$0] })
        let samples = items.map { item -> ProfileSample in
            var locations: [ProfileLocation] = []
            var recorded = 0
            var callee: UInt8 = 0
            frames: for frame in item.stack.frames {
                var lines: [ProfileLine] = []
                for logical in image.logicalFrames(at: frame) {
                    defer { callee = logical.funcID }
                    if let wrapper, logical.funcID == wrapper, wrapper != 0, !panics.contains(callee) { continue }
                    guard recorded < depth else { break }
                    recorded += 1
                    if logical.rawName == "runtime.goexit" { continue }
                    lines.append(ProfileLine(function: logical.rawName, file: logical.file,
                                             line: Int64(logical.line)))
                }
                if !lines.isEmpty {
                    // Like the runtime's profile: a return address is listed as the call (pc-1).
                    locations.append(ProfileLocation(address: frame.symbolPC, lines: lines))
                }
                if recorded >= depth { break frames }
            }
            return ProfileSample(locations: locations, count: 1,
                                 labels: (labels[item.goroutine.address] ?? []).map { (key: $0.0, value: $0.1) })
        }
        let executable = image.executable
        let text = executable.moduleData.text
        let segment = executable.elf.segments.first { $0.isLoad && $0.isExecutable && $0.contains(address: text) }
        let mapping = ProfileMapping(
            path: binaryName, buildID: executable.elf.gnuBuildID ?? executable.elf.goBuildID,
            start: text &+ image.loadBias, limit: executable.moduleData.etext &+ image.loadBias,
            offset: segment.map { $0.offset &+ (text &- $0.virtualAddress) } ?? 0)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return try GoroutineProfileWriter.encode(samples, mainBinary: mapping,
                                                 timeNanos: Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec))
    }
}
