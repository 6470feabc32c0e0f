/// One PERF_RECORD_SAMPLE of the sampler gospy opens (gospy_perf_open_sampler): a thread
/// interrupted in user mode, its registers and a copy of the top of its user stack.
public struct PerfSample: Sendable, Equatable {
    public let tid: Int32
    /// When, in CLOCK_MONOTONIC nanoseconds.
    public let time: UInt64
    public let pc: UInt64
    public let sp: UInt64
    public let bp: UInt64
    /// The user stack's bytes from `sp` up, as the kernel copied them (possibly fewer than asked).
    public let stack: [UInt8]
}

/// Parses the records a perf ring buffer held, laid out for the sample type gospy asks for
/// (IP | TID | TIME | REGS_USER with BP, SP, IP | STACK_USER). The bytes come from the kernel but
/// are bounded like any input: a record that does not fit, or a size that does not add up,
/// ends the parse (the rest is counted as malformed), never a trap.
public enum PerfRecords {
    static let recordSample: UInt32 = 9
    static let recordLost: UInt32 = 2
    /// Records are at least their 8-byte header.
    static let headerSize = 8

    public struct Parsed: Sendable, Equatable {
        public var samples: [PerfSample] = []
        /// Samples the kernel dropped because the buffer was full (PERF_RECORD_LOST).
        public var lost: UInt64 = 0
        /// Records that could not be parsed (and with them, the rest of the buffer).
        public var malformed = 0
    }

    public static func parse(_ bytes: [UInt8]) -> Parsed {
        var parsed = Parsed()
        var offset = 0
        while offset + headerSize <= bytes.count {
            let type = u32(bytes, offset)
            let size = Int(u16(bytes, offset + 6))
            guard size >= headerSize, size % 8 == 0, size <= bytes.count - offset else {
                parsed.malformed += 1
                break
            }
            let body = offset + headerSize
            let end = offset + size
            switch type {
            case recordSample:
                if let sample = sample(bytes, from: body, to: end) {
                    parsed.samples.append(sample)
                } else {
                    parsed.malformed += 1
                }
            case recordLost:
                if end - body >= 16 {
                    let (sum, overflow) = parsed.lost.addingReportingOverflow(u64(bytes, body + 8))
                    parsed.lost = overflow ? UInt64.max : sum
                }
            default:
                break
            }
            offset = end
        }
        return parsed
    }

    /// ip, pid/tid, time, regs ABI and BP/SP/IP (in bit order), stack size, stack, dynamic size.
    static func sample(_ bytes: [UInt8], from start: Int, to end: Int) -> PerfSample? {
        var cursor = start
        func next() -> UInt64? {
            guard cursor + 8 <= end else { return nil }
            defer { cursor += 8 }
            return u64(bytes, cursor)
        }
        guard next() != nil, let ids = next(), let time = next(), let abi = next() else { return nil }
        let tid = Int32(truncatingIfNeeded: ids >> 32)
        // ABI 0 (PERF_SAMPLE_REGS_ABI_NONE): no user registers (a kernel thread); nothing to use.
        guard abi != 0, let bp = next(), let sp = next(), let pc = next(), let size = next() else { return nil }
        guard size > 0, size <= UInt64(end - cursor), Int(size) + 8 <= end - cursor else { return nil }
        let dataStart = cursor
        cursor += Int(size)
        guard let dynamic = next(), dynamic <= size else { return nil }
        let stack = Array(bytes[dataStart..<(dataStart + Int(dynamic))])
        return PerfSample(tid: tid, time: time, pc: pc, sp: sp, bp: bp, stack: stack)
    }

    static func u16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }
    static func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }

    /// Encodes a sample as the kernel lays it out (for tests and fuzzing).
    public static func encode(_ sample: PerfSample, stackSize: Int) -> [UInt8] {
        var body: [UInt8] = []
        func put(_ value: UInt64) { for shift in stride(from: 0, to: 64, by: 8) { body.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) } }
        put(sample.pc)
        put(UInt64(UInt32(bitPattern: sample.tid)) << 32 | UInt64(UInt32(bitPattern: sample.tid)))
        put(sample.time)
        put(2) // PERF_SAMPLE_REGS_ABI_64
        put(sample.bp)
        put(sample.sp)
        put(sample.pc)
        put(UInt64(stackSize))
        var stack = sample.stack
        stack += [UInt8](repeating: 0, count: max(0, stackSize - stack.count))
        body += stack.prefix(stackSize)
        put(UInt64(min(sample.stack.count, stackSize)))
        return header(type: recordSample, size: headerSize + body.count) + body
    }

    public static func encodeLost(_ count: UInt64) -> [UInt8] {
        var body: [UInt8] = []
        for value in [UInt64(1), count] {
            for shift in stride(from: 0, to: 64, by: 8) { body.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return header(type: recordLost, size: headerSize + body.count) + body
    }

    static func header(type: UInt32, size: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: type >> UInt32(shift))) }
        bytes += [0, 0, UInt8(truncatingIfNeeded: size), UInt8(truncatingIfNeeded: size >> 8)]
        return bytes
    }
}
