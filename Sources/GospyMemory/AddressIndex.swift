/// Finds a record by address: by binary search when the addresses are sorted (as the live
/// reader returns them), else through a dictionary.
public struct AddressIndex: Sendable {
    private let addresses: [UInt64]
    private let byAddress: [UInt64: Int]?
    /// Sorted addresses: where each bucket of the address range starts (`bucketCount` + 1
    /// entries), so that a lookup searches a handful of addresses instead of all of them. A
    /// snapshot looks up every goroutine several times, and a binary search over a million
    /// addresses is twenty cache misses.
    private let bucketStarts: [Int32]
    private let base: UInt64
    private let shift: UInt64

    /// About this many addresses per bucket.
    static let addressesPerBucket = 4

    public init(_ addresses: [UInt64]) {
        self.addresses = addresses
        var sorted = true
        for index in addresses.indices.dropFirst() where addresses[index - 1] >= addresses[index] {
            sorted = false
            break
        }
        base = addresses.first ?? 0
        guard sorted else {
            var map: [UInt64: Int] = [:]
            for (index, address) in addresses.enumerated() where map[address] == nil { map[address] = index }
            byAddress = map
            bucketStarts = []
            shift = 0
            return
        }
        byAddress = nil
        guard addresses.count >= 64, addresses.count < Int(Int32.max), let last = addresses.last else {
            bucketStarts = []
            shift = 0
            return
        }
        // 2^bits buckets over [first, last]: (address - base) >> shift < 2^bits for every address.
        let bits = UInt64(max(1, (addresses.count / Self.addressesPerBucket).bitWidth - (addresses.count / Self.addressesPerBucket).leadingZeroBitCount))
        let spanBits = UInt64((last - base).bitWidth - (last - base).leadingZeroBitCount)
        shift = spanBits > bits ? spanBits - bits : 0
        let buckets = 1 << Int(bits)
        var starts = [Int32](repeating: 0, count: buckets + 1)
        var index = 0
        for bucket in 0...buckets {
            while index < addresses.count, (addresses[index] - base) >> shift < UInt64(bucket) { index += 1 }
            starts[bucket] = Int32(index)
        }
        bucketStarts = starts
    }

    /// The index of `address` (its first one, unsorted), or nil.
    public func position(of address: UInt64) -> Int? {
        if let byAddress { return byAddress[address] }
        var low = 0, high = addresses.count
        if !bucketStarts.isEmpty {
            guard address >= base else { return nil }
            let bucket = (address - base) >> shift
            guard bucket < UInt64(bucketStarts.count - 1) else { return nil }
            low = Int(bucketStarts[Int(bucket)])
            high = Int(bucketStarts[Int(bucket) + 1])
        }
        while low < high {
            let middle = (low + high) / 2
            if addresses[middle] < address { low = middle + 1 } else { high = middle }
        }
        return low < addresses.count && addresses[low] == address ? low : nil
    }
}
