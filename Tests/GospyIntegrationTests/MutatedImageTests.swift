import Foundation
import GospyFuzzTargets
import GospyInspector
import GospyMemory
import GospyRuntime
import GospyTestSupport
import Testing

/// The snapshot decoder over a real target's memory, damaged: the memory a snapshot of a
/// running TestTarget reads is captured, then thousands of seeded, reproducible sets of
/// mutations are written into its g structs, stacks, allgs and labels, and each damaged image
/// is decoded, walked and rendered. Nothing may trap (this process would die); every goroutine
/// whose memory no mutation touched must decode exactly as in the undamaged image; the others
/// may be marked unreadable or truncated or decode to what their damaged bytes say; never a
/// goroutine listed twice or more goroutines than allgs holds.
@Suite(.serialized) struct MutatedImageTests {
    /// A non-PIE build (the image is replayed at link addresses) with labels (1.24+ layout).
    static var sample: TargetBinary? {
        TestTargets.binary(release: TestTargets.newestRelease, mode: "plain") ?? TestTargets.matrix.last { $0.mode == "plain" }
    }

    /// Values damage tends to take: zeros, all ones, small and huge counts, sign flips, and
    /// pointers into the image itself (so damaged pointers lead somewhere readable).
    static func value(_ random: inout SeededGenerator, image: MutableImage) -> UInt64 {
        let regions = image.memory.regions
        switch random.next() % 8 {
        case 0: return 0
        case 1: return UInt64.max
        case 2: return random.next() % 64
        case 3: return 1 << (random.next() % 64)
        case 4: return random.next()
        case 5: return UInt64(Int32.max) &+ random.next() % 4
        default:
            let region = regions[Int(random.next() % UInt64(regions.count))]
            return region.address &+ random.next() % UInt64(max(1, region.bytes.count))
        }
    }

    static func mutations(_ random: inout SeededGenerator, image: MutableImage) -> [MutableImage.Mutation] {
        (0..<(1 + Int(random.next() % 8))).map { _ in
            let kinds = MutableImage.AreaKind.allCases
            return MutableImage.Mutation(
                kind: kinds[Int(random.next() % UInt64(kinds.count))], area: Int(random.next() % (1 << 30)),
                offset: Int(random.next() % (1 << 30)) & ~7 | (random.next() % 4 == 0 ? Int(random.next() % 8) : 0),
                width: [1, 2, 4, 8, 8, 8][Int(random.next() % 6)], value: value(&random, image: image))
        }
    }

    @Test func damagedImagesNeverTrap() throws {
        let binary = try #require(Self.sample, "no plain test target: run scripts/build-targets.sh")
        let (memory, image, symbolizer) = try CapturedTargetImage(binary).parts
        let mutable = try MutableImage(memory: memory, image: image, symbolizer: symbolizer)
        // The undamaged image decodes to the target's parked set, walked to the end.
        let baseline = mutable.baseline.goroutines
        #expect(baseline.count >= 20)
        #expect(baseline.filter { $0.frames.contains { $0.hasPrefix("main.park") } }.count >= 20)
        #expect(baseline.contains { !$0.labels.isEmpty }, "the parked set has labelled goroutines")
        #expect(mutable.areas.values.allSatisfy { !$0.isEmpty } && mutable.areas.count == MutableImage.AreaKind.allCases.count)

        var random = SeededGenerator(seed: 12)
        // scripts/endurance.sh runs the count README reports.
        let rounds = ProcessInfo.processInfo.environment["GOSPY_ENDURANCE"] == "full" ? 10_000 : 1000
        var outcomes: [String: Int] = [:]
        for round in 0..<rounds {
            let mutations = Self.mutations(&random, image: mutable)
            let damaged = mutable.applying(mutations)
            guard let result = try? SnapshotReplay(image: image, symbolizer: symbolizer, memory: damaged) else {
                // Refusing the whole snapshot is for a damaged allgs header only.
                #expect(mutable.touchesAllgsHeader(mutations) || mutations.contains { $0.kind == .allgs },
                        "round \(round): snapshot refused after \(mutations)")
                outcomes["snapshot refused (allgs damaged)", default: 0] += 1
                continue
            }
            if let problem = ImageCheck.problem(result, against: mutable, mutations) {
                Issue.record("round \(round): \(problem) after \(mutations)")
            }
            let unchanged = result.goroutines == baseline
            if unchanged { outcomes["identical", default: 0] += 1 }
            if result.snapshot.unreadableGoroutines > mutable.baseline.snapshot.unreadableGoroutines {
                outcomes["goroutines marked unreadable", default: 0] += 1
            }
            if result.goroutines.filter(\.truncated).count > baseline.filter(\.truncated).count {
                outcomes["stacks marked truncated", default: 0] += 1
            }
            if !unchanged { outcomes["touched goroutines decoded differently", default: 0] += 1 }
        }
        print("mutated images (\(rounds) rounds, \(baseline.count) goroutines): "
              + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }

    /// A goroutine whose labels cannot be read is marked, never shown as having none: its
    /// labels structure's first word (the 1.24+ slice's data, or the hmap pointer) pointed at
    /// unmapped memory, and (1.24+) its pair count made implausible. Every goroutine sharing
    /// that labels pointer is marked; every other one decodes as undamaged.
    @Test func unreadableLabelsAreMarked() throws {
        let binary = try #require(Self.sample, "no plain test target: run scripts/build-targets.sh")
        let (memory, image, symbolizer) = try CapturedTargetImage(binary).parts
        let mutable = try MutableImage(memory: memory, image: image, symbolizer: symbolizer)
        let baseline = mutable.baseline
        let labelled = try #require(baseline.snapshot.goroutines.first { goroutine in
            goroutine.labels != 0 && baseline.goroutines.contains { $0.address == goroutine.address && !$0.labels.isEmpty }
        }, "the parked set has labelled goroutines")
        let labelMap = labelled.labels
        var damages: [(offset: UInt64, value: UInt64)] = [(0, 0x10)]
        if image.executable.version.atLeast(1, 24) { damages.append((8, 1 << 40)) }
        for damage in damages {
            let at = labelMap &+ damage.offset
            let areas = try #require(mutable.areas[.labels])
            let area = try #require(areas.firstIndex { $0.address <= at && at &+ 8 <= $0.address &+ UInt64($0.length) },
                                    "the labels structure at 0x\(String(at, radix: 16)) was read")
            let mutation = MutableImage.Mutation(kind: .labels, area: area, offset: Int(at - areas[area].address),
                                                 width: 8, value: damage.value)
            let result = try SnapshotReplay(image: image, symbolizer: symbolizer, memory: mutable.applying([mutation]))
            if let problem = ImageCheck.problem(result, against: mutable, [mutation]) { Issue.record("\(problem)") }
            let sharing = Set(result.snapshot.goroutines.filter { $0.labels == labelMap }.map(\.address))
            #expect(sharing.contains(labelled.address))
            for rendered in result.goroutines {
                if sharing.contains(rendered.address) {
                    #expect(rendered.labelsUnreadable, "goroutine at 0x\(String(rendered.address, radix: 16)): \(rendered.labels)")
                } else {
                    #expect(!rendered.labelsUnreadable && rendered.labels == baseline.goroutines.first { $0.address == rendered.address }?.labels)
                }
            }
            print("labels at +\(damage.offset) = 0x\(String(damage.value, radix: 16)): "
                  + (result.goroutines.first { $0.address == labelled.address }?.labels.joined() ?? "?"))
        }
    }
}
