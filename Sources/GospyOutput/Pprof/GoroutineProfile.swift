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
    /// SwiftProtobuf refused to serialize the profile.
    case serialization(String)
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
        try profile(samples, mainBinary: mainBinary, timeNanos: timeNanos).gzippedFile()
    }

    /// The profile message before serialization.
    static func profile(
        _ samples: [ProfileSample], mainBinary: ProfileMapping?, timeNanos: Int64
    ) -> Perftools_Profiles_Profile {
        var builder = Builder()
        var profile = Perftools_Profiles_Profile()
        let goroutine = builder.string("goroutine"), count = builder.string("count")
        profile.sampleType = [.with { $0.type = goroutine; $0.unit = count }]
        profile.periodType = .with { $0.type = goroutine; $0.unit = count }
        profile.period = 1
        profile.timeNanos = timeNanos

        if let binary = mainBinary { profile.mapping = [builder.mapping(binary)] }

        for (key, count) in merged(samples) {
            profile.sample.append(.with {
                $0.locationID = key.locations.map { builder.location($0, in: mainBinary) }
                $0.value = [count]
                $0.label = key.labels.map { label in
                    .with { $0.key = builder.string(label.key); $0.str = builder.string(label.value) }
                }
            })
        }
        profile.location = builder.locations
        profile.function = builder.functions
        profile.stringTable = builder.strings
        return profile
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

    /// Interns strings, functions and locations; ids are 1-based, in order of first use.
    struct Builder {
        private struct FunctionKey: Hashable { var name: String, file: String, startLine: Int64 }

        private(set) var strings: [String] = [""]
        private var stringIndex: [String: Int64] = ["": 0]
        private(set) var functions: [Perftools_Profiles_Function] = []
        private var functionIDs: [FunctionKey: UInt64] = [:]
        private(set) var locations: [Perftools_Profiles_Location] = []
        private var locationIDs: [ProfileLocation: UInt64] = [:]

        mutating func string(_ s: String) -> Int64 {
            if let index = stringIndex[s] { return index }
            let index = Int64(strings.count)
            strings.append(s)
            stringIndex[s] = index
            return index
        }

        /// The main binary's mapping (id 1). Every location comes symbolized: pprof must not try
        /// to symbolize it again.
        mutating func mapping(_ binary: ProfileMapping) -> Perftools_Profiles_Mapping {
            let path = string(binary.path), buildID = string(binary.buildID ?? "")
            return .with {
                $0.id = 1
                $0.memoryStart = binary.start
                $0.memoryLimit = binary.limit
                $0.fileOffset = binary.offset
                $0.filename = path
                $0.buildID = buildID
                $0.hasFunctions_p = true
                $0.hasFilenames_p = true
                $0.hasLineNumbers_p = true
                $0.hasInlineFrames_p = true
            }
        }

        mutating func function(_ line: ProfileLine) -> UInt64 {
            let key = FunctionKey(name: line.function, file: line.file, startLine: line.startLine)
            if let id = functionIDs[key] { return id }
            let id = UInt64(functions.count + 1)
            let name = string(line.function), file = string(line.file)
            functions.append(.with {
                $0.id = id
                $0.name = name
                $0.systemName = name  // Go has no mangled names; the runtime writes the name twice.
                $0.filename = file
                $0.startLine = line.startLine
            })
            functionIDs[key] = id
            return id
        }

        mutating func location(_ location: ProfileLocation, in mapping: ProfileMapping?) -> UInt64 {
            if let id = locationIDs[location] { return id }
            let id = UInt64(locations.count + 1)
            let lines = location.lines.map { line in
                let functionID = function(line)
                return Perftools_Profiles_Line.with { $0.functionID = functionID; $0.line = line.line }
            }
            locations.append(.with {
                $0.id = id
                $0.address = location.address
                if let mapping, mapping.start <= location.address, location.address < mapping.limit {
                    $0.mappingID = 1
                }
                $0.line = lines
            })
            locationIDs[location] = id
            return id
        }
    }
}
