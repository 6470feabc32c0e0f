/// One logical frame: a function and a line in it (an inlined call is one too).
public struct ProfileLine: Hashable, Sendable {
    public var function: String
    public var file: String
    public var line: Int64
    /// The line of the function's declaration (pprof shows it as `s=`); 0 when unknown.
    public var startLine: Int64

    public init(function: String, file: String, line: Int64, startLine: Int64 = 0) {
        self.function = function
        self.file = file
        self.line = line
        self.startLine = startLine
    }
}

/// One physical frame: its PC and its logical frames, innermost first (as profile.proto wants:
/// the inlined callees first, the function that holds the code last).
public struct ProfileLocation: Hashable, Sendable {
    /// The address pprof shows. For a caller's frame the runtime writes its return address
    /// minus one, so that the address falls inside the call instruction.
    public var address: UInt64
    public var lines: [ProfileLine]

    public init(address: UInt64, lines: [ProfileLine]) {
        self.address = address
        self.lines = lines
    }
}

/// A stack and how many goroutines have it, with their pprof labels.
public struct ProfileSample: Sendable {
    /// Innermost first.
    public var locations: [ProfileLocation]
    public var count: Int64
    public var labels: [(key: String, value: String)]

    public init(locations: [ProfileLocation], count: Int64 = 1, labels: [(key: String, value: String)] = []) {
        self.locations = locations
        self.count = count
        self.labels = labels
    }
}

/// The executable the addresses belong to: profile.proto's first Mapping.
public struct ProfileMapping: Hashable, Sendable {
    public var path: String
    public var buildID: String?
    /// Run-time address range [start, limit) and the file offset mapped at `start`.
    public var start: UInt64
    public var limit: UInt64
    public var offset: UInt64

    public init(path: String, buildID: String? = nil, start: UInt64, limit: UInt64, offset: UInt64 = 0) {
        self.path = path
        self.buildID = buildID
        self.start = start
        self.limit = limit
        self.offset = offset
    }
}

public enum GoroutineProfileError: Error, Equatable, Sendable {
    /// zlib failed; the status is zlib's (Z_STREAM_ERROR, Z_MEM_ERROR, ...).
    case compression(zlibStatus: Int32)
    /// More than zlib takes in one call (4 GiB).
    case tooLarge(bytes: Int)
}

public enum GoroutineProfileWriter {
    /// A goroutine profile as the runtime writes it (`pprof.Lookup("goroutine").WriteTo(w, 0)`),
    /// gzipped: sample_type [goroutine/count], period_type goroutine/count, period 1; one Function
    /// per distinct (name, file, startLine); one Location per distinct (address, lines), in the
    /// main mapping when its address falls in it; labels as string labels; string_table[0] = "".
    ///
    /// Samples with the same stack and the same labels (in any order) are merged into one with
    /// the summed count, and samples are written by decreasing count, as the runtime does.
    /// Negative counts make a delta profile (net/http/pprof's `seconds=`); stacks whose counts
    /// sum to zero are left out.
    public static func encode(
        _ samples: [ProfileSample], mainBinary: ProfileMapping?, timeNanos: Int64
    ) throws(GoroutineProfileError) -> [UInt8] {
        try Gzip.compress(profile(samples, mainBinary: mainBinary, timeNanos: timeNanos))
    }

    /// The serialized message, before gzip.
    static func profile(_ samples: [ProfileSample], mainBinary: ProfileMapping?, timeNanos: Int64) -> [UInt8] {
        var message = ProfileMessage()
        let goroutines = ProfileMessage.ValueType(type: message.string("goroutine"), unit: message.string("count"))
        if let binary = mainBinary { message.addMapping(binary) }
        for (key, count) in merged(samples) {
            let locationIDs = key.locations.map { message.location($0, in: mainBinary) }
            let labels = key.labels.map { (key: message.string($0.key), value: message.string($0.value)) }
            message.addSample(locationIDs: locationIDs, values: [count], labels: labels)
        }
        return message.serialized(sampleTypes: [goroutines], periodType: goroutines, period: 1, timeNanos: timeNanos)
    }

    private struct Label: Hashable, Comparable {
        var key: String, value: String
        static func < (a: Label, b: Label) -> Bool { (a.key, a.value) < (b.key, b.value) }
    }

    private struct SampleKey: Hashable {
        var locations: [ProfileLocation]
        var labels: [Label]
    }

    /// Identical stacks with identical label sets summed, by decreasing count, ties in input order.
    private static func merged(_ samples: [ProfileSample]) -> [(key: SampleKey, count: Int64)] {
        var merged: [(key: SampleKey, count: Int64)] = []
        var index: [SampleKey: Int] = [:]
        for sample in samples {
            // Labels sorted like the runtime's label sets, so the order callers give does not matter.
            let labels = sample.labels.map { Label(key: $0.key, value: $0.value) }.sorted()
            let key = SampleKey(locations: sample.locations, labels: labels)
            if let i = index[key] {
                merged[i].count += sample.count
            } else {
                index[key] = merged.count
                merged.append((key, sample.count))
            }
        }
        // A delta profile's stacks that cancel out are dropped, as pprof's Merge drops them.
        // Offsets break ties: sort is not documented to be stable.
        return merged.enumerated().filter { $0.element.count != 0 }
            .sorted { a, b in a.element.count != b.element.count ? a.element.count > b.element.count : a.offset < b.offset }
            .map(\.element)
    }
}
