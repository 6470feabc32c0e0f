/// profile.proto's Profile message, written to the wire as it is built: strings, functions and
/// locations interned (ids 1-based, in order of first use; string_table[0] = ""), the main
/// binary's mapping and the samples, each repeated field gathered in its own writer so that
/// `serialized` can put them in field-number order.
struct ProfileMessage {
    /// A sample_type or period_type: string-table indices.
    struct ValueType {
        var type: Int64
        var unit: Int64
    }

    private struct FunctionKey: Hashable { var name: String, file: String, startLine: Int64 }

    private var samples = ProtobufWriter()
    private var mapping = ProtobufWriter()
    private var locations = ProtobufWriter()
    private var functions = ProtobufWriter()
    private var strings = ProtobufWriter()
    private var stringIndex: [String: Int64] = [:]
    private var functionIDs: [FunctionKey: UInt64] = [:]
    private var locationIDs: [ProfileLocation: UInt64] = [:]

    init() {
        _ = string("")
    }

    mutating func string(_ s: String) -> Int64 {
        if let index = stringIndex[s] { return index }
        let index = Int64(stringIndex.count)
        strings.string(6, s)  // string_table
        stringIndex[s] = index
        return index
    }

    /// The main binary's mapping (id 1). Every location comes symbolized: pprof must not try
    /// to symbolize it again.
    mutating func addMapping(_ binary: ProfileMapping) {
        let path = string(binary.path), buildID = string(binary.buildID ?? "")
        mapping.message(3) {
            $0.integer(1, 1 as UInt64)  // id
            $0.integer(2, binary.start)  // memory_start
            $0.integer(3, binary.limit)  // memory_limit
            $0.integer(4, binary.offset)  // file_offset
            $0.integer(5, path)  // filename
            $0.integer(6, buildID)  // build_id
            $0.flag(7, true)  // has_functions
            $0.flag(8, true)  // has_filenames
            $0.flag(9, true)  // has_line_numbers
            $0.flag(10, true)  // has_inline_frames
        }
    }

    /// A sample: its stack (location ids, innermost first), its values (one per sample type)
    /// and its string labels (string-table indices).
    mutating func addSample(locationIDs: [UInt64], values: [Int64], labels: [(key: Int64, value: Int64)]) {
        samples.message(2) {
            $0.packed(1, locationIDs)  // location_id
            $0.packed(2, values)  // value
            for label in labels {
                $0.message(3) { $0.integer(1, label.key); $0.integer(2, label.value) }  // label: key, str
            }
        }
    }

    mutating func location(_ location: ProfileLocation, in binary: ProfileMapping?) -> UInt64 {
        if let id = locationIDs[location] { return id }
        let id = UInt64(locationIDs.count + 1)
        let lines = location.lines.map { (functionID: function($0), line: $0.line) }
        let inBinary = binary.map { $0.start <= location.address && location.address < $0.limit } ?? false
        locations.message(4) {
            $0.integer(1, id)  // id
            $0.integer(2, inBinary ? 1 as UInt64 : 0)  // mapping_id
            $0.integer(3, location.address)  // address
            for line in lines {
                $0.message(4) { $0.integer(1, line.functionID); $0.integer(2, line.line) }  // line: function_id, line
            }
        }
        locationIDs[location] = id
        return id
    }

    private mutating func function(_ line: ProfileLine) -> UInt64 {
        let key = FunctionKey(name: line.function, file: line.file, startLine: line.startLine)
        if let id = functionIDs[key] { return id }
        let id = UInt64(functionIDs.count + 1)
        let name = string(line.function), file = string(line.file)
        functions.message(5) {
            $0.integer(1, id)  // id
            $0.integer(2, name)  // name
            $0.integer(3, name)  // system_name: Go has no mangled names; the runtime writes the name twice.
            $0.integer(4, file)  // filename
            $0.integer(5, line.startLine)  // start_line
        }
        functionIDs[key] = id
        return id
    }

    /// The whole message: these fields around what was built.
    func serialized(
        sampleTypes: [ValueType], periodType: ValueType, period: Int64,
        timeNanos: Int64, durationNanos: Int64 = 0, comments: [Int64] = []
    ) -> [UInt8] {
        var profile = ProtobufWriter()
        for sampleType in sampleTypes { profile.message(1) { Self.write(sampleType, to: &$0) } }  // sample_type
        profile.append(samples)  // 2
        profile.append(mapping)  // 3
        profile.append(locations)  // 4
        profile.append(functions)  // 5
        profile.append(strings)  // 6, string_table
        profile.integer(9, timeNanos)  // time_nanos
        profile.integer(10, durationNanos)  // duration_nanos
        profile.message(11) { Self.write(periodType, to: &$0) }  // period_type
        profile.integer(12, period)  // period
        profile.packed(13, comments)  // comment
        return profile.bytes
    }

    private static func write(_ valueType: ValueType, to message: inout ProtobufWriter) {
        message.integer(1, valueType.type)  // type
        message.integer(2, valueType.unit)  // unit
    }
}
