extension RuntimeSnapshot {
    /// The positions of `addresses` in allgs order (the order of the runtime's own
    /// tracebacks); any not in allgs keep their order after the rest, and repeated addresses
    /// keep theirs next to each other (as a stable sort by allgs index would place them).
    /// Positions, not items, so that a million large items are never copied through a sort;
    /// made in one pass over allgs, without a sort, since a dump waits for it before it renders.
    public func allgsOrder(of addresses: [UInt64]) -> [Int] {
        guard addresses.count < Int(Int32.max) / 4 else { return Self.sortedAllgsOrder(of: addresses, allgs: allgs) }
        let table = AddressPositions(addresses)
        var order: [Int] = []
        order.reserveCapacity(addresses.count)
        var placed = [Bool](repeating: false, count: addresses.count)
        for pointer in allgs {
            // Only a pointer's first place in allgs counts.
            guard var position = table.firstPosition(of: pointer), !placed[position] else { continue }
            while position >= 0 {
                placed[position] = true
                order.append(position)
                position = table.nextRepeat(after: position)
            }
        }
        if order.count < addresses.count {
            for position in addresses.indices where !placed[position] { order.append(position) }
        }
        return order
    }

    /// The same order by a stable sort on each address's allgs index (the plain statement of
    /// it, kept for inputs too large for AddressPositions).
    static func sortedAllgsOrder(of addresses: [UInt64], allgs: [UInt64]) -> [Int] {
        var rank: [UInt64: Int] = [:]
        rank.reserveCapacity(allgs.count)
        for (index, pointer) in allgs.enumerated() where rank[pointer] == nil { rank[pointer] = index }
        let ranks = addresses.enumerated().map { rank[$0.element] ?? allgs.count &+ $0.offset }
        return ranks.indices.sorted { ranks[$0] < ranks[$1] }
    }
}

/// Each address's first position in a list, and the later positions of the same address in
/// order: an open-addressing table keyed by the address itself (g addresses hash well by a
/// multiply), several times faster than a Dictionary for a million of them.
private struct AddressPositions {
    private var keys: [UInt64]
    /// The first position of the key in the same slot, or -1 for an empty slot.
    private var firsts: [Int32]
    /// Per position: the next position with the same address, or -1.
    private var repeats: [Int32]
    private let shift: UInt64

    init(_ addresses: [UInt64]) {
        // Twice as many slots as addresses, at least 16: short probe runs.
        var bits = 4
        while 1 << bits < addresses.count * 2 { bits += 1 }
        keys = [UInt64](repeating: 0, count: 1 << bits)
        firsts = [Int32](repeating: -1, count: 1 << bits)
        repeats = [Int32](repeating: -1, count: addresses.count)
        shift = UInt64(64 - bits)
        // The last position seen of each address, to chain repeats in order.
        var lasts = [Int32](repeating: -1, count: 1 << bits)
        let mask = (1 << bits) - 1
        for (position, address) in addresses.enumerated() {
            var slot = self.slot(of: address)
            while firsts[slot] >= 0 && keys[slot] != address { slot = (slot + 1) & mask }
            if firsts[slot] < 0 {
                keys[slot] = address
                firsts[slot] = Int32(position)
            } else {
                repeats[Int(lasts[slot])] = Int32(position)
            }
            lasts[slot] = Int32(position)
        }
    }

    private func slot(of address: UInt64) -> Int {
        Int(truncatingIfNeeded: (address &* 0x9e37_79b9_7f4a_7c15) >> shift)
    }

    func firstPosition(of address: UInt64) -> Int? {
        let mask = firsts.count - 1
        var slot = slot(of: address)
        while firsts[slot] >= 0 {
            if keys[slot] == address { return Int(firsts[slot]) }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// The next position after `position` with the same address, or -1.
    func nextRepeat(after position: Int) -> Int { Int(repeats[position]) }
}
