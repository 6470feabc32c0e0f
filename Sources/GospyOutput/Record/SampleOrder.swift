/// One order for a profile's stacks that depends only on what was counted: not on the order
/// stacks and locations were first seen, nor on Dictionary's per-process hash seed. Stacks with
/// the same folded frames (two call sites in one function, or labels that fold alike) are told
/// apart by what differs, so the same samples always give the same file.
extension SampleProfile {
    /// A counted stack, its count and its folded frames (root first).
    public typealias OrderedStack = (key: Key, count: Int64, frames: [String])

    /// Every stack counted at least once, by folded frames, then by its locations (address,
    /// then lines, innermost first), state, goroutine and labels.
    public func orderedStacks() -> [OrderedStack] {
        var stacks: [OrderedStack] = []
        stacks.reserveCapacity(keys.count)
        for (key, count) in counts { stacks.append((key, count, folded(key))) }
        stacks.sort { a, b in
            a.frames != b.frames ? a.frames.lexicographicallyPrecedes(b.frames) : tieBreak(a.key, b.key)
        }
        return stacks
    }

    /// For keys whose folded frames are equal: the one that sorts first, comparing what the
    /// keys hold rather than their interning indices (which follow the order of first sight).
    private func tieBreak(_ a: Key, _ b: Key) -> Bool {
        let placesA = places(of: a)
        let placesB = places(of: b)
        if placesA != placesB { return placesA.lexicographicallyPrecedes(placesB, by: Self.precedes) }
        if a.state != b.state { return a.state < b.state }
        if a.goroutine != b.goroutine {
            guard let goroutineA = a.goroutine else { return true }
            guard let goroutineB = b.goroutine else { return false }
            return goroutineA < goroutineB
        }
        if a.labels != b.labels { return a.labels.lexicographicallyPrecedes(b.labels) }
        // Only indices past the interned locations (which fold to nothing) are left to differ.
        return a.locations.lexicographicallyPrecedes(b.locations)
    }

    private static func precedes(_ a: ProfileLocation, _ b: ProfileLocation) -> Bool {
        a.address != b.address ? a.address < b.address : a.lines.lexicographicallyPrecedes(b.lines, by: precedes)
    }

    private static func precedes(_ a: ProfileLine, _ b: ProfileLine) -> Bool {
        (a.function, a.file, a.line, a.startLine) < (b.function, b.file, b.line, b.startLine)
    }
}
