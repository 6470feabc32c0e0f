/// Finds a record by address: by binary search when the addresses are sorted (as the live
/// reader returns them), else through a dictionary.
public struct AddressIndex: Sendable {
    private let addresses: [UInt64]
    private let byAddress: [UInt64: Int]?

    public init(_ addresses: [UInt64]) {
        self.addresses = addresses
        var sorted = true
        for index in addresses.indices.dropFirst() where addresses[index - 1] >= addresses[index] {
            sorted = false
            break
        }
        if sorted {
            byAddress = nil
        } else {
            var map: [UInt64: Int] = [:]
            for (index, address) in addresses.enumerated() where map[address] == nil { map[address] = index }
            byAddress = map
        }
    }

    /// The index of `address` (its first one, unsorted), or nil.
    public func position(of address: UInt64) -> Int? {
        if let byAddress { return byAddress[address] }
        var low = 0, high = addresses.count
        while low < high {
            let middle = (low + high) / 2
            if addresses[middle] < address { low = middle + 1 } else { high = middle }
        }
        return low < addresses.count && addresses[low] == address ? low : nil
    }
}

