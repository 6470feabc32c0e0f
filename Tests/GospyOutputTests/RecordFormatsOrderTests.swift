import Testing

@testable import GospyOutput

/// The same samples give the same file, whatever order their stacks and locations were first
/// seen in: stacks that tie on count and folded names (two call sites in one function) must
/// still be written in one order.
extension RecordFormatsTests {
    /// One aggregated stack as the recorder would see it.
    struct StackSpec {
        var locations: [ProfileLocation]
        var state = "running"
        var goroutine: UInt64? = nil
        var labels: [SampleProfile.Label] = []
        var count: Int64
    }

    static func location(_ address: UInt64, _ function: String, line: Int64 = 10, file: String = "main.go") -> ProfileLocation {
        ProfileLocation(address: address, lines: [ProfileLine(function: function, file: file, line: line)])
    }

    /// Stacks with the same count and the same folded frames but different locations (call
    /// sites, lines, files) or label sets, next to stacks that tie with nothing.
    static let tiedStacks: [StackSpec] = {
        let main = location(0x402000, "main.main")
        return [
            StackSpec(locations: [location(0x401010, "main.f"), main], count: 7),
            StackSpec(locations: [location(0x401020, "main.f"), main], count: 7),
            StackSpec(locations: [location(0x401030, "main.f"), location(0x402010, "main.main")], count: 7),
            StackSpec(locations: [location(0x401010, "main.f", line: 12), main], count: 7),
            StackSpec(locations: [location(0x401040, "main.f", file: "other.go"), main], count: 7),
            // Tie on folded names only (speedscope orders by them, not by count).
            StackSpec(locations: [location(0x401050, "main.f"), main], count: 3),
            // Both fold to "[labels a=b=c]".
            StackSpec(locations: [location(0x401060, "main.g"), main], labels: [.init(key: "a", value: "b=c")], count: 5),
            StackSpec(locations: [location(0x401060, "main.g"), main], labels: [.init(key: "a=b", value: "c")], count: 5),
            StackSpec(locations: [location(0x403000, "runtime.gopark"), main], state: "sleep", count: 40),
            StackSpec(locations: [location(0x404000, "main.h"), main], state: "sleep", goroutine: 9, count: 2),
        ]
    }()

    /// A profile of `stacks`, its locations interned and its keys added in shuffled orders.
    static func profile(_ stacks: [StackSpec], using generator: inout some RandomNumberGenerator) -> SampleProfile {
        let profile = SampleProfile()
        for location in stacks.flatMap(\.locations).shuffled(using: &generator) { _ = profile.intern(location) }
        for stack in stacks.shuffled(using: &generator) {
            let key = SampleProfile.Key(
                locations: stack.locations.map { profile.intern($0) }, state: stack.state,
                goroutine: stack.goroutine, labels: stack.labels)
            profile.add(key, count: stack.count)
        }
        profile.samples = 10
        profile.durationNanos = 100_000_000
        return profile
    }

    /// Every format's bytes for `profile`.
    static func outputs(_ profile: SampleProfile) throws -> [String: [UInt8]] {
        [
            "pprof": SampledPprofWriter.message(profile, mainBinary: nil, nominalRate: 100),
            "collapsed": Array(CollapsedWriter.render(profile).utf8),
            "speedscope": try SpeedscopeWriter.render(profile, name: "test", nominalRate: 100),
            "flamegraph": Array(FlameGraphWriter.render(profile, options: .init(title: "t", subtitle: "s")).utf8),
        ]
    }

    @Test func tiedStacksAreWrittenInOneOrderWhateverTheInsertionOrder() throws {
        var generator = SystemRandomNumberGenerator()
        let first = try Self.outputs(Self.profile(Self.tiedStacks, using: &generator))
        for round in 0..<40 {
            let again = try Self.outputs(Self.profile(Self.tiedStacks, using: &generator))
            for (format, bytes) in first {
                let same = again[format] == bytes
                #expect(same, "\(format) differs in round \(round)")
            }
        }
    }

    @Test func pprofOrdersByCountThenFoldedThenLocations() throws {
        var generator = SystemRandomNumberGenerator()
        let profile = Self.profile(Self.tiedStacks, using: &generator)
        let message = try DecodedProfile(SampledPprofWriter.message(profile, mainBinary: nil, nominalRate: 100))
        #expect(message.sample.count == Self.tiedStacks.count)
        #expect(message.sample.map { $0.value[0] } == Self.tiedStacks.map(\.count).sorted(by: >))
        // The five main.f stacks of count 7, innermost addresses in order; the same address
        // with the later line after the earlier one.
        let tied = message.sample.filter { $0.value[0] == 7 }.map { sample in
            sample.locationID.map { message.location[Int($0) - 1] }
        }
        let innermost = tied.map { $0[0].address }
        #expect(innermost == [0x401010, 0x401010, 0x401020, 0x401030, 0x401040])
        #expect(tied[0][0].line[0].line == 10 && tied[1][0].line[0].line == 12)
    }

    /// A key naming locations the profile never interned (negative, or past the end) is
    /// written as if it named only the ones it has: no format traps on it.
    @Test func indicesNamingNoLocationArePassedOver() throws {
        let clean = SampleProfile()
        let damaged = SampleProfile()
        for profile in [clean, damaged] {
            let f = profile.intern(Self.location(0x401010, "main.f"))
            let main = profile.intern(Self.location(0x402000, "main.main"))
            profile.add(SampleProfile.Key(locations: profile === damaged ? [-1, f, 99, main, Int32.max] : [f, main], state: "running"),
                        count: 3)
            profile.samples = 3
            profile.durationNanos = 30_000_000
        }
        let expected = try Self.outputs(clean)
        let written = try Self.outputs(damaged)
        for (format, bytes) in expected {
            #expect(written[format] == bytes, "\(format)")
        }
    }
}
