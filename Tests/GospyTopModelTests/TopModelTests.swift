import Foundation
import Testing
@testable import gospy

/// TopModel on hand-made snapshots: change counts, the leak streak, waits, grouping and the
/// orders top sorts by.
@Suite struct TopModelTests {
    private static let start = Date(timeIntervalSince1970: 1_000_000)

    /// A snapshot with `count` goroutines at each location, ids numbered from `firstID` so the
    /// same goroutines keep their ids across snapshots.
    private static func snapshot(_ groups: [(location: String, count: Int)], state: String = "chan receive",
                                 wait: Double? = nil, firstID: UInt64 = 1) -> [TopModel.Sample] {
        var id = firstID
        var samples: [TopModel.Sample] = []
        for (location, count) in groups {
            for _ in 0..<count {
                samples.append(TopModel.Sample(id: id, state: state, runtimeWaitSeconds: wait, location: location,
                                               stack: [location, "main.main"], labels: [:]))
                id += 1
            }
        }
        return samples
    }

    private static func row(_ model: TopModel, _ key: String) -> TopModel.Row? {
        model.rows.first { $0.key == key }
    }

    // MARK: - Changes and the leak streak

    @Test func changesCountFromTheLastRefreshAndFromTheBaseline() throws {
        let model = TopModel()
        model.update(Self.snapshot([("a", 5), ("b", 2)]))
        let first = try #require(Self.row(model, "a"))
        #expect(first.count == 5 && first.changeSinceLast == 0 && first.changeSinceStart == 0)
        #expect(model.total == 7)

        model.update(Self.snapshot([("a", 8), ("b", 1), ("c", 4)]))
        #expect(Self.row(model, "a").map { ($0.changeSinceLast, $0.changeSinceStart) } ?? (0, 0) == (3, 3))
        #expect(Self.row(model, "b").map { ($0.changeSinceLast, $0.changeSinceStart) } ?? (0, 0) == (-1, -1))
        // A group seen for the first time has no last count; against the baseline it is all new.
        #expect(Self.row(model, "c").map { ($0.changeSinceLast, $0.changeSinceStart) } ?? (0, 0) == (0, 4))

        model.update(Self.snapshot([("a", 6)]))
        #expect(Self.row(model, "a").map { ($0.changeSinceLast, $0.changeSinceStart) } ?? (0, 0) == (-2, 1))
        #expect(Self.row(model, "b") == nil, "a group with no goroutines left is dropped")

        // After a reset the next snapshot is the new baseline.
        model.resetBaseline()
        model.update(Self.snapshot([("a", 9)]))
        #expect(Self.row(model, "a").map { ($0.changeSinceLast, $0.changeSinceStart) } ?? (1, 1) == (0, 0))
        model.update(Self.snapshot([("a", 10)]))
        #expect(Self.row(model, "a").map { ($0.changeSinceLast, $0.changeSinceStart) } ?? (0, 0) == (1, 1))
    }

    @Test func growingOnlyAfterLeakStreakRefreshesInARow() {
        let model = TopModel(leakStreak: 3)
        func growing(_ leaky: Int) -> (leaky: Bool, steady: Bool) {
            model.update(Self.snapshot([("leaky", leaky), ("steady", 10)]))
            return (Self.row(model, "leaky")?.growing ?? false, Self.row(model, "steady")?.growing ?? true)
        }
        // The first snapshot has nothing to grow from; then two rises are not yet a streak of three.
        #expect(growing(1) == (false, false))
        #expect(growing(2) == (false, false))
        #expect(growing(3) == (false, false))
        #expect(growing(4) == (true, false))
        #expect(growing(5) == (true, false))
        // A refresh without growth ends the streak; it takes three more rises to be marked again.
        #expect(growing(5) == (false, false))
        #expect(growing(6) == (false, false))
        #expect(growing(7) == (false, false))
        #expect(growing(8) == (true, false))
        // A shrink ends it as well.
        #expect(growing(2) == (false, false))
    }

    @Test func leakStreakIsConfigurable() {
        let model = TopModel(leakStreak: 1)
        model.update(Self.snapshot([("a", 1)]))
        #expect(Self.row(model, "a")?.growing == false)
        model.update(Self.snapshot([("a", 2)]))
        #expect(Self.row(model, "a")?.growing == true)
    }

    @Test func resetAndRegroupingStartTheStreakOver() {
        let model = TopModel(leakStreak: 2)
        for count in 1...3 { model.update(Self.snapshot([("a", count)])) }
        #expect(Self.row(model, "a")?.growing == true)
        model.resetBaseline()
        model.update(Self.snapshot([("a", 4)]))
        #expect(Self.row(model, "a")?.growing == false)
        model.update(Self.snapshot([("a", 5)]))
        #expect(Self.row(model, "a")?.growing == false)
        model.update(Self.snapshot([("a", 6)]))
        #expect(Self.row(model, "a")?.growing == true)

        model.setGrouping(.function)
        model.update(Self.snapshot([("a", 7)]))
        #expect(Self.row(model, "a")?.growing == false)
        #expect(Self.row(model, "a")?.changeSinceStart == 0)
    }

    // MARK: - Waits and states

