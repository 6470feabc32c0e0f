// A small x86-64 instruction decoder: instruction boundaries, memory operands (with the absolute
// target of RIP-relative ones), how the memory is accessed and how wide it is, and relative branch
// targets. It does not produce mnemonics.
//
// What production needs from it: gospy derives runtime globals (allgs, allglen, sched, …) from
// the machine code of small runtime functions when a binary has no symbols (CodeAnalysis), and
// finds the callee of wrapper functions (RuntimeImage). That takes exact instruction lengths (a
// whole function is decoded linearly, so one wrong length derails the rest), the targets of
// RIP-relative operands and of direct calls, and the access kind and operand size of
// general-purpose loads, stores and exchanges (gomaxprocs is the global procresize exchanges
// 4 bytes of, allglen one that allgadd exchanges 8 bytes of). The widths of x87, system and vector operands, which only the objdump cross-check
// in the tests needs in full, are in X86OperandWidths.swift.
//
// Decoding is table driven: each opcode map has a table of shapes (ModRM? immediate?) and memory
// roles; groups (/digit opcodes), x87 and the SSE/AVX families are resolved by short rules.
// Bytes are untrusted: every read is checked and every address sum wraps, so no input traps.

// MARK: - Public types

/// Which opcode table an opcode byte indexes.
public enum X86OpcodeMap: UInt8, Sendable, Hashable {
    /// One-byte opcodes.
    case primary
    /// `0F xx` (VEX/EVEX map 1).
    case map0F
    /// `0F 38 xx` (VEX/EVEX map 2).
    case map0F38
    /// `0F 3A xx` (VEX/EVEX map 3).
    case map0F3A
    /// EVEX maps 5 and 6 (AVX512-FP16).
    case map5, map6
}

/// How the opcode was introduced.
public enum X86Encoding: UInt8, Sendable, Hashable {
    case legacy, vex, evex
}

/// An opcode: its encoding, map and byte. `description` reads like "0F 38 F0" or "EVEX.0F3A 25".
public struct X86Opcode: Sendable, Hashable, CustomStringConvertible {
    public var encoding: X86Encoding
    public var map: X86OpcodeMap
    public var byte: UInt8

    public init(_ encoding: X86Encoding, _ map: X86OpcodeMap, _ byte: UInt8) {
        self.encoding = encoding
        self.map = map
        self.byte = byte
    }

    public var description: String {
        let hex = String(byte, radix: 16, uppercase: true)
        let last = byte < 0x10 ? "0" + hex : hex
        let legacyMaps: [X86OpcodeMap: String] = [.primary: "", .map0F: "0F ", .map0F38: "0F 38 ", .map0F3A: "0F 3A "]
        let mapNames: [X86OpcodeMap: String] = [.primary: "", .map0F: "0F", .map0F38: "0F38", .map0F3A: "0F3A",
                                                .map5: "MAP5", .map6: "MAP6"]
        switch encoding {
        case .legacy: return (legacyMaps[map] ?? "") + last
        case .vex: return "VEX.\(mapNames[map] ?? "") \(last)"
        case .evex: return "EVEX.\(mapNames[map] ?? "") \(last)"
        }
    }
}

/// What an instruction does with its explicit memory operand.
public enum X86MemoryAccess: Sendable, Hashable {
    /// Reads it (MOV reg, mem; CMP; TEST; CALL/JMP through memory; PUSH mem; vector loads).
    case load
    /// Writes it without reading it (MOV mem, reg; SETcc; vector stores; POP mem).
    case store
    /// Reads and writes it (ADD mem, reg; INC mem; XCHG; XADD; CMPXCHG; BTS; shifts).
    case loadStore
    /// Only computes the address: LEA, and hints that touch no data architecturally
    /// (multi-byte NOP, PREFETCH*, CLFLUSH, CLWB, INVLPG).
    case addressOnly
}

/// A segment override prefix.
enum X86Segment: UInt8, Sendable, Hashable {
    case es, cs, ss, ds, fs, gs
}

/// Legacy prefixes present on an instruction.
struct X86Prefixes: OptionSet, Sendable, Hashable {
    let rawValue: UInt8
    init(rawValue: UInt8) { self.rawValue = rawValue }
    /// 66
    static let operandSize = X86Prefixes(rawValue: 1 << 0)
    /// 67
    static let addressSize = X86Prefixes(rawValue: 1 << 1)
    /// F3 (REP/REPE)
    static let rep = X86Prefixes(rawValue: 1 << 2)
    /// F2 (REPNE)
    static let repne = X86Prefixes(rawValue: 1 << 3)
    /// F0
    static let lock = X86Prefixes(rawValue: 1 << 4)
}

/// How an instruction transfers control.
enum X86ControlFlow: Sendable, Hashable {
    case call, jump, conditionalJump, `return`
}

/// An explicit memory operand (ModRM/SIB addressing, or the absolute moffs of A0–A3).
/// Implicit memory (string instructions, the stack of PUSH/CALL) is not described.
public struct X86MemoryOperand: Sendable, Hashable {
    var access: X86MemoryAccess
    /// Bytes read or written (1, 2, 4, 8, 10, 16, 32, 64…); nil when not fixed by the
    /// instruction (LEA, XSAVE, gathers' whole footprint…) or not known to this decoder.
    public var size: Int?
    var segment: X86Segment?
    /// Base register number (0–15); nil for RIP-relative and absolute operands.
    public var base: UInt8?
    /// Index register number (0–15), or a vector register (0–31) for VSIB gathers/scatters.
    public var index: UInt8?
    var scale: UInt8
    /// The encoded displacement, sign-extended. An EVEX disp8 is stored unscaled (the CPU
    /// multiplies it by the operand's tuple size); disp32 and RIP-relative ones are exact.
    public var displacement: Int64
    var isRIPRelative: Bool
    /// The address named without registers: the end of the instruction plus the displacement for
    /// RIP-relative operands, the displacement alone for `[disp32]` and moffs forms. It is an
    /// offset from the FS or GS base when `segment` is one of those.
    var target: UInt64?
}

