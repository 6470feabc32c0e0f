import FoundationEssentials

/// The data behind `gospy top`: goroutines grouped by a key, with counts, changes since the
/// last refresh and since the baseline, a state breakdown, the longest wait, and a flag for
/// groups that grow at every refresh (a possible leak). Pure logic, fed one snapshot at a time.
final class TopModel {
    enum Grouping: Equatable, Sendable, CustomStringConvertible {
        case function
        case stack
        case state
        case label(String)
        /// What each goroutine waits on (a channel, a descriptor, a system call).
        case object

        init?(parsing text: String) {
            switch text {
            case "function": self = .function
            case "stack": self = .stack
            case "state": self = .state
            case "object": self = .object
            default:
                guard text.hasPrefix("label:"), text.count > 6 else { return nil }
                self = .label(String(text.dropFirst(6)))
            }
        }

        var description: String {
            switch self {
            case .function: return "function"
            case .stack: return "stack"
            case .state: return "state"
            case let .label(key): return "label:\(key)"
            case .object: return "object"
            }
        }
    }

    /// What the model needs of one goroutine.
    struct Sample: Sendable {
        let id: UInt64
        let state: String
        /// Seconds waited according to the runtime (waitsince), when known.
        let runtimeWaitSeconds: Double?
        /// "function (file:line)" of the chosen location.
        let location: String
        /// The whole stack, for grouping by stack.
        let stack: [String]
        let labels: [String: String]
        /// What it waits on, for grouping by object ("" when not read).
        let object: String
        /// Its labels could not be read (grouped apart by label, not as "no label").
        let labelsUnreadable: Bool

        init(id: UInt64, state: String, runtimeWaitSeconds: Double?, location: String, stack: [String], labels: [String: String],
             object: String = "", labelsUnreadable: Bool = false) {
            self.labelsUnreadable = labelsUnreadable
            self.id = id
            self.state = state
            self.runtimeWaitSeconds = runtimeWaitSeconds
            self.location = location
            self.stack = stack
            self.labels = labels
            self.object = object
        }
    }

    struct Row: Sendable, Equatable {
        let key: String
        let count: Int
        let changeSinceLast: Int
        let changeSinceStart: Int
        let states: [(state: String, count: Int)]
        let longestWaitSeconds: Double?
        /// Grew at each of the last `leakStreak` refreshes.
        let growing: Bool

        static func == (a: Row, b: Row) -> Bool {
            a.key == b.key && a.count == b.count && a.changeSinceLast == b.changeSinceLast
                && a.changeSinceStart == b.changeSinceStart && a.growing == b.growing
                && a.states.map { "\($0.state)=\($0.count)" } == b.states.map { "\($0.state)=\($0.count)" }
        }
    }

    enum Sort: String, CaseIterable, Sendable {
        case count, change, wait, name
    }

    /// Refreshes in a row a group must grow to be marked.
    let leakStreak: Int
    private(set) var grouping: Grouping
    private(set) var rows: [Row] = []
    private(set) var total = 0
    private var baseline: [String: Int]?
    private var previous: [String: Int] = [:]
    private var streaks: [String: Int] = [:]
    /// When gospy first saw each goroutine in its current state (for the observed wait), in
    /// flat arrays sorted by goroutine id (snapshots list goroutines by id: looked up by
    /// binary search, no dictionary of a hundred thousand entries rebuilt per refresh).
    private var seen = Seen()

    struct Seen {
        var ids: [UInt64] = []
        var states: [String] = []
        var since: [Date] = []

        /// The position of `id`, searching from `hint` first (the next position when
        /// goroutines come in id order).
        func position(of id: UInt64, hint: Int) -> Int? {
            if hint < ids.count, ids[hint] == id { return hint }
            var low = 0, high = ids.count
            while low < high {
                let middle = (low + high) / 2
                if ids[middle] < id { low = middle + 1 } else { high = middle }
            }
            return low < ids.count && ids[low] == id ? low : nil
        }

        mutating func append(_ id: UInt64, _ state: String, _ since: Date) {
            ids.append(id)
            states.append(state)
            self.since.append(since)
        }

        /// Sorted by id (already so when samples come in id order); of a repeated id the last
        /// one appended counts.
        mutating func sortByID() {
            var ascending = true
            for index in ids.indices.dropFirst() where ids[index - 1] >= ids[index] {
                ascending = false
                break
            }
            guard !ascending else { return }
            var order = Array(ids.indices)
            order.sort { ids[$0] != ids[$1] ? ids[$0] < ids[$1] : $0 > $1 }
            var sorted = Seen()
            for index in order where sorted.ids.last != ids[index] { sorted.append(ids[index], states[index], since[index]) }
            self = sorted
        }
    }