    @Test func longestWaitIsTheRuntimesOrWhatGospyObserved() throws {
        let model = TopModel()
        model.update(Self.snapshot([("a", 2)], wait: 5), now: Self.start)
        #expect(Self.row(model, "a")?.longestWaitSeconds == 5)
        // Without the runtime's figure, the time since gospy first saw the goroutine in this state.
        model.update(Self.snapshot([("a", 2)]), now: Self.start.addingTimeInterval(30))
        #expect(Self.row(model, "a")?.longestWaitSeconds == 30)
        // The larger of the two wins.
        model.update(Self.snapshot([("a", 2)], wait: 100), now: Self.start.addingTimeInterval(40))
        #expect(Self.row(model, "a")?.longestWaitSeconds == 100)
        // A change of state starts the observed wait over.
        model.update(Self.snapshot([("a", 2)], state: "select"), now: Self.start.addingTimeInterval(50))
        #expect(Self.row(model, "a")?.longestWaitSeconds == 0)
        // Running and runnable goroutines are not waiting.
        model.update(Self.snapshot([("a", 2)], state: "running", wait: 7), now: Self.start.addingTimeInterval(60))
        #expect(Self.row(model, "a")?.longestWaitSeconds == nil)
    }

    @Test func statesAreCountedPerGroupMostFirst() throws {
        let model = TopModel()
        let samples = Self.snapshot([("a", 1)], state: "running")
            + Self.snapshot([("a", 3)], state: "select", firstID: 10)
            + Self.snapshot([("a", 1)], state: "chan send", firstID: 20)
        model.update(samples)
        let states = try #require(Self.row(model, "a")).states
        #expect(states.map(\.state) == ["select", "chan send", "running"])
        #expect(states.map(\.count) == [3, 1, 1])
    }

    // MARK: - Grouping

    @Test func groupsByStackStateOrLabel() {
        let samples = [
            TopModel.Sample(id: 1, state: "select", runtimeWaitSeconds: nil, location: "f", stack: ["f", "g"], labels: ["job": "x"]),
            TopModel.Sample(id: 2, state: "select", runtimeWaitSeconds: nil, location: "f", stack: ["f", "h"], labels: ["job": "y"]),
            TopModel.Sample(id: 3, state: "running", runtimeWaitSeconds: nil, location: "f", stack: ["f", "g"], labels: [:]),
        ]
        let model = TopModel(grouping: .stack)
        model.update(samples)
        #expect(Set(model.rows.map(\.key)) == ["f ← g", "f ← h"])
        model.setGrouping(.state)
        model.update(samples)
        #expect(Set(model.rows.map(\.key)) == ["select", "running"])
        model.setGrouping(.label("job"))
        model.update(samples)
        #expect(Set(model.rows.map(\.key)) == ["job=x", "job=y", "(no job label)"])
        model.setGrouping(.function)
        model.update(samples)
        #expect(model.rows.map(\.key) == ["f"])
    }

    /// A goroutine whose labels could not be read is its own group, not "no label".
    @Test func unreadableLabelsGroupApart() {
        let samples = [
            TopModel.Sample(id: 1, state: "select", runtimeWaitSeconds: nil, location: "f", stack: [], labels: [:]),
            TopModel.Sample(id: 2, state: "select", runtimeWaitSeconds: nil, location: "f", stack: [], labels: [:],
                            labelsUnreadable: true),
        ]
        let model = TopModel(grouping: .label("job"))
        model.update(samples)
        #expect(Set(model.rows.map(\.key)) == ["(no job label)", "(labels unreadable)"])
    }

    @Test func groupingParsesWhatTheOptionAccepts() {
        #expect(TopModel.Grouping(parsing: "function") == .function)
        #expect(TopModel.Grouping(parsing: "stack") == .stack)
        #expect(TopModel.Grouping(parsing: "state") == .state)
        #expect(TopModel.Grouping(parsing: "label:job") == .label("job"))
        #expect(TopModel.Grouping(parsing: "label:") == nil)
        #expect(TopModel.Grouping(parsing: "functions") == nil)
        #expect(TopModel.Grouping.label("job").description == "label:job")
    }

    // MARK: - Sorting and filtering

    @Test func sortOrders() {
        let model = TopModel()
        model.update(Self.snapshot([("b", 4), ("a", 4), ("c", 9), ("d", 1)]), now: Self.start)
        // d waits longest (runtime says so); a has no wait (running).
        let later = Self.snapshot([("b", 6)], firstID: 100)
            + Self.snapshot([("a", 4)], state: "running", firstID: 200)
            + Self.snapshot([("c", 3)], firstID: 300)
            + Self.snapshot([("d", 1)], wait: 500, firstID: 400)
            + Self.snapshot([("e", 2)], firstID: 500)
        model.update(later, now: Self.start.addingTimeInterval(10))
        // Count, most first; equal counts by name.
        #expect(model.view(sort: .count).map(\.key) == ["b", "a", "c", "e", "d"])
        // Largest change since the last refresh either way (c -6, b +2), then since the start
        // (e +2 beats a and d at 0), then name.
        #expect(model.view(sort: .change).map(\.key) == ["c", "b", "e", "a", "d"])
        // Longest wait first; groups without a wait last.
        #expect(model.view(sort: .wait).map(\.key) == ["d", "b", "c", "e", "a"])
        #expect(model.view(sort: .name).map(\.key) == ["a", "b", "c", "d", "e"])
    }

    @Test func filterKeepsMatchingKeysIgnoringCase() {
        let model = TopModel()
        model.update(Self.snapshot([("main.worker (w.go:1)", 2), ("net/http.serve (s.go:9)", 3), ("main.Wait (w.go:5)", 1)]))
        #expect(model.view(sort: .name, filter: "W.GO").map(\.key) == ["main.Wait (w.go:5)", "main.worker (w.go:1)"])
        #expect(model.view(sort: .count, filter: "http").map(\.key) == ["net/http.serve (s.go:9)"])
        #expect(model.view(sort: .count, filter: "nothing").isEmpty)
        #expect(model.view(sort: .count, filter: "").count == 3)
    }
}
