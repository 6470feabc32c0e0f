/// A wall-clock profile as profile.proto (gzipped), in the shape of fgprof's: sample types
/// samples/count and wall/nanoseconds, each goroutine's state (and goroutine id, and pprof
/// labels) as sample labels, so `go tool pprof -top` totals the samples and `-tagfocus=state=running`
/// keeps the on-CPU ones.
public enum SampledPprofWriter {
    public static func encode(_ profile: SampleProfile, mainBinary: ProfileMapping?, nominalRate: Double) throws(GoroutineProfileError) -> [UInt8] {
        try message(profile, mainBinary: mainBinary, nominalRate: nominalRate).gzippedFile()
    }

    static func message(_ profile: SampleProfile, mainBinary: ProfileMapping?, nominalRate: Double) -> Perftools_Profiles_Profile {
        var builder = GoroutineProfileWriter.Builder()
        var message = Perftools_Profiles_Profile()
        let samples = builder.string("samples"), count = builder.string("count")
        let wall = builder.string("wall"), nanoseconds = builder.string("nanoseconds")
        message.sampleType = [.with { $0.type = samples; $0.unit = count }, .with { $0.type = wall; $0.unit = nanoseconds }]
        message.periodType = .with { $0.type = wall; $0.unit = nanoseconds }
        let period = profile.sampleNanos(nominalRate: nominalRate)
        message.period = period
        message.timeNanos = profile.startNanos
        message.durationNanos = profile.durationNanos
        message.comment = profile.notes.map { builder.string($0) }
        if let binary = mainBinary { message.mapping = [builder.mapping(binary)] }
        let stateKey = builder.string("state"), goroutineKey = builder.string("goroutine")
        // Largest first, then by stack: the same samples give the same file.
        let ordered = profile.counts.sorted { a, b in
            a.value != b.value ? a.value > b.value : profile.folded(a.key).lexicographicallyPrecedes(profile.folded(b.key))
        }
        for (key, samplesSeen) in ordered {
            let state = builder.string(key.state)
            var labels: [Perftools_Profiles_Label] = [.with { $0.key = stateKey; $0.str = state }]
            if let goroutine = key.goroutine {
                let value = builder.string(String(goroutine))
                labels.append(.with { $0.key = goroutineKey; $0.str = value })
            }
            for label in key.labels {
                let k = builder.string(label.key), v = builder.string(label.value)
                labels.append(.with { $0.key = k; $0.str = v })
            }
            let ids = key.locations.map { builder.location(profile.locations[Int($0)], in: mainBinary) }
            let (product, overflow) = samplesSeen.multipliedReportingOverflow(by: period)
            message.sample.append(.with {
                $0.locationID = ids
                $0.value = [samplesSeen, overflow ? Int64.max : product]
                $0.label = labels
            })
        }
        message.location = builder.locations
        message.function = builder.functions
        message.stringTable = builder.strings
        return message
    }
}
