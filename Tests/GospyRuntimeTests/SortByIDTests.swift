@testable import GospyRuntime
import Testing

/// `SnapshotReader.sortByID` moves each goroutine once along a permutation: it must give what a
/// stable sort by id gives, repeated ids (damage) in their first order.
@Suite struct SortByIDTests {
    static func goroutines(ids: [UInt64]) -> [Goroutine] {
        ids.enumerated().map { position, id in
            Goroutine(address: 0xc000_0000 + UInt64(position) * 0x1e0, id: id, status: .waiting, scanning: false, waitReason: 0,
                      waitReasonText: nil, waitSince: 0, m: 0, lockedM: 0, startPC: 0, creatorPC: 0, parentID: nil, schedPC: 0,
                      schedSP: 0, schedBP: 0, syscallPC: 0, syscallSP: 0, stackLo: 0xc001_0000, stackHi: 0xc001_2000, labels: 0)
        }
    }

    static func stableSorted(_ goroutines: [Goroutine]) -> [Goroutine] {
        goroutines.enumerated().sorted { ($0.element.id, $0.offset) < ($1.element.id, $1.offset) }.map(\.element)
    }

    @Test func equalsAStableSort() {
        var generator = SystemRandomNumberGenerator()
        for count in [0, 1, 2, 3, 17, 1000] {
            for _ in 0..<20 {
                // Few distinct ids: many repeats, many cycles.
                let ids = (0..<count).map { _ in UInt64.random(in: 1...UInt64(max(1, count / 3)), using: &generator) }
                var sorted = Self.goroutines(ids: ids)
                let expected = Self.stableSorted(sorted)
                SnapshotReader.sortByID(&sorted)
                #expect(sorted == expected, "ids \(ids)")
            }
        }
    }

    @Test func alreadySortedAndReversed() {
        var ascending = Self.goroutines(ids: Array(1...50))
        let expected = ascending
        SnapshotReader.sortByID(&ascending)
        #expect(ascending == expected)
        var descending = Self.goroutines(ids: Array((1...50).reversed()))
        SnapshotReader.sortByID(&descending)
        #expect(descending.map(\.id) == Array(1...50))
    }
}
