import Foundation
import Testing
@testable import GospyMemory
@testable import GospyProcess

@Suite struct ProcFSParsingTests {
    @Test func parsesStatWithHostileCommNames() throws {
        let line = "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 7 0 98765 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
        let stat = try #require(ProcFS.Stat(parsing: line))
        #expect(stat.comm == "a (weird) name")
        #expect(stat.state == "S")
        #expect(stat.startTimeTicks == 98765)
        #expect(!stat.isKernelThread)
        #expect(ProcFS.Stat(parsing: "garbage") == nil)
        #expect(ProcFS.Stat(parsing: "1 (x) S 1 2") == nil)
    }

    @Test func parsesMemoryMaps() {
        let text = """
        55d0c0a00000-55d0c0a2c000 r--p 00000000 fd:01 1311012                    /usr/bin/app (deleted)
        55d0c0a2c000-55d0c0b00000 r-xp 0002c000 fd:01 1311012                    /usr/bin/app (deleted)
        7ffd1b7e1000-7ffd1b802000 rw-p 00000000 00:00 0                          [stack]
        not a mapping line
        """
        let map = MemoryMap(parsing: text)
        #expect(map.mappings.count == 3)
        let app = map.mappings(device: "fd:01", inode: 1311012)
        #expect(app.count == 2)
        #expect(app[0].offset == 0 && app[0].start == 0x55d0c0a00000)
        #expect(app[0].path == "/usr/bin/app (deleted)")
        #expect(app[1].isExecutable)
        #expect(map.mapping(containing: 0x7ffd1b7e1010)?.path == "[stack]")
        #expect(map.mapping(containing: 0x1000) == nil)
    }

    @Test func readsThisProcess() throws {
        let procfs = ProcFS(pid: getpid())
        #expect(try procfs.threadIDs().contains(getpid()))
        #expect(["R", "S"].contains(try procfs.stat().state))
        #expect((procfs.uptime() ?? -1) >= 0)
        #expect(procfs.tracerPID() == 0)
        #expect(!(try procfs.memoryMap().mappings.isEmpty))
        #expect(throws: ProcessError.self) { try ProcFS(pid: 999_999_999).stat() }
    }
}

