#if canImport(Glibc)
import Glibc
#endif

/// Fixed-size records read from many addresses at once (goroutines, Ps, Ms): one buffer, one
/// validity flag per record, and bounds-checked accessors, so a million records cost one
/// allocation and no per-record copies.
public struct GatheredMemory: Sendable {
    public let addresses: [UInt64]
    /// The size of a record in the target (its bytes are read by these offsets).
    public let recordSize: Int
    /// Which of a record's bytes are kept (and stored packed, `shape.storedSize` a record).
    public let shape: RecordShape
    private var buffer: GatherBuffer
    /// The record bytes (also to hand back to the reader for its next gather: `MemoryReader.recycle`).
    public var bytes: [UInt8] { buffer.bytes }
    /// Whether record i could be read.
    public var valid: [Bool] { buffer.valid }

    /// - Parameter storage: a buffer to reuse (already paged in), used when large enough.
    public init(addresses: [UInt64], recordSize: Int, storage: [UInt8]? = nil) {
        self.init(addresses: addresses, shape: .whole(recordSize), storage: storage)
    }

    public init(addresses: [UInt64], shape: RecordShape, storage: [UInt8]? = nil) {
        self.addresses = addresses
        recordSize = shape.size
        self.shape = shape
        buffer = GatherBuffer(total: addresses.count * shape.storedSize, count: addresses.count, storage: storage)
    }

    public var count: Int { addresses.count }

    public var invalidCount: Int { valid.lazy.filter { !$0 }.count }

    /// Fills record `index` through `body`, which reads the whole record (`recordSize` bytes),
    /// marking it valid when `body` succeeds.
    public mutating func fill(_ index: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) {
        let stride = shape.storedSize
        guard !shape.isWhole else { return buffer.fill(index, start: index * stride, size: stride, body) }
        let shape = shape
        var whole = [UInt8](repeating: 0, count: recordSize)
        buffer.fill(index, start: index * stride, size: stride) { stored in
            try whole.withUnsafeMutableBytes { record in
                try body(record)
                shape.pack(UnsafeRawBufferPointer(record), into: stored)
            }
        }
    }

    /// Record `index` replaced by record `source` of `other`, its validity included: a record
    /// read again (gathered with the same shape) put in the place of its earlier read. False,
    /// and nothing changed, when the shapes differ or an index is out of range.
    @discardableResult
    public mutating func replaceRecord(_ index: Int, with other: GatheredMemory, _ source: Int) -> Bool {
        guard other.shape == shape, index >= 0, index < count, source >= 0, source < other.count else { return false }
        let stride = shape.storedSize
        other.buffer.bytes.withUnsafeBytes { from in
            buffer.withUnsafeMutableStorage { bytes, valid in
                valid[index] = other.buffer.valid[source]
                guard stride > 0, let to = bytes.baseAddress, let from = from.baseAddress else { return }
                (to + index * stride).copyMemory(from: from + source * stride, byteCount: stride)
            }
        }
        return true
    }

    /// Direct access to the record bytes and validity flags at once, for readers that scatter
    /// into the buffer themselves (records `shape.storedSize` bytes apart, packed).
    public mutating func withUnsafeMutableStorage<R>(
        _ body: (UnsafeMutableRawBufferPointer, UnsafeMutableBufferPointer<Bool>) throws -> R
    ) rethrows -> R {
        try buffer.withUnsafeMutableStorage(body)
    }

    @inline(__always)
    public func load<T: FixedWidthInteger>(_ type: T.Type, record: Int, offset: Int) -> T? {
        guard record >= 0, record < count, buffer.valid[record],
              let stored = shape.storedOffset(offset, length: MemoryLayout<T>.size) else { return nil }
        let start = record * shape.storedSize + stored
        return buffer.bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: T.self)) }
    }

    @inline(__always)
    public func u64(_ record: Int, _ offset: Int) -> UInt64? { load(UInt64.self, record: record, offset: offset) }
    @inline(__always)
    public func u32(_ record: Int, _ offset: Int) -> UInt32? { load(UInt32.self, record: record, offset: offset) }
    @inline(__always)
    public func u8(_ record: Int, _ offset: Int) -> UInt8? { load(UInt8.self, record: record, offset: offset) }

}

