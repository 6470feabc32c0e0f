/// Memory made of byte regions at given addresses: for tests, and for snapshots copied out of a
/// process. Reads must fall entirely inside one region.
public struct BufferMemoryReader: MemoryReader, Sendable {
    public struct Region: Sendable {
        public let address: UInt64
        public let bytes: [UInt8]
        public init(address: UInt64, bytes: [UInt8]) {
            self.address = address
            self.bytes = bytes
        }
    }

    public private(set) var regions: [Region]

    public init(regions: [Region] = []) {
        self.regions = regions.sorted { $0.address < $1.address }
    }

    public init(address: UInt64, bytes: [UInt8]) {
        self.init(regions: [Region(address: address, bytes: bytes)])
    }

    public mutating func add(address: UInt64, bytes: [UInt8]) {
        regions.append(Region(address: address, bytes: bytes))
        regions.sort { $0.address < $1.address }
    }

    public func read(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let size = buffer.count
        guard size > 0 else { return }
        let (end, overflow) = address.addingReportingOverflow(UInt64(size))
        guard !overflow else { throw MemoryReadError.addressOverflow(address: address, size: size) }
        for region in regions where region.address <= address {
            let regionEnd = region.address &+ UInt64(region.bytes.count)
            guard end <= regionEnd else { continue }
            let start = Int(address - region.address)
            region.bytes.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + size)]))
            }
            return
        }
        throw MemoryReadError.unmapped(address: address, size: size)
    }
}
