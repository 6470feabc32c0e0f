import GospyInspector
import GospyOutput
import GospyProcess
import GospyRuntime

/// Takes samples of one process into a SampleProfile: every goroutine's stack counted once
/// under its state, per sample. Non-blocking unless `blocking`: the threads running goroutines
/// are stopped briefly for their registers, nothing else. Used by `gospy record` and by
/// `gospy serve`'s flame graphs.
final class GoroutineSampler {
    struct Settings {
        var blocking = false
        var state: RecordCommand.StateFilter = .all
        /// System goroutines too.
        var all = false
        /// Root each stack at its goroutine id.
        var goroutines = false
        /// Root each stack at its goroutine's pprof labels.
        var labels = false
    }

    let inspector: Inspector
    let settings: Settings
    let profile = SampleProfile()
    /// Goroutines left out of a sample because they changed while their stack was read.
    private(set) var inconsistent = 0
    /// Running goroutines walked from perf samples, and those whose threads were stopped instead.
    private(set) var perfSampled = 0
    private(set) var stoppedForRegisters = 0

    /// Stacks already converted to interned locations, by their frames' PCs.
    private var locationCache: [[UInt64]: [Int32]] = [:]
    /// Blocking rounds, per parked goroutine (by g address): what its key was made from and
    /// the key's id. A g whose stack fields, state, id and labels are unchanged has the same
    /// key: no stack hashed.
    private struct KeyOrigin: Equatable {
        let extent: StackExtent
        let waitReason: UInt8
        let id: UInt64
        let labels: UInt64
    }
    private var keyCache: [UInt64: (origin: KeyOrigin, key: Int)] = [:]
    private var labelCache: [UInt64: [SampleProfile.Label]] = [:]
    private lazy var labelReader = LabelReader(image: inspector.image, memory: inspector.memory)

    init(inspector: Inspector, settings: Settings) {
        self.inspector = inspector
        self.settings = settings
        inspector.samplesRunningThreads = true
    }

    /// Non-blocking: what each g's slot (its allgs index) counts under while it stands (a key
    /// id, -1 for none), and how many standing goroutines each key id has. A round adds these
    /// counts in bulk and touches only the goroutines that changed.
    private let rounds = SamplingRounds()
    private var slotKeys: [Int] = []
    private var population: [Int64] = []
    /// Non-blocking: gs whose validation prefix was compared, and gs read whole and walked
    /// (changed since the round before, or on a thread), over all rounds.
    private(set) var compared = 0
    private(set) var reread = 0

    /// One round: every goroutine's stack, counted once under its state.
    func sample() throws {
        if settings.blocking {
            try sampleBlocking()
        } else {
            try sampleChanged()
        }
    }

    /// A non-blocking round: only the goroutines whose g changed are looked at; every other
    /// goroutine counts again under the key it stood under.
    private func sampleChanged() throws {
        let round = try rounds.next(on: inspector)
        perfSampled += round.phases.perfSampled
        stoppedForRegisters += round.phases.stacksReadWhileStopped
        compared += round.compared
        reread += round.reread
        if round.restarted {
            slotKeys = []
            population = []
        }
        for (slot, outcome) in round.changes {
            if slot >= slotKeys.count { slotKeys.append(contentsOf: repeatElement(-1, count: slot + 1 - slotKeys.count)) }
            if slotKeys[slot] >= 0 {
                population[slotKeys[slot]] -= 1
                slotKeys[slot] = -1
            }
            switch outcome {
            case .gone:
                break
            case .inconsistent(let goroutine):
                if goroutine.map(counts) ?? true { inconsistent += 1 }
            case let .thisRoundOnly(goroutine, stack):
                if counts(goroutine) { profile.add(id: keyID(goroutine, stack)) }
            case let .standing(goroutine, stack):
                guard counts(goroutine) else { break }
                let id = keyID(goroutine, stack)
                if id >= population.count { population.append(contentsOf: repeatElement(0, count: id + 1 - population.count)) }
                population[id] += 1
                slotKeys[slot] = id
            }
        }
        for (id, count) in population.enumerated() where count > 0 { profile.add(id: id, count: count) }
        profile.samples += 1
    }

    /// Whether `goroutine` is counted at all (--state, system goroutines).
    private func counts(_ goroutine: Goroutine) -> Bool {
        switch settings.state {
        case .running: if goroutine.status != .running { return false }
        case .waiting: if goroutine.status == .running { return false }
        case .all: break
        }
        return settings.all || !inspector.image.isSystemGoroutine(goroutine)
    }

    /// The profile's key id for `goroutine` with `stack` (locations interned once per stack).
    private func keyID(_ goroutine: Goroutine, _ stack: UnwoundStack) -> Int {
        let pcs = stack.frames.map(\.pc)
        let locations: [Int32]
        if let known = locationCache[pcs] {
            locations = known
        } else {
            locations = PprofRenderer.locations(stack, symbolizer: inspector.symbolizer).map { profile.intern($0) }
            if locationCache.count < 1_000_000 { locationCache[pcs] = locations }
        }
        var key = SampleProfile.Key(locations: locations, state: goroutine.stateText)
        if settings.goroutines { key.goroutine = goroutine.id }
        if settings.labels, goroutine.labels != 0 { key.labels = labels(of: goroutine) }
        return profile.id(of: key)
    }

    /// A blocking round: the whole process stopped for a validated snapshot.
    private func sampleBlocking() throws {
        let capture = try inspector.capture(blocking: settings.blocking, stacks: true, incremental: true)
        let snapshot = capture.snapshot
        perfSampled += capture.phases.perfSampled
        stoppedForRegisters += capture.phases.stacksReadWhileStopped
        guard let stacks = capture.stacks else { return }
        for (index, goroutine) in snapshot.goroutines.enumerated() where index < stacks.count {
            guard counts(goroutine) else { continue }
            let stack = stacks[index]
            if stack.origin == Inspector.changedWhileRead {
                inconsistent += 1
                continue
            }
            let origin = KeyOrigin(extent: goroutine.stackExtent, waitReason: goroutine.waitReason, id: goroutine.id,
                                   labels: goroutine.labels)
            let onThread = goroutine.status == .running || goroutine.status == .syscall || goroutine.m != 0
            if !onThread, let cached = keyCache[goroutine.address], cached.origin == origin {
                profile.add(id: cached.key)
                continue
            }
            let id = keyID(goroutine, stack)
            profile.add(id: id)
            if !onThread, stack.end == .complete { keyCache[goroutine.address] = (origin, id) }
        }
        profile.samples += 1
    }

    /// A goroutine's pprof labels, read once per label set (a set never changes once made).
    private func labels(of goroutine: Goroutine) -> [SampleProfile.Label] {
        if let known = labelCache[goroutine.labels] { return known }
        let read = labelReader.read(of: goroutine)
        let mark = read.unreadable == nil ? [] : [SampleProfile.Label(key: LabelReader.Read.unreadableMark.key,
                                                                      value: LabelReader.Read.unreadableMark.value)]
        let labels = (read.text.map { SampleProfile.Label(key: $0.key, value: $0.value) } + mark).sorted()
        if labelCache.count < 100_000 { labelCache[goroutine.labels] = labels }
        return labels
    }
}
