import GospyInspector
import GospyOutput
import GospyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// The goroutine profile (profile.proto, gzipped) that `go tool pprof` reads, built from the
/// unwound stacks: one location per physical frame, its logical frames as lines.
enum PprofRenderer {
    static func render(_ items: [DumpedGoroutine], labels: [UInt64: [(String, String)]], symbolizer: Symbolizer,
                       image: RuntimeImage, binaryName: String) throws -> [UInt8] {
        try encode(samples(items, labels: labels, symbolizer: symbolizer), image: image, binaryName: binaryName)
    }

    /// One sample per goroutine, of weight `count` (-1 for the earlier profile of a delta).
    static func samples(_ items: [DumpedGoroutine], labels: [UInt64: [(String, String)]], symbolizer: Symbolizer,
                        count: Int64 = 1) -> [ProfileSample] {
        // Goroutines share stacks: each distinct one's locations are made once (and shared).
        var stackLocations: [TracebackIdentity: [ProfileLocation]] = [:]
        return items.map { item -> ProfileSample in
            // Functions named as the pclntab does (generic shapes included); a return address
            // listed as its call (pc-1), like the runtime's profile.
            let locations = stackLocations.value(for: TracebackIdentity(frames: item.stack.frames), orMake: {
                symbolizer.profileFrames(item.stack).map { frame, lines in
                    ProfileLocation(address: frame.symbolPC, lines: lines.map {
                        ProfileLine(function: $0.rawName, file: $0.file, line: Int64($0.line))
                    })
                }
            })
            var pairs = (labels[item.goroutine.address] ?? []).map { (key: $0.0, value: $0.1) }
            if item.labelsUnreadable != nil { pairs.append(LabelReader.Read.unreadableMark) }
            return ProfileSample(locations: locations, count: count, labels: pairs)
        }
    }

    static func encode(_ samples: [ProfileSample], image: RuntimeImage, binaryName: String) throws -> [UInt8] {
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

    /// The executable's text as profile.proto's main mapping.
    static func mapping(image: RuntimeImage, binaryName: String) -> ProfileMapping {
        let executable = image.executable
        let text = executable.moduleData.text
        let segment = executable.elf.segments.first { $0.isLoad && $0.isExecutable && $0.contains(address: text) }
        return ProfileMapping(
            path: binaryName, buildID: executable.elf.gnuBuildID ?? executable.elf.goBuildID,
            start: text &+ image.loadBias, limit: executable.moduleData.etext &+ image.loadBias,
            offset: segment.map { $0.offset &+ (text &- $0.virtualAddress) } ?? 0)
    }

    /// A stack as profile.proto locations: one per physical frame, its logical frames as lines,
    /// functions named as the pclntab does, a return address listed as its call (pc-1).
    static func locations(_ stack: UnwoundStack, symbolizer: Symbolizer) -> [ProfileLocation] {
        symbolizer.profileFrames(stack).map { frame, lines in
            ProfileLocation(address: frame.symbolPC, lines: lines.map {
                ProfileLine(function: $0.rawName, file: $0.file, line: Int64($0.line))
            })
        }
    }
}
