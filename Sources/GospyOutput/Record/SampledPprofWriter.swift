/// A wall-clock profile as profile.proto (gzipped), in the shape of fgprof's: sample types
/// samples/count and wall/nanoseconds, each goroutine's state (and goroutine id, and pprof
/// labels) as sample labels, so `go tool pprof -top` totals the samples and `-tagfocus=state=running`
/// keeps the on-CPU ones.
public enum SampledPprofWriter {
    public static func encode(_ profile: SampleProfile, mainBinary: ProfileMapping?, nominalRate: Double) throws(GoroutineProfileError) -> [UInt8] {
        try Gzip.compress(message(profile, mainBinary: mainBinary, nominalRate: nominalRate))
    }

    /// The serialized message, before gzip.
    static func message(_ profile: SampleProfile, mainBinary: ProfileMapping?, nominalRate: Double) -> [UInt8] {
        var message = ProfileMessage()
        let samples = ProfileMessage.ValueType(type: message.string("samples"), unit: message.string("count"))
        let wall = ProfileMessage.ValueType(type: message.string("wall"), unit: message.string("nanoseconds"))
        let period = profile.sampleNanos(nominalRate: nominalRate)
        let comments = profile.notes.map { message.string($0) }
        if let binary = mainBinary { message.addMapping(binary) }
        let stateKey = message.string("state"), goroutineKey = message.string("goroutine")
        // Largest first, then in the profile's own order (by stack): the same samples give the
        // same file. Offsets break ties: sort is not documented to be stable.
        let ordered = profile.orderedStacks().enumerated().sorted { a, b in
            a.element.count != b.element.count ? a.element.count > b.element.count : a.offset < b.offset
        }
        for (key, samplesSeen, _) in ordered.map(\.element) {
            var labels = [(key: stateKey, value: message.string(key.state))]
            if let goroutine = key.goroutine {
                labels.append((goroutineKey, message.string(String(goroutine))))
            }
            for label in key.labels {
                labels.append((message.string(label.key), message.string(label.value)))
            }
            let ids = profile.places(of: key).map { message.location($0, in: mainBinary) }
            let (product, overflow) = samplesSeen.multipliedReportingOverflow(by: period)
            message.addSample(locationIDs: ids, values: [samplesSeen, overflow ? Int64.max : product], labels: labels)
        }
        return message.serialized(
            sampleTypes: [samples, wall], periodType: wall, period: period,
            timeNanos: profile.startNanos, durationNanos: profile.durationNanos, comments: comments
        )
    }
}
