import GospyInspector
import GospyRuntime

/// Goroutines with identical stacks grouped with a count, byte for byte as runtime/pprof's
/// printCountProfile writes `debug=1` (Go 1.19 to 1.27 alike): groups keyed by their "@" line
/// and labels, most goroutines first and then by that key's text, each frame as
/// "#\tPC\tfunction+OFFSET\tfile:line" where PC is the one the profile records for that
/// logical frame (an inlined call's inline mark) and OFFSET its distance from the physical
/// function's entry, the whole through text/tabwriter's alignment.
enum GroupedRenderer {
    static func render(_ items: [DumpedGoroutine], labels: [UInt64: [(String, String)]], symbolizer: Symbolizer) -> String {
        var groups: [String: (count: Int, frames: [LogicalFrame])] = [:]
        // Goroutines share stacks: each distinct one is profiled and formatted once.
        var profiles: [TracebackIdentity: (key: String, frames: [LogicalFrame])] = [:]
        for item in items {
            let profile = profiles.value(for: TracebackIdentity(frames: item.stack.frames), orMake: {
                let profile = symbolizer.groupedProfile(item.stack)
                return ("@" + profile.pcs.map { " 0x" + String($0, radix: 16) }.joined(), profile.frames)
            })
            var key = profile.key
            if let itemLabels = labels[item.goroutine.address], !itemLabels.isEmpty {
                key += "\n# labels: " + labelText(itemLabels)
            }
            // Goroutines whose labels could not be read group apart, under that mark.
            if item.labelsUnreadable != nil { key += "\n# labels unreadable" }
            if let existing = groups[key] {
                groups[key] = (existing.count + 1, existing.frames)
            } else {
                groups[key] = (1, profile.frames)
            }
        }
        // sort.Sort(keysByCount): count descending, then the key's bytes.
        let keys = groups.keys.sorted { a, b in
            let ca = groups[a]!.count, cb = groups[b]!.count
            return ca != cb ? ca > cb : a.utf8.lexicographicallyPrecedes(b.utf8)
        }
        var out = "goroutine profile: total \(items.count)\n"
        for key in keys {
            let group = groups[key]!
            out += "\(group.count) \(key)\n"
            for frame in group.frames {
                let pc = frame.lookupPC
                out += "#\t0x\(String(pc, radix: 16))\t\(symbolizer.profileName(frame))+0x\(String(pc &- frame.entry, radix: 16))\t\(frame.file):\(frame.line)\n"
            }
            out += "\n"
        }
        return TabAligner.align(out)
    }

    /// runtime/pprof's labelMap.String: each pair as `%q:%q`, sorted, in braces.
    static func labelText(_ labels: [(String, String)]) -> String {
        let pairs = labels.map { GoQuote.quote($0.0) + ":" + GoQuote.quote($0.1) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return "{" + pairs.joined(separator: ", ") + "}"
    }
}
