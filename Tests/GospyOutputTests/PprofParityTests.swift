// TEMPORARY: the hand-written encoder against swift-protobuf, byte for byte; removed with the dependency.
import SwiftProtobuf
import Testing

@testable import GospyOutput

@Suite struct PprofParityTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomString(_ rng: inout SplitMix) -> String {
        let pool = ["", "main.f", "runtime.gopark", "é ü 日本", "a b", String(repeating: "x", count: 200), "k;v=\"q\"", "\u{0}"]
        let base = pool[Int(rng.next() % UInt64(pool.count))]
        return rng.next() % 3 == 0 ? base : base + String(rng.next() % 300)
    }

    static func randomLocation(_ rng: inout SplitMix) -> ProfileLocation {
        let addresses: [UInt64] = [0, 1, 0x400000, 0x4fffff, 0x500000, 0x7f00_0000_1000, 0xffff_ffff_ff60_0000, UInt64.max]
        let address = rng.next() % 2 == 0 ? addresses[Int(rng.next() % 8)] : 0x400000 + rng.next() % 0x200000
        let lines = (0..<Int(rng.next() % 4)).map { _ in
            ProfileLine(function: randomString(&rng), file: randomString(&rng),
                        line: Int64(bitPattern: rng.next() % 5 == 0 ? rng.next() : rng.next() % 100_000),
                        startLine: rng.next() % 3 == 0 ? 0 : Int64(rng.next() % 100_000))
        }
        return ProfileLocation(address: address, lines: lines)
    }

    @Test(arguments: 0..<300)
    func goroutineProfilesMatch(seed: Int) throws {
        var rng = SplitMix(state: UInt64(seed))
        let pool = (0..<Int(1 + rng.next() % 300)).map { _ in Self.randomLocation(&rng) }
        var samples = (0..<Int(rng.next() % 400)).map { _ in
            ProfileSample(
                locations: (0..<Int(rng.next() % 12)).map { _ in pool[Int(rng.next() % UInt64(pool.count))] },
                count: rng.next() % 4 == 0 ? -Int64(rng.next() % 5) : Int64(rng.next() % 1_000_000),
                labels: (0..<Int(rng.next() % 3)).map { _ in (Self.randomString(&rng), Self.randomString(&rng)) }
            )
        }
        samples += samples.prefix(Int(rng.next() % 10)).map { var s = $0; s.count = -s.count; return s }  // cancel some
        let binary: ProfileMapping? = seed % 4 == 0 ? nil : ProfileMapping(
            path: Self.randomString(&rng), buildID: seed % 3 == 0 ? nil : Self.randomString(&rng),
            start: 0x400000, limit: 0x500000, offset: seed % 2 == 0 ? 0 : rng.next())
        let time = seed % 5 == 0 ? 0 : Int64(bitPattern: rng.next())
        let legacy: [UInt8] = try LegacyPprof.legacyProfile(samples, mainBinary: binary, timeNanos: time).serializedBytes()
        let new = GoroutineProfileWriter.profile(samples, mainBinary: binary, timeNanos: time)
        #expect(legacy == new)
        #expect(try GoroutineProfileWriter.encode(samples, mainBinary: binary, timeNanos: time) == Gzip.compress(legacy))
    }

    @Test(arguments: 0..<300)
    func sampledProfilesMatch(seed: Int) throws {
        var rng = SplitMix(state: UInt64(seed) &+ 1_000_000)
        let profile = SampleProfile()
        // Each location's own function name: samples tied on count then sort by their folded
        // names, and equal folds would leave their order to Dictionary iteration.
        let ids = (0..<Int(1 + rng.next() % 200)).map { index in
            var location = Self.randomLocation(&rng)
            location.lines.append(ProfileLine(function: "unique\(index)", file: "f", line: 1))
            return profile.intern(location)
        }
        for _ in 0..<Int(rng.next() % 300) {
            let key = SampleProfile.Key(
                locations: (0..<Int(rng.next() % 10)).map { _ in ids[Int(rng.next() % UInt64(ids.count))] },
                state: ["running", "sleep", "chan receive", ""][Int(rng.next() % 4)],
                goroutine: rng.next() % 2 == 0 ? nil : rng.next() % 3 == 0 ? UInt64.max : rng.next() % 10_000,
                labels: (0..<Int(rng.next() % 3)).map { _ in .init(key: Self.randomString(&rng), value: Self.randomString(&rng)) })
            profile.add(key, count: rng.next() % 5 == 0 ? 1 << 40 : Int64(1 + rng.next() % 100_000))
        }
        profile.samples = Int(rng.next() % 1000)
        profile.durationNanos = seed % 3 == 0 ? 0 : Int64(rng.next() % 100_000_000_000)
        profile.startNanos = seed % 7 == 0 ? 0 : Int64(rng.next() % (1 << 62))
        profile.notes = (0..<Int(rng.next() % 3)).map { _ in Self.randomString(&rng) }
        let binary: ProfileMapping? = seed % 2 == 0 ? nil : ProfileMapping(path: "/bin/app", buildID: "id", start: 0x400000, limit: 0x500000)
        let rate = [100, 0.5, 1e-9, 1e6][seed % 4]
        let legacy: [UInt8] = try LegacyPprof.legacyMessage(profile, mainBinary: binary, nominalRate: rate).serializedBytes()
        #expect(legacy == SampledPprofWriter.message(profile, mainBinary: binary, nominalRate: rate))
        #expect(try SampledPprofWriter.encode(profile, mainBinary: binary, nominalRate: rate) == Gzip.compress(legacy))
    }

    @Test func fixturesMatch() throws {
        let legacy: [UInt8] = try LegacyPprof.legacyProfile(Fixture.samples, mainBinary: Fixture.binary, timeNanos: Fixture.time).serializedBytes()
        #expect(legacy == GoroutineProfileWriter.profile(Fixture.samples, mainBinary: Fixture.binary, timeNanos: Fixture.time))
        let empty: [UInt8] = try LegacyPprof.legacyProfile([], mainBinary: nil, timeNanos: 0).serializedBytes()
        #expect(empty == GoroutineProfileWriter.profile([], mainBinary: nil, timeNanos: 0))
        let record = RecordFormatsTests.fixture()
        let sampled: [UInt8] = try LegacyPprof.legacyMessage(record, mainBinary: Fixture.binary, nominalRate: 100).serializedBytes()
        #expect(sampled == SampledPprofWriter.message(record, mainBinary: Fixture.binary, nominalRate: 100))
    }
}