@Suite struct LiveMemoryReaderTests {
    /// Reads this process's own memory through process_vm_readv.
    @Test func gathersManyRecordsWithFewSyscalls() throws {
        let count = 10_000
        let size = 48
        // Records in one buffer with gaps, like objects in a heap span.
        let stride = 64
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count * stride, alignment: 16)
        defer { buffer.deallocate() }
        for index in 0..<count {
            for byte in 0..<size { buffer[index * stride + byte] = UInt8(truncatingIfNeeded: index &+ byte) }
        }
        let base = UInt64(UInt(bitPattern: buffer.baseAddress!))
        // Shuffled order, plus two unreadable addresses.
        var addresses = (0..<count).map { base + UInt64($0 * stride) }.shuffled()
        addresses.append(8)
        addresses.append(UInt64.max - 4)
        let reader = LiveMemoryReader(pid: getpid())
        let gathered = reader.gather(addresses, size: size)
        #expect(gathered.invalidCount == 2)
        #expect(Set(gathered.addresses) == Set(addresses))
        // Records come back in address order; `addresses` says which is which.
        for (slot, address) in gathered.addresses.enumerated() where address >= base && address < base + UInt64(count * stride) {
            let index = Int(address - base) / stride
            #expect(gathered.u8(slot, 0) == UInt8(truncatingIfNeeded: index))
            #expect(gathered.u8(slot, size - 1) == UInt8(truncatingIfNeeded: index + size - 1))
        }
        #expect(reader.syscalls < 50, "\(reader.syscalls) system calls for \(count) records")
        // The same through `any MemoryReader`: the batched path must still be taken.
        let erased: any MemoryReader = LiveMemoryReader(pid: getpid())
        let again = erased.gather(Array(addresses.prefix(count)), size: size)
        #expect(again.invalidCount == 0)
        #expect((erased as! LiveMemoryReader).syscalls < 50)
    }

    /// The same records through several threads at once, each scattering its own part of the
    /// sorted addresses into the one result: byte for byte what one thread reads, bad records
    /// (at both ends and inside a part) alone invalid.
    /// `count` records `stride` bytes apart in this process, each byte a pattern of its offset;
    /// the addresses of the records, shuffled.
    static func patternedRecords(count: Int, stride: Int) -> (buffer: UnsafeMutableRawBufferPointer, addresses: [UInt64]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count * stride, alignment: 16)
        for index in 0..<(count * stride) { buffer[index] = UInt8(truncatingIfNeeded: index &* 7 &+ index / 251) }
        let base = UInt64(UInt(bitPattern: buffer.baseAddress!))
        return (buffer, (0..<count).map { base + UInt64($0 * stride) }.shuffled())
    }

    @Test func gathersOnSeveralThreadsAsOneThreadDoes() throws {
        let count = 4 * LiveMemoryReader.recordsPerThread + 123
        let size = 40
        let (buffer, records) = Self.patternedRecords(count: count, stride: 56)
        defer { buffer.deallocate() }
        let addresses = records + [8, 24, UInt64.max - 4]
        let reader = LiveMemoryReader(pid: getpid())
        let threaded = reader.gather(addresses, size: size, threads: 4)
        let single = LiveMemoryReader(pid: getpid()).gather(addresses, size: size)
        #expect(threaded.addresses == single.addresses)
        #expect(threaded.valid == single.valid)
        #expect(threaded.invalidCount == 3)
        let same = RecordMatcher(threaded, single, by: RecordComparison(fields: [0..<size]))
        for slot in 0..<threaded.count where threaded.valid[slot] {
            #expect(same.matches(slot, slot), "record \(slot)")
        }
        // Several threads' calls, counted on the reader that was asked.
        #expect(reader.syscalls >= 4)
    }

    /// Records gathered keeping only some of their bytes: every kept field reads as in the
    /// whole record, fields outside them read as missing, on one thread and on several, and
    /// through the record-by-record path of a bad neighbour.
    @Test func aShapedGatherKeepsItsFieldsAsTheWholeRecordHasThem() throws {
        let size = 400
        let (buffer, records) = Self.patternedRecords(count: 2 * LiveMemoryReader.recordsPerThread + 77, stride: 456)
        defer { buffer.deallocate() }
        let base = UInt64(UInt(bitPattern: buffer.baseAddress!))
        // A record that overlaps another (both read again one by one) and a bad one.
        let addresses = records + [base + 8, 24]
        let shape = RecordShape(size: size, fields: [0..<192, 208..<216, 280..<288, 288..<296, 320..<328, 352..<360, 392..<400])
        #expect(shape.segments == [0..<216, 280..<296, 320..<328, 352..<360, 392..<400])
        #expect(shape.storedSize == 256)
        let whole = LiveMemoryReader(pid: getpid()).gather(addresses, size: size)
        for threads in [1, 2] {
            let shaped = LiveMemoryReader(pid: getpid()).gather(addresses, shape: shape, threads: threads)
            #expect(shaped.addresses == whole.addresses)
            #expect(shaped.valid == whole.valid)
            #expect(shaped.invalidCount == 1)
            #expect(shaped.bytes.count >= shaped.count * 256 && shaped.bytes.count < shaped.count * 300)
            let keptPrefix = RecordMatcher(shaped, whole, by: RecordComparison(fields: [0..<216]))
            let pastIt = RecordMatcher(shaped, whole, by: RecordComparison(fields: [0..<217]))
            for slot in 0..<shaped.count where shaped.valid[slot] {
                for offset in [0, 8, 184, 208, 280, 288, 320, 352, 392] {
                    #expect(shaped.u64(slot, offset) == whole.u64(slot, offset), "record \(slot) offset \(offset)")
                }
                #expect(shaped.u64(slot, 216) == nil && shaped.u64(slot, 212) == nil && shaped.u64(slot, 300) == nil)
                #expect(keptPrefix.matches(slot, slot))
                #expect(!pastIt.matches(slot, slot))
            }
        }
    }

    @Test func readsAndFailsCleanly() throws {
        var value: UInt64 = 0x1122_3344_5566_7788
        let reader = LiveMemoryReader(pid: getpid())
        let address = withUnsafePointer(to: &value) { UInt64(UInt(bitPattern: $0)) }
        #expect(try reader.fetch(UInt64.self, from: address) == 0x1122_3344_5566_7788)
        #expect(throws: MemoryReadError.self) { try reader.fetch(UInt64.self, from: 16) }
    }
}