/// One decoded instruction.
public struct X86Instruction: Sendable, Hashable {
    var address: UInt64
    var length: Int
    var opcode: X86Opcode
    var prefixes: X86Prefixes
    /// 66, F3 or F2 when it selects among SSE/AVX instructions sharing an opcode (VEX/EVEX pp, or
    /// the legacy prefix: the last F2/F3, else 66); 0 when none. For general-purpose opcodes it
    /// is just the prefix present.
    var simdPrefix: UInt8
    /// REX.W, VEX.W or EVEX.W.
    var isWide: Bool
    /// The REX byte (40–4F) if one applied.
    var rex: UInt8?
    var modRM: UInt8?
    /// ModRM.reg extended by REX.R / VEX.R (and EVEX.R'): a register number, or an opcode
    /// extension for group opcodes (its low three bits).
    public var reg: UInt8?
    public var memory: X86MemoryOperand?
    /// The first immediate, sign-extended from its encoded width (zero-extended for the 16-bit
    /// operands of RET and ENTER). Branch displacements are in `branchTarget` instead.
    var immediate: Int64?
    var flow: X86ControlFlow?
    /// Absolute target of a rel8/rel32 CALL, JMP, Jcc, LOOP or JRCXZ.
    public var branchTarget: UInt64?

    var nextAddress: UInt64 { address &+ UInt64(length) }
    /// The absolute address of a RIP-relative memory operand (`address + length + disp32`).
    public var ripTarget: UInt64? { memory.flatMap { $0.isRIPRelative ? $0.target : nil } }
    /// A memory address fixed by the instruction alone, RIP-relative or absolute (not FS/GS).
    var staticAddress: UInt64? {
        guard let memory, memory.segment != .fs, memory.segment != .gs else { return nil }
        return memory.target
    }
    public var memoryAccess: X86MemoryAccess? { memory?.access }
    public var memoryOperandSize: Int? { memory?.size }
    public var isLEA: Bool { opcode == X86Opcode(.legacy, .primary, 0x8D) }
    public var isCall: Bool { flow == .call }
    /// Any jump, conditional or not.
    public var isJump: Bool { flow == .jump || flow == .conditionalJump }
    var isConditionalJump: Bool { flow == .conditionalJump }
    var isReturn: Bool { flow == .return }
    /// XCHG (86, 87, or 90+r other than NOP). LOCK CMPXCHG and XADD are `.loadStore` too.
    public var isExchange: Bool {
        guard opcode.encoding == .legacy, opcode.map == .primary else { return false }
        switch opcode.byte {
        case 0x86, 0x87, 0x91...0x97: return true
        case 0x90: return (rex ?? 0) & 1 != 0  // 90 with REX.B is XCHG r8, rAX
        default: return false
        }
    }
}

/// Why decoding stopped.
public enum X86DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes ended inside an instruction.
    case truncated
    /// An opcode that is undefined, or not valid in 64-bit mode.
    case invalidOpcode(X86Opcode)
    /// A malformed prefix combination (e.g. VEX after REX or 66, EVEX reserved bits).
    case invalidEncoding(String)
    /// A valid encoding this decoder does not handle (AMD XOP, Intel APX).
    case unsupported(String)
    /// More than 15 bytes.
    case tooLong

    public var description: String {
        switch self {
        case .truncated: return "truncated instruction"
        case let .invalidOpcode(opcode): return "invalid opcode \(opcode)"
        case let .invalidEncoding(what): return "invalid encoding: \(what)"
        case let .unsupported(what): return "unsupported encoding: \(what)"
        case .tooLong: return "instruction longer than 15 bytes"
        }
    }
}

/// Where and why a linear decode stopped early.
public struct X86DecodeStop: Sendable, Hashable, CustomStringConvertible {
    public var offset: Int
    public var address: UInt64
    public var error: X86DecodeError

    public var description: String { "\(error) at 0x\(String(address, radix: 16)) (offset \(offset))" }
}

public struct X86DecodeResult: Sendable, Hashable {
    public var instructions: [X86Instruction]
    /// nil when every byte was decoded (or the instruction limit was reached).
    public var stop: X86DecodeStop?
}

// MARK: - Decoder

public enum X86Decoder {
    public static let maxInstructionLength = 15

    /// Decodes linearly from `bytes[0]`, which is at `address`, until the bytes end, an
    /// instruction cannot be decoded, or `maxInstructions` were decoded.
    public static func decode(_ bytes: [UInt8], at address: UInt64, maxInstructions: Int = .max) -> X86DecodeResult {
        var instructions: [X86Instruction] = []
        var offset = 0
        while offset < bytes.count, instructions.count < maxInstructions {
            let here = address &+ UInt64(offset)
            switch decodeInstruction(bytes, offset: offset, at: here) {
            case let .success(instruction):
                instructions.append(instruction)
                offset += instruction.length
            case let .failure(error):
                return X86DecodeResult(instructions: instructions, stop: X86DecodeStop(offset: offset, address: here, error: error))
            }
        }
        return X86DecodeResult(instructions: instructions, stop: nil)
    }

    /// Decodes a view linearly from its start, at its `baseAddress`.
    public static func decode(_ view: ByteView, maxInstructions: Int = .max) -> X86DecodeResult {
        decode(view.bytes, at: view.baseAddress, maxInstructions: maxInstructions)
    }

