import GospyMemory

extension SnapshotReader {
    /// The walk-relevant fields of the gs at `addresses` as they are now (nil: unreadable or
    /// dead): read again after their stacks, they tell whether a stack read while the target
    /// ran is whole (unchanged fields) or may mix two states.
    public func currentExtents(of addresses: [UInt64]) throws -> [StackExtent?] {
        let g = try image.layout.g
        let size = [g.atomicstatus + 4, g.m + 8, g.schedPC + 8, g.schedSP + 8, g.syscallpc + 8, g.syscallsp + 8,
                    g.stackLo + 8, g.stackHi + 8].max() ?? 0
        // The gather sorts its addresses: answers go back in the order asked.
        let records = memory.gather(addresses, size: size)
        var position: [UInt64: Int] = [:]
        position.reserveCapacity(records.count)
        for (index, address) in records.addresses.enumerated() { position[address] = index }
        return addresses.map { address in
            guard let index = position[address] else { return nil }
            guard let raw = records.u32(index, g.atomicstatus),
                  let status = GoroutineStatus(rawValue: raw & ~0x1000), !status.isDead,
                  let stackLo = records.u64(index, g.stackLo), let stackHi = records.u64(index, g.stackHi) else { return nil }
            return StackExtent(address: records.addresses[index], status: status, m: records.u64(index, g.m) ?? 0,
                               schedPC: records.u64(index, g.schedPC) ?? 0, schedSP: records.u64(index, g.schedSP) ?? 0,
                               syscallPC: records.u64(index, g.syscallpc) ?? 0, syscallSP: records.u64(index, g.syscallsp) ?? 0,
                               stackLo: stackLo, stackHi: stackHi)
        }
    }
}
