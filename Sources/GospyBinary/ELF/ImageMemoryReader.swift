/// An executable read as the loader would lay it out: PT_LOAD segments at their virtual
/// addresses (plus `loadBias`), the tail past the file size zero-filled (.bss), and
/// `R_X86_64_RELATIVE` relocations applied, so a PIE's pointers read as they would in memory.
public struct ImageMemoryReader: MemoryReader, @unchecked Sendable {
    public let elf: ElfFile
    public let loadBias: UInt64
    private let loads: [ElfFile.Segment]

    public init(elf: ElfFile, loadBias: UInt64 = 0) {
        self.elf = elf
        self.loadBias = loadBias
        self.loads = elf.segments.filter(\.isLoad).sorted { $0.virtualAddress < $1.virtualAddress }
    }

    public func read(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let size = buffer.count
        guard size > 0 else { return }
        let (linkAddress, underflow) = address.subtractingReportingOverflow(loadBias)
        guard !underflow else { throw MemoryReadError.unmapped(address: address, size: size) }
        let (end, overflow) = linkAddress.addingReportingOverflow(UInt64(size))
        guard !overflow else { throw MemoryReadError.addressOverflow(address: address, size: size) }
        guard let segment = loads.last(where: { $0.virtualAddress <= linkAddress }),
              end - segment.virtualAddress <= segment.memorySize else {
            throw MemoryReadError.unmapped(address: address, size: size)
        }
        let start = linkAddress - segment.virtualAddress
        // The part backed by the file, then zeros for the rest (.bss).
        let fromFile = start < segment.fileSize ? min(UInt64(size), segment.fileSize - start) : 0
        if fromFile > 0 {
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(fromFile)])
            guard elf.copyFileBytes(offset: segment.offset &+ start, into: part) else {
                throw MemoryReadError.unmapped(address: address, size: size)
            }
        }
        if Int(fromFile) < size {
            UnsafeMutableRawBufferPointer(rebasing: buffer[Int(fromFile)...]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        applyRelocations(linkStart: linkAddress, end: end, into: buffer)
    }

    private func applyRelocations(linkStart: UInt64, end: UInt64, into buffer: UnsafeMutableRawBufferPointer) {
        let relocations = elf.relativeRelocations
        guard !relocations.isEmpty else { return }
        // First relocation whose 8 bytes may overlap [linkStart, end).
        var low = 0
        var high = relocations.count
        let first = linkStart >= 7 ? linkStart - 7 : 0
        while low < high {
            let mid = (low + high) / 2
            if relocations[mid].address < first { low = mid + 1 } else { high = mid }
        }
        var index = low
        while index < relocations.count, relocations[index].address < end {
            let (address, addend) = relocations[index]
            let value = (addend &+ loadBias).littleEndian
            withUnsafeBytes(of: value) { bytes in
                for k in 0..<8 {
                    let target = address &+ UInt64(k)
                    if target >= linkStart, target < end {
                        buffer[Int(target - linkStart)] = bytes[k]
                    }
                }
            }
            index += 1
        }
    }
}