    /// Decodes the one instruction at `bytes[offset]`, whose address is `address`.
    public static func decodeInstruction(_ bytes: [UInt8], offset: Int = 0, at address: UInt64) -> Result<X86Instruction, X86DecodeError> {
        guard offset >= 0, offset < bytes.count else { return .failure(.truncated) }
        do {
            var reader = Reader(bytes: bytes, start: offset)
            return .success(try decodeOne(&reader, address: address))
        } catch {
            return .failure(error)
        }
    }
}

// MARK: - Reading

/// Checked reads from `bytes[start...]`, limited to one instruction's 15 bytes.
private struct Reader {
    let bytes: [UInt8]
    let start: Int
    var position: Int

    init(bytes: [UInt8], start: Int) {
        self.bytes = bytes
        self.start = start
        self.position = start
    }

    var length: Int { position - start }

    mutating func u8() throws(X86DecodeError) -> UInt8 {
        guard position - start < X86Decoder.maxInstructionLength else { throw .tooLong }
        guard position < bytes.count else { throw .truncated }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian value of `count` bytes (at most 8), sign-extended when `signed`.
    mutating func integer(_ count: Int, signed: Bool = true) throws(X86DecodeError) -> Int64 {
        var value: UInt64 = 0
        for shift in 0..<count { value |= UInt64(try u8()) << UInt64(8 * shift) }
        guard signed, count < 8 else { return Int64(bitPattern: value) }
        let unused = UInt64(64 - 8 * count)
        return Int64(bitPattern: value << unused) >> Int64(unused)
    }
}

// MARK: - Opcode tables

/// The shape and memory role of one opcode.
private struct OpcodeInfo {
    enum Immediate { case none, byte, word, full, wide, enter, moffs, rel8, rel32, twoBytes }
    /// Opcodes whose memory role, size or validity depend on ModRM.reg or prefixes.
    enum Rule { case fixed, group1, group1A, group2, group3, group4, group5, group11, x87
                case group6, group7, group8, group9, group15, group16, vector, vmx }

    var valid = true
    var hasModRM = false
    /// MOV to/from control and debug registers ignore ModRM.mod: the operand is a register.
    var registerOnly = false
    var immediate = Immediate.none
    var access: X86MemoryAccess? = nil
    var size = X86OperandWidth.none
    var flow: X86ControlFlow? = nil
    var rule = Rule.fixed