@Suite struct LiveRangeGatherTests {
    /// Ranges of different sizes, some neighbours close enough to share a remote range, one
    /// unreadable: results in request order, the bad one alone marked invalid.
    @Test func gathersVariableRangesInRequestOrder() throws {
        let count = 3_000
        let stride = 2_048  // like goroutine stacks in a span
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count * stride, alignment: 16)
        defer { buffer.deallocate() }
        for index in 0..<(count * stride) { buffer[index] = UInt8(truncatingIfNeeded: index / 8) }
        let base = UInt64(UInt(bitPattern: buffer.baseAddress!))
        var generator = SystemRandomNumberGenerator()
        // Each range: the top `used` bytes of a 2 KB slot, the way a stack's live part sits below hi.
        var ranges = (0..<count).map { index -> MemoryRange in
            let used = Int.random(in: 64...1_024, using: &generator) & ~7
            return MemoryRange(address: base + UInt64(index * stride + stride - used), size: used)
        }.shuffled()
        ranges.insert(MemoryRange(address: 16, size: 64), at: 100)
        let reader = LiveMemoryReader(pid: getpid())
        let gathered = reader.gather(ranges: ranges)
        #expect(gathered.count == ranges.count)
        for (index, range) in ranges.enumerated() {
            if range.address == 16 {
                #expect(gathered.u64(index, at: 16) == nil)
                continue
            }
            let first = Int(range.address - base)
            let expectedFirst = (0..<8).reduce(UInt64(0)) { $0 | UInt64(UInt8(truncatingIfNeeded: (first + $1) / 8)) << (8 * $1) }
            #expect(gathered.u64(index, at: range.address) == expectedFirst, "range \(index)")
            let last = range.address + UInt64(range.size) - 8
            #expect(gathered.u64(index, at: last) != nil)
            // Outside the range: not answered, even if the memory exists.
            #expect(gathered.u64(index, at: range.address + UInt64(range.size)) == nil)
        }
        #expect(reader.syscalls < 40, "\(reader.syscalls) system calls for \(ranges.count) ranges")
    }
}

/// Which fix a refusal names, from what /proc says about gospy and the target.
@Suite struct PermissionDiagnosisTests {
    static let all: UInt64 = 0x1ff_ffff_ffff
    static let ptrace: UInt64 = 1 << 19
    static let sysResource: UInt64 = 1 << 24

    @Test func unprivilegedUserIsToldRootOrTheCapability() {
        #expect(Permissions.diagnose(euid: 1000, capabilities: 0, targetCapabilities: 0, ptraceScope: 1, errno: EPERM) == .notRoot)
    }

    @Test func rootWithoutTheCapabilityIsAContainer() {
        #expect(Permissions.diagnose(euid: 0, capabilities: Self.all & ~Self.ptrace, targetCapabilities: 0,
                                     ptraceScope: nil, errno: EPERM) == .container)
    }

    @Test func scopeThreeForbidsEveryone() {
        #expect(Permissions.diagnose(euid: 0, capabilities: Self.all, targetCapabilities: 0, ptraceScope: 3, errno: EPERM) == .ptraceScope(3))
        // At 1 and 2, CAP_SYS_PTRACE is enough: the scope is not what refused.
        #expect(Permissions.diagnose(euid: 0, capabilities: Self.all, targetCapabilities: 0, ptraceScope: 2, errno: EPERM) == .other(errno: EPERM))
    }

    @Test func targetWithMoreCapabilitiesIsNamed() {
        let reason = Permissions.diagnose(euid: 0, capabilities: Self.all & ~Self.sysResource, targetCapabilities: Self.all,
                                          ptraceScope: nil, errno: EPERM)
        #expect(reason == .missingCapabilities(["CAP_SYS_RESOURCE"]))
        let message = ProcessError.permissionDenied(pid: 1, reason: reason).description
        #expect(message.contains("CAP_SYS_RESOURCE") && !message.contains("\n"))
    }

    @Test func refusedDespitePrivilegesBlamesAConfinement() {
        let reason = Permissions.diagnose(euid: 0, capabilities: Self.all, targetCapabilities: Self.all, ptraceScope: 0, errno: EACCES)
        #expect(reason == .other(errno: EACCES))
        #expect(ProcessError.permissionDenied(pid: 1, reason: reason).description.contains("security module"))
    }
}
