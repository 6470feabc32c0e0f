/// One primitive for reading another address space, whatever backs it: a buffer in a test, an
/// executable file laid out as it would be loaded, or a live process. Every parser in gospy reads
/// through this, so the same code runs against a file and against a running program.
public protocol MemoryReader {
    /// Fills `buffer` with the bytes at `address`. Throws `MemoryReadError` when any of them
    /// cannot be read; never returns partial data.
    func read(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws

    /// Reads `size` bytes at each address; unreadable records are marked invalid rather than
    /// failing the batch. Records may come back in another order (sorted by address); the
    /// result's `addresses` says which record is which. A requirement (with a default in GatheredMemory.swift) so that readers
    /// backed by a process can batch system calls even when called through `any MemoryReader`.
    func gather(_ addresses: [UInt64], size: Int) -> GatheredMemory

    /// `gather` keeping only `shape`'s bytes of each record, with up to `threads` threads
    /// reading at once (a reader may use one).
    func gather(_ addresses: [UInt64], shape: RecordShape, threads: Int) -> GatheredMemory

    /// Reads ranges of different sizes; results in request order.
    func gather(ranges: [MemoryRange]) -> GatheredRanges

    /// Takes back a finished gather's buffer, already paged in, for the next `gather` to fill
    /// (a reader may ignore it).
    func recycle(_ storage: [UInt8])

    /// Pages in a destination buffer of `bytes` for the next `gather`, so that its page faults
    /// are paid now rather than while the target is stopped (a reader may ignore it).
    func reserve(bytes: Int)

    /// A reader of the same memory for another thread to use at the same time as this one
    /// (readers with per-call state return a new one; value readers, themselves).
    func readerForAnotherThread() -> MemoryReader
}

extension MemoryReader {
    public func gather(_ addresses: [UInt64], size: Int, threads: Int) -> GatheredMemory {
        gather(addresses, shape: .whole(size), threads: threads)
    }
    public func recycle(_ storage: [UInt8]) {}
    public func reserve(bytes: Int) {}
    public func readerForAnotherThread() -> MemoryReader { self }
}

/// Why a read failed. Cases carry the address and size so messages can say what was asked.
public enum MemoryReadError: Error, Equatable, CustomStringConvertible {
    /// Nothing is mapped (or stored) at this range.
    case unmapped(address: UInt64, size: Int)
    /// The range wraps around the top of the address space.
    case addressOverflow(address: UInt64, size: Int)
    /// The OS refused the read (errno).
    case systemError(address: UInt64, size: Int, errno: Int32)
    /// A read came back short (the process unmapped memory or exited meanwhile).
    case shortRead(address: UInt64, size: Int, got: Int)

    public var description: String {
        switch self {
        case let .unmapped(address, size):
            return "no memory at 0x\(String(address, radix: 16)) (\(size) bytes)"
        case let .addressOverflow(address, size):
            return "range 0x\(String(address, radix: 16)) + \(size) overflows the address space"
        case let .systemError(address, size, errno):
            return "reading 0x\(String(address, radix: 16)) (\(size) bytes) failed: errno \(errno)"
        case let .shortRead(address, size, got):
            return "short read at 0x\(String(address, radix: 16)): \(got) of \(size) bytes"
        }
    }
}

extension MemoryReader {
    /// `count` bytes at `address`.
    public func fetchBytes(from address: UInt64, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        guard address.addingReportingOverflow(UInt64(count)).overflow == false else {
            throw MemoryReadError.addressOverflow(address: address, size: count)
        }
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(from: address, into: $0) }
        return bytes
    }

    /// A little-endian integer at `address`.
    public func fetch<T: FixedWidthInteger>(_ type: T.Type, from address: UInt64) throws -> T {
        var value = T.zero
        try withUnsafeMutableBytes(of: &value) { try read(from: address, into: $0) }
        return T(littleEndian: value)
    }

    /// A pointer-sized (8-byte) value at `address`.
    public func fetchPointer(from address: UInt64) throws -> UInt64 {
        try fetch(UInt64.self, from: address)
    }

    /// A view of `count` bytes at `address`, for parsing with bounds checks.
    public func fetchView(from address: UInt64, count: Int) throws -> ByteView {
        ByteView(bytes: try fetchBytes(from: address, count: count), baseAddress: address)
    }

    /// A NUL-terminated string at `address`, at most `maxLength` bytes, read in chunks.
    func fetchCString(from address: UInt64, maxLength: Int = 4096) throws -> String {
        var collected: [UInt8] = []
        var cursor = address
        let chunk = 64
        while collected.count < maxLength {
            let want = min(chunk, maxLength - collected.count)
            let bytes: [UInt8]
            do {
                bytes = try fetchBytes(from: cursor, count: want)
            } catch {
                // The string may end right before an unmapped page: fall back to single bytes.
                if want > 1, let byte = try? fetch(UInt8.self, from: cursor) {
                    if byte == 0 { break }
                    collected.append(byte)
                    cursor &+= 1
                    continue
                }
                throw error
            }
            if let nul = bytes.firstIndex(of: 0) {
                collected.append(contentsOf: bytes[..<nul])
                return String(decoding: collected, as: UTF8.self)
            }
            collected.append(contentsOf: bytes)
            cursor &+= UInt64(want)
        }
        return String(decoding: collected, as: UTF8.self)
    }

    /// A Go string header (data pointer, length) at `address`, with its bytes.
    public func fetchGoString(from address: UInt64, maxLength: Int = 1 << 20) throws -> String? {
        let data = try fetchPointer(from: address)
        let length = try fetch(UInt64.self, from: address &+ 8)
        guard length <= UInt64(maxLength) else { return nil }
        if length == 0 { return "" }
        let bytes = try fetchBytes(from: data, count: Int(length))
        return String(decoding: bytes, as: UTF8.self)
    }
}
