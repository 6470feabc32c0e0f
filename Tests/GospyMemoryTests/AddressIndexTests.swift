import Testing
@testable import GospyMemory

@Suite struct AddressIndexTests {
    /// Sorted addresses clustered like g structs in heap spans (runs of neighbours, large gaps,
    /// one far outlier): every address is found at its index, and nothing else is found.
    @Test func findsEverySortedAddressAndNothingElse() {
        var generator = SystemRandomNumberGenerator()
        var addresses: [UInt64] = []
        var address: UInt64 = 0xc000_000_000
        for _ in 0..<5_000 {
            address += UInt64.random(in: 1...3, using: &generator) * 448
            if UInt64.random(in: 0..<100, using: &generator) == 0 { address += UInt64.random(in: 1...(1 << 30), using: &generator) }
            addresses.append(address)
        }
        addresses.append(0x7fff_0000_0000)
        let index = AddressIndex(addresses)
        for (position, address) in addresses.enumerated() {
            #expect(index.position(of: address) == position)
            #expect(index.position(of: address + 8) == nil)
            #expect(index.position(of: address - 8) == nil)
        }
        for probe: UInt64 in [0, 1, addresses[0] - 448, 0x7fff_0000_0008, UInt64.max] {
            #expect(index.position(of: probe) == nil, "\(probe)")
        }
    }

    /// Unsorted addresses (with a duplicate): each found at its first index.
    @Test func findsUnsortedAddressesAtTheirFirstIndex() {
        let addresses: [UInt64] = (0..<200).map { UInt64(($0 * 7919) % 200) * 64 + 0x1000 } + [0x1000]
        let index = AddressIndex(addresses)
        for (position, address) in addresses.enumerated().dropLast() {
            #expect(index.position(of: address) == position)
        }
        #expect(index.position(of: 0x1008) == nil)
    }

    /// Small and degenerate inputs.
    @Test func smallInputs() {
        #expect(AddressIndex([]).position(of: 0) == nil)
        #expect(AddressIndex([8]).position(of: 8) == 0)
        let few = (1...63).map { UInt64($0) * 16 }
        let index = AddressIndex(few)
        #expect(few.indices.allSatisfy { index.position(of: few[$0]) == $0 })
        #expect(index.position(of: 24) == nil)
    }
}
