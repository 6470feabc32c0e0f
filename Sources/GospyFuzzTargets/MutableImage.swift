import GospyBinary
import GospyMemory
import GospyRuntime

/// A captured memory image of a real target and what it decodes to undamaged, with the memory
/// each goroutine's result depends on, so that damage can be aimed at g structs, stacks, allgs
/// and labels and its effect judged: a goroutine whose memory was not touched must decode
/// exactly as before; one whose memory was touched may decode to anything bounded, or be
/// marked unreadable or truncated, but never trap.
public struct MutableImage: Sendable {
    public enum AreaKind: Int, CaseIterable, Sendable {
        case g, stack, allgs, labels
    }

    public struct Area: Sendable {
        public let kind: AreaKind
        public let address: UInt64
        public let length: Int
    }

    /// One write of `width` bytes (1, 2, 4 or 8) of `value` into an area.
    public struct Mutation: Sendable, CustomStringConvertible {
        public let kind: AreaKind
        public let area: Int
        public let offset: Int
        public let width: Int
        public let value: UInt64

        public init(kind: AreaKind, area: Int, offset: Int, width: Int, value: UInt64) {
            self.kind = kind
            self.area = area
            self.offset = offset
            self.width = width
            self.value = value
        }

        public var description: String { "\(kind)[\(area)]+\(offset) = 0x\(String(value, radix: 16)) (\(width) bytes)" }
    }

    public let memory: BufferMemoryReader
    public let baseline: SnapshotReplay
    public let areas: [AreaKind: [Area]]
    /// Per baseline goroutine (in `baseline.goroutines` order): the ranges its result read.
    public let footprints: [[(address: UInt64, length: Int)]]
    /// allglen and allgptr: damage there may change every goroutine.
    public let allgsHeader: [(address: UInt64, length: Int)]

    public init(memory: BufferMemoryReader, image: RuntimeImage, symbolizer: Symbolizer) throws {
        self.memory = memory
        baseline = try SnapshotReplay(image: image, symbolizer: symbolizer, memory: memory)
        let g = try image.layout.g
        let recordSize = SnapshotReader.recordSize(g)
        let allglen = try image.address(of: .allglen)
        let allgptr = try image.address(of: .allgptr)
        allgsHeader = [(allglen, 8), (allgptr, 8)]
        let array = try memory.fetchPointer(from: allgptr)
        let length = try memory.fetch(UInt64.self, from: allglen)
        guard length <= UInt64(SnapshotReader.maxGoroutines) else { throw SnapshotError.implausible("allglen is \(length)") }
        var areas: [AreaKind: [Area]] = [.allgs: [Area(kind: .allgs, address: array, length: Int(length) * 8)]]
        var footprints: [[(address: UInt64, length: Int)]] = []
        let slots = Dictionary(baseline.snapshot.allgs.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        for goroutine in baseline.snapshot.goroutines {
            var footprint: [(address: UInt64, length: Int)] = [(goroutine.address, recordSize)]
            if let slot = slots[goroutine.address] { footprint.append((array &+ UInt64(slot) * 8, 8)) }
            areas[.g, default: []].append(Area(kind: .g, address: goroutine.address, length: recordSize))
            // The stack bytes its walk (and argument reads) used.
            let stackReads = RecordingMemoryReader(memory)
            let collector = StackCollector(symbolizer: symbolizer, memory: stackReads)
            _ = collector.unwind([goroutine], collector.capture([goroutine.stackExtent]), arguments: true)
            for region in stackReads.recorded().regions {
                footprint.append((region.address, region.bytes.count))
                areas[.stack, default: []].append(Area(kind: .stack, address: region.address, length: region.bytes.count))
            }
            let labelReads = RecordingMemoryReader(memory)
            _ = LabelReader(image: image, memory: labelReads).labels(of: goroutine)
            for region in labelReads.recorded().regions {
                footprint.append((region.address, region.bytes.count))
                areas[.labels, default: []].append(Area(kind: .labels, address: region.address, length: region.bytes.count))
            }
            footprints.append(footprint)
        }
        self.areas = areas
        self.footprints = footprints
    }

    /// Where a mutation writes, if its area exists.
    public func target(of mutation: Mutation) -> (address: UInt64, length: Int)? {
        guard let list = areas[mutation.kind], !list.isEmpty else { return nil }
        let area = list[mutation.area % list.count]
        guard area.length > 0 else { return nil }
        let offset = mutation.offset % area.length
        return (area.address &+ UInt64(offset), min(mutation.width, area.length - offset))
    }

    /// The image with `mutations` written into it.
    public func applying(_ mutations: [Mutation]) -> BufferMemoryReader {
        let regions = memory.regions
        var contents = regions.map(\.bytes)
        for mutation in mutations {
            guard let (address, length) = target(of: mutation) else { continue }
            for byte in 0..<length {
                let at = address &+ UInt64(byte)
                // The last region starting at or below `at` (regions are sorted by address).
                var low = 0, high = regions.count
                while low < high {
                    let middle = (low + high) / 2
                    if regions[middle].address <= at { low = middle + 1 } else { high = middle }
                }
                guard low > 0 else { continue }
                let index = low - 1
                let offset = Int(at - regions[index].address)
                guard offset < contents[index].count else { continue }
                contents[index][offset] = UInt8(truncatingIfNeeded: mutation.value >> (8 * UInt64(byte)))
            }
        }
        return BufferMemoryReader(regions: zip(regions, contents).map { .init(address: $0.address, bytes: $1) })
    }

    /// Whether any mutation writes into baseline goroutine `index`'s memory (or allgs' header).
    public func touches(goroutine index: Int, _ mutations: [Mutation]) -> Bool {
        let writes = mutations.compactMap(target(of:))
        let ranges = footprints[index] + allgsHeader
        return writes.contains { write in
            ranges.contains { range in
                write.address < range.address &+ UInt64(range.length) && range.address < write.address &+ UInt64(write.length)
            }
        }
    }

    /// Whether any mutation writes into allglen or allgptr.
    public func touchesAllgsHeader(_ mutations: [Mutation]) -> Bool {
        mutations.compactMap(target(of:)).contains { write in
            allgsHeader.contains { write.address < $0.address &+ 8 && $0.address < write.address &+ UInt64(write.length) }
        }
    }
}