    static let invalid = OpcodeInfo(valid: false)
    static let plain = OpcodeInfo()
    static func imm(_ immediate: Immediate, flow: X86ControlFlow? = nil) -> OpcodeInfo {
        OpcodeInfo(immediate: immediate, flow: flow)
    }
    static func modRM(_ access: X86MemoryAccess?, _ size: X86OperandWidth, imm: Immediate = .none, rule: Rule = .fixed) -> OpcodeInfo {
        OpcodeInfo(hasModRM: true, immediate: imm, access: access, size: size, rule: rule)
    }
}

/// How wide a memory operand is, in terms of the instruction's attributes.
enum X86OperandWidth: Equatable {
    case none
    case bytes(Int)
    /// 2, 4 or 8 bytes by the 66 prefix and REX.W.
    case operand
    /// PUSH/POP and near CALL/JMP through memory: 8 bytes, 2 with 66.
    case stack
    /// MOVSXD: a 4-byte source (2 with 66 and no REX.W).
    case movsxd
    /// A far pointer m16:16/32/64.
    case far
    /// W ? first : second.
    case wide(Int, Int)
    /// Normally the first, the second with 66 and no REX.W (x87 environment and state images).
    case operandSized(Int, Int)
    /// The vector length (16, 32 or 64 bytes).
    case vector
    /// The vector length divided by this (half-, quarter-, eighth-width conversions).
    case vectorDivided(Int)
    /// MOVDDUP: 8 bytes at 128 bits, the full vector above.
    case movddup
}

extension X86Decoder {
    /// One-byte opcodes. Prefix bytes (26 2E 36 3E 64 65 66 67 F0 F2 F3 40–4F) and the
    /// 0F/VEX/EVEX escapes are consumed before this table is consulted.
    fileprivate static let primary: [OpcodeInfo] = {
        var t = [OpcodeInfo](repeating: .plain, count: 256)
        // ALU ops: op r/m,r (8/full) ; op r,r/m ; op AL,ib ; op eAX,iz. CMP (38–3D) only reads.
        for base in stride(from: 0x00, through: 0x38, by: 8) {
            let role: X86MemoryAccess = base == 0x38 ? .load : .loadStore
            t[base] = .modRM(role, .bytes(1))
            t[base + 1] = .modRM(role, .operand)
            t[base + 2] = .modRM(.load, .bytes(1))
            t[base + 3] = .modRM(.load, .operand)
            t[base + 4] = .imm(.byte)
            t[base + 5] = .imm(.full)
        }
        // Invalid in 64-bit mode: PUSH/POP of segments, BCD, PUSHA/POPA, BOUND, 82, far CALL/JMP
        // with pointer, INTO, AAM/AAD, SALC. (C4/C5/62 are VEX/EVEX, handled before.)
        for op in [0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x60, 0x61,
                   0x82, 0x9A, 0xCE, 0xD4, 0xD5, 0xD6, 0xEA] {
            t[op] = .invalid
        }
        t[0x63] = .modRM(.load, .movsxd)
        t[0x68] = .imm(.full)
        t[0x69] = .modRM(.load, .operand, imm: .full)
        t[0x6A] = .imm(.byte)
        t[0x6B] = .modRM(.load, .operand, imm: .byte)
        for op in 0x70...0x7F { t[op] = .imm(.rel8, flow: .conditionalJump) }
        t[0x80] = .modRM(nil, .bytes(1), imm: .byte, rule: .group1)
        t[0x81] = .modRM(nil, .operand, imm: .full, rule: .group1)
        t[0x83] = .modRM(nil, .operand, imm: .byte, rule: .group1)
        t[0x84] = .modRM(.load, .bytes(1))
        t[0x85] = .modRM(.load, .operand)
        t[0x86] = .modRM(.loadStore, .bytes(1))
        t[0x87] = .modRM(.loadStore, .operand)
        t[0x88] = .modRM(.store, .bytes(1))
        t[0x89] = .modRM(.store, .operand)
        t[0x8A] = .modRM(.load, .bytes(1))
        t[0x8B] = .modRM(.load, .operand)
        t[0x8C] = .modRM(.store, .bytes(2))
        t[0x8D] = .modRM(.addressOnly, .none)
        t[0x8E] = .modRM(.load, .bytes(2))
        t[0x8F] = .modRM(.store, .stack, rule: .group1A)
        t[0xA0] = OpcodeInfo(immediate: .moffs, access: .load, size: .bytes(1))
        t[0xA1] = OpcodeInfo(immediate: .moffs, access: .load, size: .operand)
        t[0xA2] = OpcodeInfo(immediate: .moffs, access: .store, size: .bytes(1))
        t[0xA3] = OpcodeInfo(immediate: .moffs, access: .store, size: .operand)
        t[0xA8] = .imm(.byte)
        t[0xA9] = .imm(.full)
        for op in 0xB0...0xB7 { t[op] = .imm(.byte) }
        for op in 0xB8...0xBF { t[op] = .imm(.wide) }
        t[0xC0] = .modRM(.loadStore, .bytes(1), imm: .byte, rule: .group2)
        t[0xC1] = .modRM(.loadStore, .operand, imm: .byte, rule: .group2)
        t[0xC2] = .imm(.word, flow: .return)
        t[0xC3] = .imm(.none, flow: .return)
        t[0xC6] = .modRM(.store, .bytes(1), imm: .byte, rule: .group11)
        t[0xC7] = .modRM(.store, .operand, imm: .full, rule: .group11)
        t[0xC8] = .imm(.enter)
        t[0xCA] = .imm(.word, flow: .return)
        t[0xCB] = .imm(.none, flow: .return)
        t[0xCD] = .imm(.byte)
        t[0xCF] = .imm(.none, flow: .return)
        for op in 0xD0...0xD3 { t[op] = .modRM(.loadStore, op & 1 == 0 ? .bytes(1) : .operand, rule: .group2) }
        for op in 0xD8...0xDF { t[op] = .modRM(nil, .none, rule: .x87) }
        for op in 0xE0...0xE3 { t[op] = .imm(.rel8, flow: .conditionalJump) }  // LOOPcc, JrCXZ
        for op in 0xE4...0xE7 { t[op] = .imm(.byte) }  // IN/OUT with port
        t[0xE8] = .imm(.rel32, flow: .call)
        t[0xE9] = .imm(.rel32, flow: .jump)
        t[0xEB] = .imm(.rel8, flow: .jump)
        t[0xF6] = .modRM(nil, .bytes(1), imm: .byte, rule: .group3)  // only TEST (/0 /1) has the imm
        t[0xF7] = .modRM(nil, .operand, imm: .full, rule: .group3)
        t[0xFE] = .modRM(.loadStore, .bytes(1), rule: .group4)
        t[0xFF] = .modRM(nil, .operand, rule: .group5)
        return t
    }()

