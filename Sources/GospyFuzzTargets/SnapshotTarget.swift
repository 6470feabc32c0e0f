import GospyMemory
import GospyRuntime

/// The snapshot decoder over a damaged image of a real target: the input is a list of
/// mutations (17 bytes each: kind and width, area, offset, value) written into the captured
/// image's g structs, stacks, allgs and labels before decoding, walking and rendering it.
/// Beyond not trapping, goroutines whose memory no mutation touched must decode exactly as
/// in the undamaged image, and a read as without stopping must decode as the stopped one (a
/// failure there is a crash: it is a decoder bug).
enum SnapshotTarget {
    static let maxMutations = 64

    static func mutations(_ data: [UInt8]) -> [MutableImage.Mutation] {
        var input = InputCursor(data)
        var result: [MutableImage.Mutation] = []
        while !input.isAtEnd, result.count < maxMutations {
            let selector = input.u8()
            let kind = MutableImage.AreaKind.allCases[Int(selector) % MutableImage.AreaKind.allCases.count]
            result.append(MutableImage.Mutation(kind: kind, area: Int(input.u32()), offset: Int(input.u32()),
                                                width: 1 << ((Int(selector) >> 2) % 4), value: input.u64()))
        }
        return result
    }

    static func run(_ data: [UInt8], environment: Environment) {
        guard let target = environment.target else { return }
        let mutations = mutations(data)
        let damaged = target.applying(mutations)
        let result = try? SnapshotReplay(image: environment.image, symbolizer: environment.symbolizer, memory: damaged)
        guard let result else { return }
        if let problem = ImageCheck.problem(result, against: target, mutations) {
            fatalError("snapshot decoder: \(problem) after \(mutations)")
        }
        // Read as without stopping (each record checked, one that fails re-read in its place):
        // memory that does not change decodes to the same goroutines, the same counted unreadable.
        if let unstopped = try? SnapshotReader(image: environment.image, memory: damaged).read(consistent: false),
           unstopped.goroutines != result.snapshot.goroutines
            || unstopped.unreadableGoroutines != result.snapshot.unreadableGoroutines {
            fatalError("snapshot decoder: read without stopping gave \(unstopped.goroutines.count) goroutines "
                       + "(\(unstopped.unreadableGoroutines) unreadable), stopped \(result.snapshot.goroutines.count) "
                       + "(\(result.snapshot.unreadableGoroutines)) after \(mutations)")
        }
    }
}

/// What a damaged image's result must satisfy (shared with the mutated-image test).
public enum ImageCheck {
    /// nil when `result` is acceptable, else what is wrong with it.
    public static func problem(_ result: SnapshotReplay, against target: MutableImage,
                               _ mutations: [MutableImage.Mutation]) -> String? {
        var seen = Set<UInt64>()
        for goroutine in result.goroutines where !seen.insert(goroutine.address).inserted {
            return "g 0x\(String(goroutine.address, radix: 16)) listed twice"
        }
        if result.goroutines.count > result.snapshot.allgs.count {
            return "\(result.goroutines.count) goroutines from \(result.snapshot.allgs.count) gs"
        }
        let byAddress = Dictionary(result.goroutines.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, expected) in target.baseline.goroutines.enumerated() where !target.touches(goroutine: index, mutations) {
            guard let got = byAddress[expected.address] else {
                return "untouched goroutine \(expected.header) missing"
            }
            if got != expected {
                return "untouched goroutine \(expected.header) decoded differently: \(got)"
            }
        }
        return nil
    }
}
