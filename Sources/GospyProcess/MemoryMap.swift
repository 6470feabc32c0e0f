import FoundationEssentials

/// /proc/PID/maps, parsed.
public struct MemoryMap: Sendable, Equatable {
    public struct Mapping: Sendable, Equatable {
        public let start: UInt64
        public let end: UInt64
        public let permissions: String
        public let offset: UInt64
        public let device: String
        public let inode: UInt64
        public let path: String

        public var isExecutable: Bool { permissions.count >= 3 && Array(permissions)[2] == "x" }
    }

    public let mappings: [Mapping]

    public init(parsing text: String) {
        mappings = text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { return nil }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                  let offset = UInt64(fields[2], radix: 16), let inode = UInt64(fields[4]) else { return nil }
            let path = fields.count > 5 ? fields[5].trimmingWhitespace() : ""
            return Mapping(start: start, end: end, permissions: String(fields[1]), offset: offset,
                           device: String(fields[3]), inode: inode, path: path)
        }
    }

    /// The mappings of the file with this device and inode (the executable), by address.
    public func mappings(device: String, inode: UInt64) -> [Mapping] {
        mappings.filter { $0.inode == inode && $0.device == device }.sorted { $0.start < $1.start }
    }

    public func mapping(containing address: UInt64) -> Mapping? {
        mappings.first { address >= $0.start && address < $0.end }
    }
}