extension MemoryReader {
    /// Reads `size` bytes at each address. Unreadable records are marked invalid rather than
    /// failing the whole batch. Readers backed by a process override this to batch syscalls.
    public func gather(_ addresses: [UInt64], size: Int) -> GatheredMemory {
        gather(addresses, shape: .whole(size), threads: 1)
    }

    /// `gather` keeping only `shape`'s bytes of each record, in the order given.
    public func gather(_ addresses: [UInt64], shape: RecordShape, threads: Int) -> GatheredMemory {
        var gathered = GatheredMemory(addresses: addresses, shape: shape)
        for (index, address) in addresses.enumerated() {
            gathered.fill(index) { try read(from: address, into: $0) }
        }
        return gathered
    }
}

/// The bytes and validity flags behind both kinds of gathered reads.
private struct GatherBuffer: Sendable {
    var bytes: [UInt8]
    var valid: [Bool]

    /// - Parameter storage: a buffer to reuse (already paged in), used when large enough.
    init(total: Int, count: Int, storage: [UInt8]?) {
        valid = [Bool](repeating: false, count: count)
        if let storage, storage.count >= total {
            bytes = storage
        } else {
            // Uninitialised: every byte is either filled by a read or belongs to an invalid
            // entry (which no accessor reads), and zeroing a million records costs tens of ms.
            bytes = [UInt8](unsafeUninitializedCapacity: total) { _, initialized in initialized = total }
        }
    }

    mutating func fill(_ index: Int, start: Int, size: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) {
        let ok: Bool = bytes.withUnsafeMutableBytes { buffer in
            (try? body(UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + size)]))) != nil
        }
        valid[index] = ok
    }

    mutating func withUnsafeMutableStorage<R>(
        _ body: (UnsafeMutableRawBufferPointer, UnsafeMutableBufferPointer<Bool>) throws -> R
    ) rethrows -> R {
        try bytes.withUnsafeMutableBytes { records in
            try valid.withUnsafeMutableBufferPointer { flags in try body(records, flags) }
        }
    }
}

/// One range to read: an address and a byte count.
public struct MemoryRange: Sendable, Equatable {
    public let address: UInt64
    public let size: Int
    public init(address: UInt64, size: Int) {
        self.address = address
        self.size = max(0, size)
    }
}

/// Ranges of different sizes read at once (goroutine stacks), in request order, with
/// bounds-checked access by absolute address.
public struct GatheredRanges: Sendable {
    public let ranges: [MemoryRange]
    public let offsets: [Int]
    private var buffer: GatherBuffer
    public var valid: [Bool] { buffer.valid }
    /// The range bytes (to hand back to the reader for its next gather: `MemoryReader.recycle`).
    public var bytes: [UInt8] { buffer.bytes }

    /// - Parameter storage: a buffer to reuse (already paged in), used when large enough.
    public init(_ ranges: [MemoryRange], storage: [UInt8]? = nil) {
        self.ranges = ranges
        var offsets: [Int] = []
        offsets.reserveCapacity(ranges.count)
        var total = 0
        for range in ranges {
            offsets.append(total)
            total += range.size
        }
        self.offsets = offsets
        buffer = GatherBuffer(total: total, count: ranges.count, storage: storage)
    }

    public var count: Int { ranges.count }

    public mutating func fill(_ index: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) {
        buffer.fill(index, start: offsets[index], size: ranges[index].size, body)
    }

    public mutating func withUnsafeMutableStorage<R>(
        _ body: (UnsafeMutableRawBufferPointer, UnsafeMutableBufferPointer<Bool>) throws -> R
    ) rethrows -> R {
        try buffer.withUnsafeMutableStorage(body)
    }

    /// A word at absolute `address` inside range `index`, if that range was read and holds it.
    @inline(__always)
    public func u64(_ index: Int, at address: UInt64) -> UInt64? {
        guard index >= 0, index < count, buffer.valid[index] else { return nil }
        let range = ranges[index]
        guard address >= range.address, address - range.address <= UInt64(range.size), range.size - Int(address - range.address) >= 8 else { return nil }
        let start = offsets[index] + Int(address - range.address)
        return buffer.bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt64.self)) }
    }
}

extension MemoryReader {
    public func gather(ranges: [MemoryRange]) -> GatheredRanges {
        var gathered = GatheredRanges(ranges)
        for (index, range) in ranges.enumerated() {
            gathered.fill(index) { try read(from: range.address, into: $0) }
        }
        return gathered
    }
}