    /// Two-byte opcodes `0F xx` (legacy encoding). SSE rows defer to `vectorRule`.
    fileprivate static let twoByte: [OpcodeInfo] = {
        var t = [OpcodeInfo](repeating: .invalid, count: 256)
        let vector = OpcodeInfo.modRM(nil, .none, rule: .vector)
        var vectorImm8 = vector
        vectorImm8.immediate = .byte
        t[0x00] = .modRM(nil, .bytes(2), rule: .group6)
        t[0x01] = .modRM(nil, .none, rule: .group7)
        t[0x02] = .modRM(.load, .bytes(2))  // LAR
        t[0x03] = .modRM(.load, .bytes(2))  // LSL
        for op in [0x05, 0x06, 0x07, 0x08, 0x09, 0x0B, 0x0E] { t[op] = .plain }  // SYSCALL…UD2, FEMMS
        t[0x0D] = .modRM(.addressOnly, .bytes(1))  // PREFETCH/PREFETCHW
        t[0x0F] = .modRM(.load, .bytes(8), imm: .byte)  // 3DNow!: the imm8 is the real opcode
        for op in 0x10...0x17 { t[op] = vector }
        t[0x18] = .modRM(.addressOnly, .bytes(1), rule: .group16)
        for op in 0x19...0x1F { t[op] = .modRM(.addressOnly, .operand) }  // hint NOPs, ENDBR, MPX
        t[0x1C] = .modRM(.addressOnly, .operand, rule: .group16)  // /0: CLDEMOTE
        for op in 0x20...0x23 { t[op] = OpcodeInfo(hasModRM: true, registerOnly: true) }  // MOV CRn/DRn
        for op in 0x28...0x2F { t[op] = vector }
        for op in 0x30...0x37 { t[op] = .plain }  // WRMSR RDTSC RDMSR RDPMC SYSENTER SYSEXIT GETSEC
        for op in 0x40...0x4F { t[op] = .modRM(.load, .operand) }  // CMOVcc
        for op in 0x50...0x7F { t[op] = vector }
        for op in 0x70...0x73 { t[op] = vectorImm8 }
        t[0x77] = .plain  // EMMS
        t[0x78] = .modRM(.store, .bytes(8), rule: .vmx)  // VMREAD; 66/F2: EXTRQ/INSERTQ ib,ib
        t[0x79] = .modRM(.load, .bytes(8), rule: .vmx)  // VMWRITE
        t[0x7A] = .invalid
        t[0x7B] = .invalid
        for op in 0x80...0x8F { t[op] = .imm(.rel32, flow: .conditionalJump) }
        for op in 0x90...0x9F { t[op] = .modRM(.store, .bytes(1)) }  // SETcc
        for op in [0xA0, 0xA1, 0xA2, 0xA8, 0xA9, 0xAA] { t[op] = .plain }  // PUSH/POP FS/GS, CPUID, RSM
        t[0xA3] = .modRM(.load, .operand)  // BT
        for op in [0xA6, 0xA7] { t[op] = OpcodeInfo(hasModRM: true, registerOnly: true) }  // VIA PadLock
        t[0xA4] = .modRM(.loadStore, .operand, imm: .byte)  // SHLD
        t[0xA5] = .modRM(.loadStore, .operand)
        t[0xAB] = .modRM(.loadStore, .operand)  // BTS
        t[0xAC] = .modRM(.loadStore, .operand, imm: .byte)  // SHRD
        t[0xAD] = .modRM(.loadStore, .operand)
        t[0xAE] = .modRM(nil, .none, rule: .group15)
        t[0xAF] = .modRM(.load, .operand)  // IMUL
        t[0xB0] = .modRM(.loadStore, .bytes(1))  // CMPXCHG
        t[0xB1] = .modRM(.loadStore, .operand)
        t[0xB2] = .modRM(.load, .far)  // LSS
        t[0xB3] = .modRM(.loadStore, .operand)  // BTR
        t[0xB4] = .modRM(.load, .far)  // LFS
        t[0xB5] = .modRM(.load, .far)  // LGS
        t[0xB6] = .modRM(.load, .bytes(1))  // MOVZX
        t[0xB7] = .modRM(.load, .bytes(2))
        t[0xB8] = .modRM(.load, .operand)  // POPCNT
        t[0xB9] = .modRM(.load, .operand)  // UD1
        t[0xBA] = .modRM(nil, .operand, imm: .byte, rule: .group8)
        t[0xBB] = .modRM(.loadStore, .operand)  // BTC
        t[0xBC] = .modRM(.load, .operand)  // BSF/TZCNT
        t[0xBD] = .modRM(.load, .operand)  // BSR/LZCNT
        t[0xBE] = .modRM(.load, .bytes(1))  // MOVSX
        t[0xBF] = .modRM(.load, .bytes(2))
        t[0xC0] = .modRM(.loadStore, .bytes(1))  // XADD
        t[0xC1] = .modRM(.loadStore, .operand)
        t[0xC2] = vectorImm8
        t[0xC3] = .modRM(.store, .operand)  // MOVNTI
        for op in 0xC4...0xC6 { t[op] = vectorImm8 }
        t[0xC7] = .modRM(nil, .none, rule: .group9)
        for op in 0xC8...0xCF { t[op] = .plain }  // BSWAP
        for op in 0xD0...0xFE { t[op] = vector }
        t[0xFF] = .modRM(.load, .operand)  // UD0
        return t
    }()

    /// VEX/EVEX map 1 opcodes that exist (VEX forms of SSE, AVX-512 mask ops).
    fileprivate static let vexMap1: Set<UInt8> = {
        var s = Set<UInt8>()
        for range in [0x10...0x17, 0x28...0x2F, 0x41...0x42, 0x44...0x47, 0x4A...0x4B, 0x50...0x7F,
                      0x90...0x93, 0x98...0x99, 0xAE...0xAE, 0xC2...0xC2, 0xC4...0xC6, 0xD0...0xFE] {
            for op in range { s.insert(UInt8(op)) }
        }
        return s
    }()

    /// EVEX map 1 opcodes (no mask-register ops, no AE; adds the unsigned conversions 78–7B).
    fileprivate static let evexMap1: Set<UInt8> = {
        var s = Set<UInt8>()
        for range in [0x10...0x17, 0x28...0x2F, 0x51...0x7F, 0xC2...0xC2, 0xC4...0xC6, 0xD1...0xFE] {
            for op in range { s.insert(UInt8(op)) }
        }
        return s
    }()
}

// MARK: - The decoder proper

/// Everything the rules need to know about one instruction besides its opcode.
struct X86Attributes {
    var encoding: X86Encoding
    var map: X86OpcodeMap
    var opcode: UInt8
    var prefixes: X86Prefixes
    var simdPrefix: UInt8
    var wide: Bool
    var vectorLength: Int
    var broadcast: Bool
    var reg: UInt8  // ModRM.reg, low three bits
    var registerForm: Bool  // ModRM.mod == 3

    var operandBytes: Int { wide ? 8 : (prefixes.contains(.operandSize) ? 2 : 4) }

