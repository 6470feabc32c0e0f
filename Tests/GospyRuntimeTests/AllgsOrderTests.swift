@testable import GospyRuntime
import Testing

/// `RuntimeSnapshot.allgsOrder` places goroutines in one pass over allgs: it must give what a
/// stable sort by each address's first allgs index gives, with addresses missing from allgs,
/// repeated addresses and repeated allgs pointers (damage) among them.
@Suite struct AllgsOrderTests {
    static func snapshot(allgs: [UInt64]) -> RuntimeSnapshot {
        var snapshot = RuntimeSnapshot(goroutines: [], processors: [], machines: [], scheduler: nil, gomaxprocs: 1,
                                       monotonicNow: 0, unreadableGoroutines: 0, retries: 0)
        snapshot.allgs = allgs
        return snapshot
    }

    @Test func equalsAStableSortByAllgsIndex() {
        var generator = SystemRandomNumberGenerator()
        for count in [0, 1, 2, 3, 17, 1000] {
            for _ in 0..<20 {
                // Addresses from a small range: repeats in both lists, some in only one.
                let range = UInt64(0xc000_0000)...UInt64(0xc000_0000 + max(1, count) * 3 / 2)
                let allgs = (0..<count).map { _ in UInt64.random(in: range, using: &generator) }
                let addresses = (0..<count).map { _ in UInt64.random(in: range, using: &generator) }
                let snapshot = Self.snapshot(allgs: allgs)
                #expect(snapshot.allgsOrder(of: addresses) == RuntimeSnapshot.sortedAllgsOrder(of: addresses, allgs: allgs),
                        "allgs \(allgs) addresses \(addresses)")
            }
        }
    }

    @Test func goroutinesSortedByIDComeOutInAllgsOrder() {
        let allgs: [UInt64] = [0xc000_0300, 0xc000_0100, 0xc000_0200, 0xc000_0400]
        // By id: not in allgs order; 0xc000_0500 is not in allgs.
        let addresses: [UInt64] = [0xc000_0100, 0xc000_0500, 0xc000_0400, 0xc000_0300]
        #expect(Self.snapshot(allgs: allgs).allgsOrder(of: addresses) == [3, 0, 2, 1])
    }
}
