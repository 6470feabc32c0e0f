import FoundationEssentials

/// A captured piece of another address space, saved to a file and loaded back as a
/// `BufferMemoryReader`: the memory one snapshot read (allgs, gs, stacks, labels, runtime
/// globals), so the snapshot decoder can be tested and fuzzed offline against a real target's
/// bytes. Format: "GOSPYMEM", a little-endian u64 region count, then per region a u64 address,
/// a u64 length and the bytes.
public enum MemoryImage {
    static let magic = Array("GOSPYMEM".utf8)
    /// Bounds on what a loaded file may declare (the file is input like any other).
    public static let maxRegions = 1 << 20
    public static let maxBytes = 1 << 30

    public enum FormatError: Error, Equatable, CustomStringConvertible {
        case notAnImage
        case truncated(region: Int)
        case tooLarge(String)
        public var description: String {
            switch self {
            case .notAnImage: return "not a gospy memory image (no GOSPYMEM header)"
            case let .truncated(region): return "memory image cut off in region \(region)"
            case let .tooLarge(what): return "memory image too large: \(what)"
            }
        }
    }

    public static func encode(_ reader: BufferMemoryReader) -> [UInt8] {
        var bytes = magic
        func append(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        append(UInt64(reader.regions.count))
        for region in reader.regions {
            append(region.address)
            append(UInt64(region.bytes.count))
            bytes.append(contentsOf: region.bytes)
        }
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(FormatError) -> BufferMemoryReader {
        guard bytes.count >= 16, Array(bytes[0..<8]) == magic else { throw .notAnImage }
        var position = 8
        func next() -> UInt64? {
            guard bytes.count - position >= 8 else { return nil }
            defer { position += 8 }
            return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: UInt64.self)) }
        }
        guard let count = next() else { throw .truncated(region: 0) }
        guard count <= UInt64(maxRegions) else { throw .tooLarge("\(count) regions") }
        var regions: [BufferMemoryReader.Region] = []
        var total = 0
        for index in 0..<Int(count) {
            guard let address = next(), let length = next() else { throw .truncated(region: index) }
            guard length <= UInt64(bytes.count - position) else { throw .truncated(region: index) }
            total += Int(length)
            guard total <= maxBytes else { throw .tooLarge("\(total) bytes") }
            regions.append(.init(address: address, bytes: Array(bytes[position..<(position + Int(length))])))
            position += Int(length)
        }
        return BufferMemoryReader(regions: regions)
    }

    public static func write(_ reader: BufferMemoryReader, to path: String) throws {
        try Data(encode(reader)).write(to: URL(fileURLWithPath: path))
    }

    public static func load(path: String) throws -> BufferMemoryReader {
        try decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }
}

/// Reads through another reader and remembers every range that was read, to save them as a
/// `MemoryImage`. Reads go one by one (no batching): for capturing small targets, not for speed.
public final class RecordingMemoryReader: MemoryReader, @unchecked Sendable {
    public let inner: MemoryReader
    private var ranges: [(address: UInt64, bytes: [UInt8])] = []
    private let lock = ThreadLock()

    public init(_ inner: MemoryReader) { self.inner = inner }

    public func read(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        try inner.read(from: address, into: buffer)
        let copy = Array(UnsafeRawBufferPointer(buffer))
        lock.withLock { ranges.append((address, copy)) }
    }

    /// Everything read so far, overlapping and adjacent ranges merged (later reads win).
    public func recorded() -> BufferMemoryReader {
        let sorted = lock.withLock { ranges }.enumerated().sorted { ($0.element.address, $0.offset) < ($1.element.address, $1.offset) }
        var merged: [(address: UInt64, bytes: [UInt8])] = []
        for (_, range) in sorted where !range.bytes.isEmpty {
            if var last = merged.last, range.address <= last.address &+ UInt64(last.bytes.count) {
                let start = Int(range.address - last.address)
                let end = start + range.bytes.count
                if end > last.bytes.count { last.bytes.append(contentsOf: repeatElement(0, count: end - last.bytes.count)) }
                last.bytes.replaceSubrange(start..<end, with: range.bytes)
                merged[merged.count - 1] = last
            } else {
                merged.append(range)
            }
        }
        return BufferMemoryReader(regions: merged.map { .init(address: $0.address, bytes: $0.bytes) })
    }
}
