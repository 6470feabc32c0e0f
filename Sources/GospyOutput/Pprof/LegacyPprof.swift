// TEMPORARY: the swift-protobuf writers, kept only for the parity test; removed with the dependency.
import SwiftProtobuf

enum LegacyPprof {
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

    /// The profile message before serialization.
    static func legacyProfile(
        _ samples: [ProfileSample], mainBinary: ProfileMapping?, timeNanos: Int64
    ) -> Perftools_Profiles_Profile {
        var builder = LegacyBuilder()
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

    static func legacyMessage(_ profile: SampleProfile, mainBinary: ProfileMapping?, nominalRate: Double) -> Perftools_Profiles_Profile {
        var builder = LegacyPprof.LegacyBuilder()
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
    /// Interns strings, functions and locations; ids are 1-based, in order of first use.
    struct LegacyBuilder {
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