    func bytes(_ size: X86OperandWidth) -> Int? {
        switch size {
        case .none: return nil
        case let .bytes(count): return count
        case .operand: return operandBytes
        case .stack: return prefixes.contains(.operandSize) && !wide ? 2 : 8
        case .movsxd: return prefixes.contains(.operandSize) && !wide ? 2 : 4
        case .far: return wide ? 10 : (prefixes.contains(.operandSize) ? 4 : 6)
        case let .wide(wideCount, narrowCount): return wide ? wideCount : narrowCount
        case let .operandSized(normal, short): return prefixes.contains(.operandSize) && !wide ? short : normal
        case .vector: return vectorLength
        case let .vectorDivided(divisor): return vectorLength / divisor
        case .movddup: return vectorLength == 16 ? 8 : vectorLength
        }
    }
}

/// Memory role, size and control flow after the opcode-specific rules; `valid: false` rejects.
private struct Resolved {
    var valid = true
    var access: X86MemoryAccess?
    var size: X86OperandWidth
    var flow: X86ControlFlow?
    var hasImmediate = true
}

extension X86Decoder {
    fileprivate static func decodeOne(_ r: inout Reader, address: UInt64) throws(X86DecodeError) -> X86Instruction {
        // Legacy prefixes in any order; a REX counts only if it comes last.
        var prefixes = X86Prefixes()
        var segment: X86Segment?
        var repeatPrefix: UInt8 = 0
        var rex: UInt8 = 0
        var byte = try r.u8()
        prefixLoop: while true {
            switch byte {
            case 0x66: prefixes.insert(.operandSize)
            case 0x67: prefixes.insert(.addressSize)
            case 0xF0: prefixes.insert(.lock)
            case 0xF2: prefixes.insert(.repne); repeatPrefix = byte
            case 0xF3: prefixes.insert(.rep); repeatPrefix = byte
            case 0x26: segment = .es
            case 0x2E: segment = .cs
            case 0x36: segment = .ss
            case 0x3E: segment = .ds
            case 0x64: segment = .fs
            case 0x65: segment = .gs
            case 0x40...0x4F:
                rex = byte
                byte = try r.u8()
                continue prefixLoop
            default: break prefixLoop
            }
            rex = 0  // a REX followed by another prefix is ignored
            byte = try r.u8()
        }

        var encoding = X86Encoding.legacy
        var map = X86OpcodeMap.primary
        var simdPrefix: UInt8 = repeatPrefix != 0 ? repeatPrefix : (prefixes.contains(.operandSize) ? 0x66 : 0)
        var wide = rex & 0x08 != 0
        // Register-number extensions (REX.R/X/B, VEX/EVEX inverted bits), each 0 or 8 (16 for R').
        var extendR = rex & 0x04 != 0 ? UInt8(8) : 0
        var extendX = rex & 0x02 != 0 ? UInt8(8) : 0
        var extendB = rex & 0x01 != 0 ? UInt8(8) : 0
        var extendVSIB: UInt8 = 0
        var vectorLength = 16
        var broadcast = false
        let opcode: UInt8

        switch byte {
        case 0x0F:
            let second = try r.u8()
            switch second {
            case 0x38: map = .map0F38; opcode = try r.u8()
            case 0x3A: map = .map0F3A; opcode = try r.u8()
            default: map = .map0F; opcode = second
            }
        case 0xC4, 0xC5, 0x62:
            // In 64-bit mode these are always VEX/EVEX; they may not follow REX, 66, F2, F3 or LOCK.
            guard rex == 0, prefixes.isDisjoint(with: [.operandSize, .rep, .repne, .lock]) else {
                throw .invalidEncoding("VEX/EVEX prefix after REX, 66, F2, F3 or LOCK")
            }
            let pp: UInt8
            var mapSelect: UInt8
            if byte == 0xC5 {
                encoding = .vex
                let p = try r.u8()
                extendR = p & 0x80 == 0 ? 8 : 0
                extendX = 0
                extendB = 0
                vectorLength = p & 0x04 != 0 ? 32 : 16
                pp = p & 3
                mapSelect = 1
                wide = false
            } else if byte == 0xC4 {
                encoding = .vex
                let p0 = try r.u8(), p1 = try r.u8()
                extendR = p0 & 0x80 == 0 ? 8 : 0
                extendX = p0 & 0x40 == 0 ? 8 : 0
                extendB = p0 & 0x20 == 0 ? 8 : 0
                mapSelect = p0 & 0x1F
                wide = p1 & 0x80 != 0
                vectorLength = p1 & 0x04 != 0 ? 32 : 16
                pp = p1 & 3
            } else {
                encoding = .evex
                let p0 = try r.u8(), p1 = try r.u8(), p2 = try r.u8()
                extendR = (p0 & 0x80 == 0 ? 8 : 0) | (p0 & 0x10 == 0 ? 16 : 0)
                extendX = p0 & 0x40 == 0 ? 8 : 0
                extendB = p0 & 0x20 == 0 ? 8 : 0
                extendVSIB = p2 & 0x08 == 0 ? 16 : 0
                mapSelect = p0 & 0x07
                if p0 & 0x08 != 0 || mapSelect == 4 { throw .unsupported("APX extended EVEX") }
                guard p1 & 0x04 != 0 else { throw .invalidEncoding("EVEX reserved bit clear") }
                wide = p1 & 0x80 != 0
                pp = p1 & 3
                vectorLength = [16, 32, 64, 64][Int((p2 >> 5) & 3)]
                broadcast = p2 & 0x10 != 0
            }
            switch mapSelect {
            case 1: map = .map0F
            case 2: map = .map0F38
            case 3: map = .map0F3A
            case 5 where encoding == .evex: map = .map5
            case 6 where encoding == .evex: map = .map6
            default: throw .invalidEncoding("\(encoding == .vex ? "VEX" : "EVEX") map \(mapSelect)")
            }
            simdPrefix = [0, 0x66, 0xF3, 0xF2][Int(pp)]
            opcode = try r.u8()
        default:
            opcode = byte
        }

        let theOpcode = X86Opcode(encoding, map, opcode)
        var info = try shape(of: theOpcode, simdPrefix: simdPrefix)
        guard info.valid else { throw .invalidOpcode(theOpcode) }
        if info.rule == .vmx, simdPrefix == 0x66 || simdPrefix == 0xF2 {
            info.immediate = opcode == 0x78 ? .twoBytes : .none  // EXTRQ/INSERTQ (AMD SSE4a)
        }

        // ModRM, SIB and displacement.
        var modRM: UInt8?
        var reg: UInt8?
        var memory: X86MemoryOperand?
        var resolved = Resolved(access: info.access, size: info.size, flow: info.flow)
        var attributes = X86Attributes(encoding: encoding, map: map, opcode: opcode, prefixes: prefixes,
                                    simdPrefix: simdPrefix, wide: wide, vectorLength: vectorLength,
                                    broadcast: broadcast, reg: 0, registerForm: true)
        if info.hasModRM {
            let m = try r.u8()
            modRM = m
            let mod = m >> 6
            attributes.reg = (m >> 3) & 7
            reg = attributes.reg | extendR
            attributes.registerForm = mod == 3 || info.registerOnly
            // XOP (AMD) reuses 8F with ModRM.reg != 0.
            if encoding == .legacy, map == .primary, opcode == 0x8F, attributes.reg != 0 {
                throw .unsupported("AMD XOP")
            }
            resolved = resolve(info, attributes)
            guard resolved.valid else { throw .invalidOpcode(theOpcode) }
            if !attributes.registerForm {
                var operand = X86MemoryOperand(access: resolved.access ?? .load, size: attributes.bytes(resolved.size),
                                               segment: segment, base: nil, index: nil, scale: 1,
                                               displacement: 0, isRIPRelative: false, target: nil)
                let rm = m & 7
                if rm == 4 {
                    let sib = try r.u8()
                    operand.scale = 1 << (sib >> 6)
                    let index = (sib >> 3) & 7 | extendX
                    if isVSIB(attributes) {
                        operand.index = index | extendVSIB
                    } else if index != 4 {  // index 100 without REX.X means none
                        operand.index = index
                    }
                    if sib & 7 == 5, mod == 0 {
                        operand.displacement = try r.integer(4)  // [disp32 + index*scale], no base
                    } else {
                        operand.base = sib & 7 | extendB
                    }
                } else if rm == 5, mod == 0 {
                    operand.isRIPRelative = true
                    operand.displacement = try r.integer(4)
                } else {
                    operand.base = rm | extendB
                }
                if mod == 1 { operand.displacement = try r.integer(1) }
                if mod == 2 { operand.displacement = try r.integer(4) }
                memory = operand
            }
        }

        // Immediates.
        var immediate: Int64?
        var relative: Int64?
        let fullBytes = prefixes.contains(.operandSize) && !wide ? 2 : 4
        switch resolved.hasImmediate ? info.immediate : .none {
        case .none: break
        case .byte: immediate = try r.integer(1)
        case .word: immediate = try r.integer(2, signed: false)
        case .full: immediate = try r.integer(fullBytes)
        case .wide: immediate = try r.integer(wide ? 8 : fullBytes)
        case .enter: immediate = try r.integer(2, signed: false); _ = try r.integer(1)
        case .twoBytes: immediate = try r.integer(1); _ = try r.integer(1)
        case .rel8: relative = try r.integer(1)
        case .rel32: relative = try r.integer(4)  // 66 is ignored on near branches in 64-bit mode
        case .moffs:
            let offset = try r.integer(prefixes.contains(.addressSize) ? 4 : 8, signed: false)
            memory = X86MemoryOperand(access: resolved.access ?? .load, size: attributes.bytes(resolved.size),
                                      segment: segment, base: nil, index: nil, scale: 1, displacement: offset,
                                      isRIPRelative: false, target: UInt64(bitPattern: offset))
        }

        // Addresses depend on the instruction's end.
        let length = r.length
        let end = address &+ UInt64(length)
        if var operand = memory, operand.target == nil {
            let displacement = UInt64(bitPattern: operand.displacement)
            if operand.isRIPRelative {
                operand.target = end &+ displacement
            } else if operand.base == nil, operand.index == nil {
                operand.target = displacement
            }
            if prefixes.contains(.addressSize), let target = operand.target {
                operand.target = target & 0xFFFF_FFFF  // 32-bit addressing wraps at 4 GiB
            }
            memory = operand
        }

        return X86Instruction(
            address: address, length: length, opcode: theOpcode, prefixes: prefixes, simdPrefix: simdPrefix,
            isWide: wide, rex: rex == 0 ? nil : rex, modRM: modRM, reg: reg, memory: memory,
            immediate: immediate, flow: resolved.flow,
            branchTarget: relative.map { end &+ UInt64(bitPattern: $0) })
    }