    init(grouping: Grouping = .function, leakStreak: Int = 3) {
        self.grouping = grouping
        self.leakStreak = leakStreak
    }

    /// Starts counting changes from the next snapshot.
    func resetBaseline() {
        baseline = nil
        previous = [:]
        streaks = [:]
    }

    func setGrouping(_ grouping: Grouping) {
        self.grouping = grouping
        resetBaseline()
    }

    func key(of sample: Sample) -> String {
        switch grouping {
        case .function: return sample.location
        case .stack: return sample.stack.joined(separator: " ← ")
        case .state: return sample.state
        case let .label(name):
            if sample.labelsUnreadable { return "(labels unreadable)" }
            return sample.labels[name].map { "\(name)=\($0)" } ?? "(no \(name) label)"
        case .object: return sample.object
        }
    }

    /// Feeds one snapshot.
    func update(_ samples: [Sample], now: Date = Date()) {
        // Keys and states are interned to small integers: hashing a string once per distinct
        // value instead of several times per goroutine.
        var keyIDs: [String: Int] = [:]
        var keys: [String] = []
        var stateIDs: [String: Int] = [:]
        var stateNames: [String] = []
        var counts: [Int] = []
        var stateCounts: [[Int: Int]] = []
        var waits: [Double?] = []
        var nextSeen = Seen()
        nextSeen.ids.reserveCapacity(samples.count)
        nextSeen.states.reserveCapacity(samples.count)
        nextSeen.since.reserveCapacity(samples.count)
        var hint = 0
        var lastKey = ""
        var lastKeyID = -1
        for sample in samples {
            let key = key(of: sample)
            let k: Int
            if key == lastKey, lastKeyID >= 0 {
                k = lastKeyID
            } else if let known = keyIDs[key] {
                k = known
            } else {
                k = keys.count
                keyIDs[key] = k
                keys.append(key)
                counts.append(0)
                stateCounts.append([:])
                waits.append(nil)
            }
            lastKey = key
            lastKeyID = k
            let s: Int
            if let known = stateIDs[sample.state] {
                s = known
            } else {
                s = stateNames.count
                stateIDs[sample.state] = s
                stateNames.append(sample.state)
            }
            counts[k] += 1
            stateCounts[k][s, default: 0] += 1
            let previous = seen.position(of: sample.id, hint: hint)
            if let previous { hint = previous + 1 }
            let since = previous.flatMap { seen.states[$0] == sample.state ? seen.since[$0] : nil } ?? now
            nextSeen.append(sample.id, sample.state, since)
            if sample.state == "running" || sample.state == "runnable" { continue }
            let wait = max(sample.runtimeWaitSeconds ?? 0, now.timeIntervalSince(since))
            waits[k] = max(waits[k] ?? 0, wait)
        }
        nextSeen.sortByID()
        seen = nextSeen
        var byName: [String: Int] = [:]
        for (index, key) in keys.enumerated() { byName[key] = counts[index] }
        if baseline == nil { baseline = byName }
        var newStreaks: [String: Int] = [:]
        rows = keys.indices.map { index in
            let key = keys[index]
            let count = counts[index]
            let last = previous[key]
            let grew = last.map { count > $0 } ?? false
            let streak = grew ? (streaks[key] ?? 0) + 1 : 0
            newStreaks[key] = streak
            let states = stateCounts[index].map { (state: stateNames[$0.key], count: $0.value) }
                .sorted { ($0.count, $1.state) > ($1.count, $0.state) }
            return Row(key: key, count: count, changeSinceLast: count - (last ?? count),
                       changeSinceStart: count - (baseline?[key] ?? 0), states: states,
                       longestWaitSeconds: waits[index], growing: streak >= leakStreak)
        }
        streaks = newStreaks
        previous = byName
        total = samples.count
    }

    /// The rows sorted and filtered for display.
    func view(sort: Sort, filter: String = "") -> [Row] {
        // Case-insensitive by lowercasing (localizedCaseInsensitiveContains needs full Foundation).
        let needle = filter.lowercased()
        let visible = filter.isEmpty ? rows : rows.filter { $0.key.lowercased().contains(needle) }
        return visible.sorted { a, b in
            switch sort {
            case .count: return (a.count, b.key) > (b.count, a.key)
            case .change: return (abs(a.changeSinceLast), a.changeSinceStart, b.key) > (abs(b.changeSinceLast), b.changeSinceStart, a.key)
            case .wait: return (a.longestWaitSeconds ?? -1, b.key) > (b.longestWaitSeconds ?? -1, a.key)
            case .name: return a.key < b.key
            }
        }
    }
}
