import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

@testable import GospyOutput

/// The record formats over a profile with known samples: what each writes must say exactly
/// what was counted.
@Suite struct RecordFormatsTests {
    /// Three stacks: a sleeper (x50 per round), a worker in two functions (one inlined), and a
    /// frame whose name holds the collapsed format's separator.
    static func fixture() -> SampleProfile {
        let profile = SampleProfile()
        let gopark = profile.intern(ProfileLocation(address: 0x401000, lines: [ProfileLine(function: "runtime.gopark", file: "proc.go", line: 10)]))
        let sleep = profile.intern(ProfileLocation(address: 0x402000, lines: [ProfileLine(function: "time.Sleep", file: "time.go", line: 20)]))
        let sleeper = profile.intern(ProfileLocation(address: 0x403000, lines: [ProfileLine(function: "main.sleeper", file: "main.go", line: 30)]))
        let spin = profile.intern(ProfileLocation(address: 0x404000, lines: [
            ProfileLine(function: "main.spin", file: "main.go", line: 40), ProfileLine(function: "main.spinA", file: "main.go", line: 41),
        ]))
        let spinB = profile.intern(ProfileLocation(address: 0x405000, lines: [ProfileLine(function: "main.spinB", file: "main.go", line: 50)]))
        let worker = profile.intern(ProfileLocation(address: 0x406000, lines: [ProfileLine(function: "main.worker", file: "main.go", line: 60)]))
        let odd = profile.intern(ProfileLocation(address: 0x407000, lines: [ProfileLine(function: "main.odd;name", file: "main.go", line: 70)]))
        profile.add(.init(locations: [gopark, sleep, sleeper], state: "sleep"), count: 50 * 100)
        profile.add(.init(locations: [spin, worker], state: "running"), count: 75)
        profile.add(.init(locations: [spinB, worker], state: "running", labels: [.init(key: "job", value: "b")]), count: 25)
        profile.add(.init(locations: [odd], state: "chan receive", goroutine: 7), count: 3)
        profile.samples = 100
        profile.durationNanos = 1_000_000_000
        profile.notes = ["process 1 exited after 1.0 s of recording"]
        return profile
    }

    @Test func foldedStacksAreRootedAtTheStateAndOutermostFirst() {
        let folded = Dictionary(uniqueKeysWithValues: Self.fixture().foldedStacks().map { ($0.frames, $0.count) })
        #expect(folded[["[sleep]", "main.sleeper", "time.Sleep", "runtime.gopark"]] == 5000)
        #expect(folded[["[running]", "main.worker", "main.spinA", "main.spin"]] == 75)
        #expect(folded[["[running]", "[labels job=b]", "main.worker", "main.spinB"]] == 25)
        #expect(folded[["[chan receive]", "[goroutine 7]", "main.odd;name"]] == 3)
        #expect(folded.count == 4)
    }

    @Test func collapsedRoundTrips() {
        let profile = Self.fixture()
        let text = CollapsedWriter.render(profile)
        let parsed = CollapsedWriter.parse(text)
        var expected: [[String]: Int64] = [:]
        for (frames, count) in profile.foldedStacks() { expected[frames.map(CollapsedWriter.frameName), default: 0] += count }
        #expect(parsed == expected)
        #expect(parsed.values.reduce(0, +) == profile.stackCount)
        #expect(text.contains("[chan receive];[goroutine 7];main.odd:name 3\n"))
        // Written again from what was read, the same lines.
        let lines = parsed.map { $0.key.joined(separator: ";") + " \($0.value)" }.sorted()
        #expect(lines == text.split(separator: "\n").map(String.init).sorted())
    }

    @Test func speedscopeHasTheSchemasStructure() throws {
        let profile = Self.fixture()
        let bytes = try SpeedscopeWriter.render(profile, name: "test", nominalRate: 100)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(json["$schema"] as? String == "https://www.speedscope.app/file-format-schema.json")
        let frames = try #require((json["shared"] as? [String: Any])?["frames"] as? [[String: Any]])
        #expect(frames.allSatisfy { $0["name"] is String })
        let profiles = try #require(json["profiles"] as? [[String: Any]])
        #expect(profiles.count == 1)
        let sampled = profiles[0]
        #expect(sampled["type"] as? String == "sampled")
        #expect(sampled["unit"] as? String == "seconds")
        let samples = try #require(sampled["samples"] as? [[Int]])
        let weights = try #require(sampled["weights"] as? [Double])
        #expect(samples.count == weights.count && samples.count == 4)
        #expect(samples.allSatisfy { $0.allSatisfy { $0 >= 0 && $0 < frames.count } })
        // Each goroutine sample stands for the mean interval: 1 s / 100 samples.
        let total = weights.reduce(0, +)
        #expect(abs(total - Double(profile.stackCount) * 0.01) < 1e-6)
        #expect(sampled["startValue"] as? Double == 0)
        #expect(abs((sampled["endValue"] as? Double ?? -1) - total) < 1e-6)
        let names = samples.map { $0.map { frames[$0]["name"] as? String ?? "" } }
        #expect(names.contains(["[running]", "main.worker", "main.spinA", "main.spin"]))
        #expect((json["name"] as? String)?.contains("exited") == true)
    }

    @Test func pprofHasWallAndSampleTotalsAndStateLabels() throws {
        let profile = Self.fixture()
        let message = try DecodedProfile(SampledPprofWriter.message(profile, mainBinary: nil, nominalRate: 100))
        let strings = message.stringTable
        func s(_ index: Int64) -> String { strings[Int(index)] }
        #expect(message.sampleType.map { [s($0.type), s($0.unit)] } == [["samples", "count"], ["wall", "nanoseconds"]])
        #expect(message.period == 10_000_000)
        #expect(message.sample.reduce(0) { $0 + $1.value[0] } == profile.stackCount)
        #expect(message.sample.allSatisfy { $0.value[1] == $0.value[0] * 10_000_000 })
        let states = message.sample.map { sample in sample.label.first { s($0.key) == "state" }.map { s($0.str) } ?? "" }
        #expect(Set(states) == ["sleep", "running", "chan receive"])
        #expect(message.comment.map(s) == profile.notes)
        // Encodes (gzipped) without error.
        #expect(try SampledPprofWriter.encode(profile, mainBinary: nil, nominalRate: 100).prefix(2) == [0x1f, 0x8b])
    }

    @Test func flameGraphDrawsEveryFrameWithItsShare() throws {
        let profile = Self.fixture()
        let svg = FlameGraphWriter.render(profile, options: .init(title: "t <&>", subtitle: "s"))
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains("t &lt;&amp;&gt;"))
        // XML that parses, and one frame per distinct (path) node, root first.
        _ = try XMLDocument(data: Data(svg.utf8))
        let frames = try Regex(#"<g class="frame" data-name="([^"]*)" data-samples="([0-9]+)">"#)
        let found = svg.matches(of: frames).map { (String($0.output[1].substring ?? ""), Int64($0.output[2].substring ?? "") ?? -1) }
        let names = found.map(\.0).map { $0.replacingOccurrences(of: "&quot;", with: "\"") }
        #expect(names.first == "all")
        #expect(found.first?.1 == profile.stackCount)
        #expect(names.filter { $0 == "main.worker" }.count == 2, "under [running] and under its label root")
        #expect(names.contains("main.odd;name") && names.contains("[sleep]"))
        #expect(!svg.contains("href=") && !svg.contains("src="), "nothing loaded from elsewhere")
    }
}