    /// The table entry for an opcode: ModRM and immediate shape.
    private static func shape(of opcode: X86Opcode, simdPrefix: UInt8) throws(X86DecodeError) -> OpcodeInfo {
        let vector = OpcodeInfo.modRM(nil, .none, rule: .vector)
        var vectorImm8 = vector
        vectorImm8.immediate = .byte
        switch (opcode.encoding, opcode.map) {
        case (.legacy, .primary): return primary[Int(opcode.byte)]
        case (.legacy, .map0F): return twoByte[Int(opcode.byte)]
        case (_, .map0F38), (_, .map5), (_, .map6): return vector  // all ModRM, no immediate
        case (_, .map0F3A): return vectorImm8  // all ModRM + imm8
        case (.vex, .map0F), (.evex, .map0F):
            let known = opcode.encoding == .vex ? vexMap1 : evexMap1
            guard known.contains(opcode.byte), vectorPrefixAllowed(opcode.byte, simdPrefix) else {
                throw .invalidOpcode(opcode)
            }
            if opcode.encoding == .vex, opcode.byte == 0x77 { return .plain }  // VZEROUPPER/VZEROALL
            switch opcode.byte {
            case 0x70...0x73, 0xC2, 0xC4...0xC6: return vectorImm8
            default: return vector
            }
        case (.legacy, _), (.vex, .primary), (.evex, .primary):
            throw .invalidOpcode(opcode)
        }
    }

