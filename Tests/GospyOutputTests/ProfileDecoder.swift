/// The Profile fields the tests check, read back from the wire (names as in profile.proto).
/// Only the test side: `go tool pprof` (PprofWriterTests) is the real reader, of every field.
struct DecodedProfile {
    struct ValueType { var type: Int64, unit: Int64 }
    struct Label { var key: Int64, str: Int64 }
    struct Sample { var locationID: [UInt64], value: [Int64], label: [Label] }
    struct Line { var functionID: UInt64, line: Int64 }
    struct Location { var id: UInt64, mappingID: UInt64, address: UInt64, line: [Line] }
    struct Function { var id: UInt64, name: Int64, systemName: Int64, filename: Int64, startLine: Int64 }
    struct Mapping {
        var id: UInt64, memoryStart: UInt64, memoryLimit: UInt64, filename: Int64, buildID: Int64
        var hasFunctions: Bool, hasInlineFrames: Bool
    }

    var sampleType: [ValueType]
    var sample: [Sample]
    var mapping: [Mapping]
    var location: [Location]
    var function: [Function]
    var stringTable: [String]
    var timeNanos: Int64
    var periodType: ValueType
    var period: Int64
    var comment: [Int64]

    /// Decodes a serialized (not gzipped) Profile.
    init(_ bytes: [UInt8]) throws {
        let profile = try WireMessage(bytes)
        func valueType(_ message: WireMessage) throws -> ValueType { ValueType(type: try message.int64(1), unit: try message.int64(2)) }
        sampleType = try profile.messages(1).map(valueType)
        sample = try profile.messages(2).map { sample in
            Sample(
                locationID: try sample.packed(1), value: try sample.packed(2).map { Int64(bitPattern: $0) },
                label: try sample.messages(3).map { Label(key: try $0.int64(1), str: try $0.int64(2)) }
            )
        }
        mapping = try profile.messages(3).map { mapping in
            Mapping(
                id: try mapping.uint64(1), memoryStart: try mapping.uint64(2), memoryLimit: try mapping.uint64(3),
                filename: try mapping.int64(5), buildID: try mapping.int64(6),
                hasFunctions: try mapping.uint64(7) == 1, hasInlineFrames: try mapping.uint64(10) == 1
            )
        }
        location = try profile.messages(4).map { location in
            Location(
                id: try location.uint64(1), mappingID: try location.uint64(2), address: try location.uint64(3),
                line: try location.messages(4).map { Line(functionID: try $0.uint64(1), line: try $0.int64(2)) }
            )
        }
        function = try profile.messages(5).map { function in
            Function(
                id: try function.uint64(1), name: try function.int64(2), systemName: try function.int64(3),
                filename: try function.int64(4), startLine: try function.int64(5)
            )
        }
        stringTable = try profile.lengthDelimited(6).map { String(decoding: $0, as: UTF8.self) }
        timeNanos = try profile.int64(9)
        periodType = try valueType(profile.messages(11).last ?? WireMessage([]))
        period = try profile.int64(12)
        comment = try profile.packed(13).map { Int64(bitPattern: $0) }
    }
}

/// One message's fields by number: varints and length-delimited runs, the two wire types
/// profile.proto's writer uses.
struct WireMessage {
    struct Malformed: Error { var reason: String }

    private enum Value { case varint(UInt64), lengthDelimited([UInt8]) }

    private var fields: [UInt64: [Value]] = [:]

    init(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let key = try Self.varint(bytes, &offset)
            switch key & 7 {
            case 0: fields[key >> 3, default: []].append(.varint(try Self.varint(bytes, &offset)))
            case 2:
                let length = try Self.varint(bytes, &offset)
                guard length <= UInt64(bytes.count - offset) else { throw Malformed(reason: "length \(length) past the end at \(offset)") }
                fields[key >> 3, default: []].append(.lengthDelimited(Array(bytes[offset..<offset + Int(length)])))
                offset += Int(length)
            default: throw Malformed(reason: "wire type \(key & 7) at \(offset)")
            }
        }
    }

    /// A singular integer field: its last value, 0 when absent (proto3 leaves zeros out).
    func uint64(_ field: UInt64) throws -> UInt64 {
        try (fields[field] ?? []).map { value in
            guard case .varint(let v) = value else { throw Malformed(reason: "field \(field) is not a varint") }
            return v
        }.last ?? 0
    }

    func int64(_ field: UInt64) throws -> Int64 { Int64(bitPattern: try uint64(field)) }

    /// A repeated string or message field's runs, in order.
    func lengthDelimited(_ field: UInt64) throws -> [[UInt8]] {
        try (fields[field] ?? []).map { value in
            guard case .lengthDelimited(let run) = value else { throw Malformed(reason: "field \(field) is not length-delimited") }
            return run
        }
    }

    func messages(_ field: UInt64) throws -> [WireMessage] { try lengthDelimited(field).map(WireMessage.init) }

    /// A packed repeated integer field's values.
    func packed(_ field: UInt64) throws -> [UInt64] {
        var values: [UInt64] = []
        for run in try lengthDelimited(field) {
            var offset = 0
            while offset < run.count { values.append(try Self.varint(run, &offset)) }
        }
        return values
    }

    private static func varint(_ bytes: [UInt8], _ offset: inout Int) throws -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 70, by: 7) {
            guard offset < bytes.count else { throw Malformed(reason: "varint past the end") }
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return value }
        }
        throw Malformed(reason: "varint longer than ten bytes")
    }
}
