/// A bounds-checked, little-endian view over bytes copied out of a binary or a process.
///
/// Every accessor throws `ByteViewError` instead of trapping, because the bytes come from
/// files and processes we do not trust.
public struct ByteView: Sendable {
    public let bytes: [UInt8]
    /// The address (or file offset) of `bytes[0]`, used only for messages and address maths.
    public let baseAddress: UInt64

    public init(bytes: [UInt8], baseAddress: UInt64 = 0) {
        self.bytes = bytes
        self.baseAddress = baseAddress
    }

    public var count: Int { bytes.count }

    @inline(__always)
    func check(_ offset: Int, _ size: Int) throws {
        guard offset >= 0, size >= 0, offset <= bytes.count, bytes.count - offset >= size else {
            throw ByteViewError.outOfBounds(offset: offset, size: size, available: bytes.count)
        }
    }

    /// Converts an unsigned offset from the data into an Int offset, rejecting huge values.
    @inline(__always)
    public static func offset<T: BinaryInteger>(_ value: T) throws -> Int {
        guard let offset = Int(exactly: value) else {
            throw ByteViewError.badOffset(String(value))
        }
        return offset
    }

    @inline(__always)
    public func u8(at offset: Int) throws -> UInt8 {
        try check(offset, 1)
        return bytes[offset]
    }

    @inline(__always)
    public func load<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) throws -> T {
        try check(offset, MemoryLayout<T>.size)
        return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    @inline(__always) func u16(at offset: Int) throws -> UInt16 { try load(UInt16.self, at: offset) }
    @inline(__always) public func u32(at offset: Int) throws -> UInt32 { try load(UInt32.self, at: offset) }
    @inline(__always) public func i32(at offset: Int) throws -> Int32 { try load(Int32.self, at: offset) }
    @inline(__always) public func u64(at offset: Int) throws -> UInt64 { try load(UInt64.self, at: offset) }

    /// An unsigned LEB128 varint; returns the value and the offset just past it.
    public func uvarint(at offset: Int) throws -> (value: UInt64, next: Int) {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var position = offset
        while true {
            let byte = try u8(at: position)
            position += 1
            guard shift < 64 else { throw ByteViewError.badVarint(offset: offset) }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return (result, position) }
            shift += 7
        }
    }

    /// A NUL-terminated string starting at `offset` (the end of the view also ends it).
    public func cString(at offset: Int, maxLength: Int = 1 << 16) throws -> String {
        try check(offset, 0)
        let end = min(bytes.count, offset + min(maxLength, bytes.count - offset))
        var terminator = offset
        while terminator < end, bytes[terminator] != 0 { terminator += 1 }
        return String(decoding: bytes[offset..<terminator], as: UTF8.self)
    }

    /// `count` bytes from `offset`.
    public func slice(at offset: Int, count: Int) throws -> ArraySlice<UInt8> {
        try check(offset, count)
        return bytes[offset..<(offset + count)]
    }

    /// A sub-view; its `baseAddress` is advanced accordingly.
    public func subview(at offset: Int, count: Int) throws -> ByteView {
        try check(offset, count)
        return ByteView(bytes: Array(bytes[offset..<(offset + count)]), baseAddress: baseAddress &+ UInt64(offset))
    }

    /// The first offset at or after `start` where `pattern` occurs.
    public func firstIndex(of pattern: [UInt8], from start: Int = 0) -> Int? {
        bytes.withUnsafeBytes { ByteSearch.firstIndex(of: pattern, in: $0, from: start) }
    }
}

public enum ByteViewError: Error, Equatable, CustomStringConvertible {
    case outOfBounds(offset: Int, size: Int, available: Int)
    case badVarint(offset: Int)
    case badOffset(String)

    public var description: String {
        switch self {
        case let .outOfBounds(offset, size, available):
            return "read of \(size) bytes at offset \(offset) is past the end (\(available) bytes)"
        case let .badVarint(offset):
            return "malformed varint at offset \(offset)"
        case let .badOffset(value):
            return "offset \(value) is out of range"
        }
    }
}