    /// VEX/EVEX forms of the MMX-era integer opcodes exist only with the prefixes listed here.
    private static func vectorPrefixAllowed(_ opcode: UInt8, _ prefix: UInt8) -> Bool {
        let allowed: [UInt8]
        switch opcode {
        case 0x6F, 0x7F: allowed = [0x66, 0xF3, 0xF2]
        case 0x70, 0xE6: allowed = [0x66, 0xF3, 0xF2]
        case 0x7E: allowed = [0x66, 0xF3]
        case 0xD0, 0x7C, 0x7D: allowed = [0x66, 0xF2]
        case 0xF0: allowed = [0xF2]
        case 0x60...0x6E, 0x71...0x76, 0xD1...0xDF, 0xE0...0xE5, 0xE7...0xEF, 0xF1...0xFE: allowed = [0x66]
        default: return true
        }
        return allowed.contains(prefix)
    }

    private static func isVSIB(_ a: X86Attributes) -> Bool {
        guard a.encoding != .legacy, a.map == .map0F38 else { return false }
        switch a.opcode {
        case 0x90...0x93, 0xA0...0xA3, 0xC6, 0xC7: return true
        default: return false
        }
    }

    /// Applies group, x87 and vector rules once ModRM.reg is known.
    private static func resolve(_ info: OpcodeInfo, _ a: X86Attributes) -> Resolved {
        var out = Resolved(access: info.access, size: info.size, flow: info.flow)
        let reg = a.reg
        switch info.rule {
        case .fixed, .group2, .vmx:
            break
        case .group1:  // ADD OR ADC SBB AND SUB XOR CMP
            out.access = reg == 7 ? .load : .loadStore
        case .group1A:  // POP r/m (8F /0); other /digits are XOP, rejected by the caller
            break
        case .group3:  // TEST ib/iz (/0, /1), NOT, NEG, MUL, IMUL, DIV, IDIV
            out.access = reg == 2 || reg == 3 ? .loadStore : .load
            out.hasImmediate = reg <= 1
        case .group4:  // INC/DEC r/m8
            out.valid = reg <= 1
        case .group5:
            switch reg {
            case 0, 1: out.access = .loadStore  // INC, DEC
            case 2: out.access = .load; out.size = .bytes(8); out.flow = .call
            case 3: out.access = .load; out.size = .far; out.flow = .call
            case 4: out.access = .load; out.size = .bytes(8); out.flow = .jump
            case 5: out.access = .load; out.size = .far; out.flow = .jump
            case 6: out.access = .load; out.size = .stack  // PUSH
            default: out.valid = false
            }
        case .group11:  // MOV r/m, imm (/0); C6 F8 XABORT and C7 F8 XBEGIN are register forms
            out.valid = reg == 0 || (a.registerForm && reg == 7)
        case .x87:
            if !a.registerForm {
                let row = Int(a.opcode - 0xD8)
                guard let (access, size) = x87[row][Int(reg)] else { out.valid = false; break }
                (out.access, out.size) = (access, size)
            }
        case .group6:  // SLDT STR LLDT LTR VERR VERW, F2: LKGS
            out.valid = reg <= 5 || (reg == 6 && a.simdPrefix == 0xF2)
            out.access = reg <= 1 ? .store : .load
        case .group7:
            (out.access, out.size) = group7[Int(reg)]
        case .group8:  // BT BTS BTR BTC with imm8
            out.valid = reg >= 4
            out.access = reg == 4 ? .load : .loadStore
        case .group9:
            switch (reg, a.registerForm) {
            case (1, false): out.access = .loadStore; out.size = .wide(16, 8)  // CMPXCHG8B/16B
            case (3, false), (6, false): out.access = .load; out.size = reg == 3 ? .none : .bytes(8)  // XRSTORS, VMPTRLD
            case (4, false), (5, false): out.access = .store  // XSAVEC, XSAVES
            case (7, false): out.access = .store; out.size = .bytes(8)  // VMPTRST
            case (_, false): out.valid = false
            default: break  // RDRAND, RDSEED, RDPID, SENDUIPI…
            }
        case .group15:
            switch reg {
            case 0: out.access = .store; out.size = .bytes(512)  // FXSAVE
            case 1: out.access = .load; out.size = .bytes(512)  // FXRSTOR
            case 2: out.access = .load; out.size = .bytes(4)  // LDMXCSR
            case 3: out.access = .store; out.size = .bytes(4)  // STMXCSR
            case 4 where a.simdPrefix == 0xF3: out.access = .load; out.size = .wide(8, 4)  // PTWRITE
            case 4: out.access = .store  // XSAVE
            case 5: out.access = .load  // XRSTOR
            case 6 where a.simdPrefix == 0x66: out.access = .addressOnly; out.size = .bytes(1)  // CLWB
            case 6 where a.simdPrefix == 0xF3: out.access = .loadStore; out.size = .bytes(8)  // CLRSSBSY
            case 6: out.access = .store  // XSAVEOPT
            default: out.access = .addressOnly; out.size = .bytes(1)  // CLFLUSH(OPT)
            }
        case .group16:  // 0F 18: PREFETCHh /0–/3, PREFETCHIT1/0 /6 /7; 0F 1C /0: CLDEMOTE
            let oneByte = a.opcode == 0x18 ? (reg <= 3 || reg >= 6) : (reg == 0 && a.simdPrefix == 0)
            out.size = oneByte ? .bytes(1) : .operand
        case .vector:
            guard let (access, size) = vectorRule(a) else { out.valid = false; break }
            out.access = access
            out.size = size
            // An EVEX broadcast reads one element.
            if a.encoding == .evex, a.broadcast, !a.registerForm, access == .load, size != .none {
                out.size = .wide(8, 4)
            }
        }
        return out
    }
}
