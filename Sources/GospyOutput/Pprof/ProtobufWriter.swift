/// Protocol Buffers' wire format, as much of it as a pprof profile needs: varints, length-delimited
/// fields (strings and nested messages) and packed repeated integers.
///
/// Hand-written rather than generated with swift-protobuf: profile.proto is the only message
/// gospy writes, and the library was one dependency more to fetch and build on every CI run.
/// It writes what swift-protobuf wrote, byte for byte: proto3's zero values left out, repeated
/// integers packed, each field where its writer puts it (callers write fields in number order).
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    private enum WireType: UInt64 {
        case varint = 0
        case lengthDelimited = 2
    }

    /// An int64, uint64 or bool field; left out when zero, as proto3 does. A negative int64 takes
    /// ten bytes, its two's complement as a uint64.
    mutating func integer(_ field: UInt64, _ value: some FixedWidthInteger) {
        guard value != 0 else { return }
        key(field, .varint)
        varint(UInt64(truncatingIfNeeded: value))
    }

    mutating func flag(_ field: UInt64, _ value: Bool) {
        integer(field, value ? 1 : 0)
    }

    /// A repeated int64 or uint64 field as one packed run; left out when empty.
    mutating func packed<Integer: FixedWidthInteger>(_ field: UInt64, _ values: [Integer]) {
        guard !values.isEmpty else { return }
        key(field, .lengthDelimited)
        varint(values.reduce(0) { $0 + Self.varintSize(UInt64(truncatingIfNeeded: $1)) })
        for value in values { varint(UInt64(truncatingIfNeeded: value)) }
    }

    /// A string field, or one element of a repeated one (written even when empty).
    mutating func string(_ field: UInt64, _ value: String) {
        lengthDelimited(field, value.utf8)
    }

    /// A message field, or one element of a repeated one, its fields written by `body`.
    mutating func message(_ field: UInt64, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        body(&nested)
        lengthDelimited(field, nested.bytes)
    }

    /// Fields another writer holds, after these (a repeated field gathered on its own).
    mutating func append(_ fields: ProtobufWriter) {
        bytes += fields.bytes
    }

    private mutating func lengthDelimited(_ field: UInt64, _ content: some Collection<UInt8>) {
        key(field, .lengthDelimited)
        varint(UInt64(content.count))
        bytes += content
    }

    private mutating func key(_ field: UInt64, _ type: WireType) {
        varint(field << 3 | type.rawValue)
    }

    /// Seven bits a byte, least significant first; the high bit says another byte follows.
    private mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private static func varintSize(_ value: UInt64) -> UInt64 {
        value == 0 ? 1 : UInt64(64 - value.leadingZeroBitCount + 6) / 7
    }
}
