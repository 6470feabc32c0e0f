// Memory operand widths of the x87, system and vector (SSE/AVX/AVX-512) instructions.
//
// Production needs far less than this (see X86Decoder.swift): the widths of general-purpose
// loads, stores and exchanges of runtime globals. These tables exist so that the objdump
// cross-check (X86DecoderTests) can compare the access and width of every memory operand in whole
// Go binaries, the runtime's vector and crypto code included. They still feed the same
// `memoryOperandSize` (an 8-byte MOVQ or MOVSD of a global counts as a word access) and mark a few
// forms invalid (which stops a linear decode), so they stay part of the decoder, kept apart here.

// MARK: - x87 and system

extension X86Decoder {
    /// x87 memory forms (D8–DF, ModRM.reg): access and size; nil marks an invalid form.
    static let x87: [[(X86MemoryAccess, X86OperandWidth)?]] = {
        let L = X86MemoryAccess.load, S = X86MemoryAccess.store
        let b2 = X86OperandWidth.bytes(2), b4 = X86OperandWidth.bytes(4)
        let b8 = X86OperandWidth.bytes(8), b10 = X86OperandWidth.bytes(10)
        let env = X86OperandWidth.operandSized(28, 14), state = X86OperandWidth.operandSized(108, 94)
        return [
            /* D8 */ [(L, b4), (L, b4), (L, b4), (L, b4), (L, b4), (L, b4), (L, b4), (L, b4)],
            /* D9 */ [(L, b4), nil, (S, b4), (S, b4), (L, env), (L, b2), (S, env), (S, b2)],
            /* DA */ [(L, b4), (L, b4), (L, b4), (L, b4), (L, b4), (L, b4), (L, b4), (L, b4)],
            /* DB */ [(L, b4), (S, b4), (S, b4), (S, b4), nil, (L, b10), nil, (S, b10)],
            /* DC */ [(L, b8), (L, b8), (L, b8), (L, b8), (L, b8), (L, b8), (L, b8), (L, b8)],
            /* DD */ [(L, b8), (S, b8), (S, b8), (S, b8), (L, state), nil, (S, state), (S, b2)],
            /* DE */ [(L, b2), (L, b2), (L, b2), (L, b2), (L, b2), (L, b2), (L, b2), (L, b2)],
            /* DF */ [(L, b2), (S, b2), (S, b2), (S, b2), (L, b10), (L, b8), (S, b10), (S, b8)],
        ]
    }()

    /// Group 7 (0F 01) memory forms by ModRM.reg: SGDT SIDT LGDT LIDT SMSW RSTORSSP LMSW INVLPG.
    static let group7: [(X86MemoryAccess, X86OperandWidth)] = [
        (.store, .bytes(10)), (.store, .bytes(10)), (.load, .bytes(10)), (.load, .bytes(10)),
        (.store, .bytes(2)), (.loadStore, .bytes(8)), (.load, .bytes(2)), (.addressOnly, .none),
    ]
}

// MARK: - SSE / AVX / AVX-512

extension X86Decoder {
    /// Memory role and size for vector instructions (and the few general-purpose ones in the
    /// 0F 38 / 0F 3A maps). Most vector instructions read their memory operand, whole-vector
    /// wide; the switch lists the stores, scalars and the other widths. nil: invalid form.
    static func vectorRule(_ a: X86Attributes) -> (X86MemoryAccess, X86OperandWidth)? {
        let p = a.simdPrefix
        let legacyMMX = a.encoding == .legacy && p == 0  // no prefix: the MMX (mm, m64) form
        let scalar: X86OperandWidth? = p == 0xF3 ? .bytes(4) : (p == 0xF2 ? .bytes(8) : nil)
        let op = a.opcode
        switch a.map {
        case .map0F:
            switch op {
            case 0x10: return (.load, scalar ?? .vector)  // MOVUPS/MOVSS/MOVUPD/MOVSD
            case 0x11: return (.store, scalar ?? .vector)
            case 0x12: return (.load, p == 0xF3 ? .vector : (p == 0xF2 ? .movddup : .bytes(8)))  // MOVLPS, MOVSLDUP, MOVDDUP
            case 0x13, 0x17: return (.store, .bytes(8))  // MOVLPS/MOVHPS stores
            case 0x16: return (.load, p == 0xF3 ? .vector : .bytes(8))  // MOVHPS, MOVSHDUP
            case 0x29: return (.store, .vector)  // MOVAPS
            case 0x2B: return (.store, scalar ?? .vector)  // MOVNTPS, MOVNTSS/SD
            case 0x2A: return (.load, scalar != nil ? .wide(8, 4) : .bytes(8))  // CVTSI2SS/SD, CVTPI2PS
            case 0x2C, 0x2D: return (.load, scalar ?? (p == 0x66 ? .bytes(16) : .bytes(8)))
            case 0x2E, 0x2F: return (.load, p == 0x66 ? .bytes(8) : .bytes(4))  // (U)COMISS/SD
            case 0x5A: return (.load, scalar ?? (p == 0x66 ? .vector : .vectorDivided(2)))  // CVTPS2PD is half-width
            case 0x5B: return (.load, .vector)
            case 0x51...0x5F, 0xC2: return (.load, scalar ?? .vector)
            case 0x6E: return (.load, .wide(8, 4))  // MOVD/MOVQ from r/m
            case 0x7E: return p == 0xF3 ? (.load, .bytes(8)) : (.store, .wide(8, 4))  // MOVQ xmm, m64 / MOVD r/m, xmm
            case 0x7F: return (.store, legacyMMX ? .bytes(8) : .vector)
            case 0x78...0x7B where a.encoding == .evex:  // AVX-512 unsigned and quadword conversions
                if op == 0x7B, p == 0xF3 || p == 0xF2 { return (.load, .wide(8, 4)) }  // VCVTUSI2SS/SD
                if let scalar, op <= 0x79 { return (.load, scalar) }  // VCVT(T)SS/SD2USI
                if p == 0x66 || (op == 0x7A && p == 0xF3) { return (.load, a.wide ? .vector : .vectorDivided(2)) }
                return (.load, .vector)
            case 0x90: return (.load, kmovSize(a))  // KMOV k, m
            case 0x91: return (.store, kmovSize(a))
            case 0xAE:  // VLDMXCSR / VSTMXCSR
                guard a.reg == 2 || a.reg == 3 else { return a.registerForm ? (.load, .none) : nil }
                return (a.reg == 2 ? .load : .store, .bytes(4))
            case 0xC4: return (.load, .bytes(2))  // PINSRW
            case 0xD6: return (.store, .bytes(8))  // MOVQ m64, xmm
            case 0xE6: return (.load, p == 0xF3 ? .vectorDivided(2) : .vector)  // CVTDQ2PD is half-width
            case 0xE7: return (.store, legacyMMX ? .bytes(8) : .vector)  // MOVNTQ/MOVNTDQ
            case 0xD1...0xD3, 0xE1, 0xE2, 0xF1...0xF3: return (.load, legacyMMX ? .bytes(8) : .bytes(16))  // shift counts
            case 0x60...0x62 where legacyMMX: return (.load, .bytes(4))  // PUNPCKL* mm, m32
            case 0x60...0x7F, 0xD0...0xFF: return (.load, legacyMMX ? .bytes(8) : .vector)
            default: return (.load, .vector)
            }
        case .map0F38:
            // Down-converting VPMOV* (EVEX F3) store; sign/zero extensions load. The low nibble
            // gives the ratio: B→W, B→D, B→Q, W→D, W→Q, D→Q.
            let ratio = [2, 4, 8, 2, 4, 2][Int(op & 0x0F) % 6]
            if a.encoding == .evex, p == 0xF2, [0x52, 0x53, 0x9A, 0x9B, 0xAA, 0xAB].contains(op) {
                return (.load, .bytes(16))  // AVX512_4FMAPS/4VNNIW read one 16-byte block
            }
            if a.encoding == .legacy, p == 0xF3, (0xD8...0xDF).contains(op) {  // Key Locker handles
                return (.load, .bytes((op == 0xD8 ? a.reg >= 2 : op >= 0xDE) ? 64 : 48))
            }
            switch op {
            case 0x10...0x15 where p == 0xF3, 0x20...0x25 where p == 0xF3, 0x30...0x35 where p == 0xF3:
                return (.store, .vectorDivided(ratio))
            case 0x20...0x25, 0x30...0x35: return (.load, .vectorDivided(ratio))
            case 0x00...0x0B, 0x1C...0x1E: return (.load, legacyMMX ? .bytes(8) : .vector)  // SSSE3
            case 0x13: return (.load, .vectorDivided(2))  // VCVTPH2PS
            case 0x18, 0x58: return (.load, .bytes(4))  // VBROADCASTSS, VPBROADCASTD
            case 0x19, 0x59: return (.load, .bytes(8))
            case 0x1A, 0x5A: return (.load, .bytes(16))
            case 0x1B, 0x5B: return (.load, .bytes(32))
            case 0x78: return (.load, .bytes(1))  // VPBROADCASTB
            case 0x79: return (.load, .bytes(2))
            case 0x2E, 0x2F, 0x8E: return (.store, .vector)  // VMASKMOVPS/PD, VPMASKMOVD/Q stores
            case 0x63, 0x8A, 0x8B: return (.store, .vector)  // VPCOMPRESSB/W, VCOMPRESSPS/PD
            case 0x2D, 0x43, 0x4D, 0x4F, 0xCB, 0xCD:  // EVEX scalars (VEX 2D: VMASKMOVPD load)
                return (.load, a.encoding == .evex ? .wide(8, 4) : .vector)
            case 0x90...0x93: return (.load, .wide(8, 4))  // gathers: one element per lane
            case 0xA0...0xA3: return (.store, .wide(8, 4))  // scatters
            case 0xC6, 0xC7: return (.addressOnly, .none)  // gather/scatter prefetches
            case 0x99, 0x9B, 0x9D, 0x9F, 0xA9, 0xAB, 0xAD, 0xAF, 0xB9, 0xBB, 0xBD, 0xBF:
                return (.load, .wide(8, 4))  // scalar FMA
            case 0x80...0x82 where a.encoding == .legacy: return (.load, .bytes(16))  // INVEPT INVVPID INVPCID
            case 0xC8...0xCD where a.encoding == .legacy: return (.load, .bytes(16))  // SHA
            case 0xDB: return (.load, .bytes(16))  // AESIMC
            case 0xDC...0xDF where a.encoding == .legacy: return (.load, .bytes(16))
            case 0xF0 where a.encoding == .legacy, 0xF1 where a.encoding == .legacy:
                if p == 0xF2 { return (.load, op == 0xF0 ? .bytes(1) : .operand) }  // CRC32
                return (op == 0xF0 ? .load : .store, .operand)  // MOVBE
            case 0xF5 where a.encoding == .legacy, 0xF6 where a.encoding == .legacy:  // WRUSS/WRSS, ADCX/ADOX
                return (p == 0x66 && op == 0xF6 || p == 0xF3 ? .load : .store, .wide(8, 4))
            case 0xF2...0xF7 where a.encoding == .vex: return (.load, .wide(8, 4))  // BMI1/BMI2
            case 0xE0...0xEF where a.encoding == .vex: return (.loadStore, .wide(8, 4))  // CMPccXADD
            case 0xFC where a.encoding == .legacy: return (.loadStore, .wide(8, 4))  // AADD AAND AOR AXOR
            case 0xF8 where a.encoding == .legacy: return (.load, .bytes(64))  // MOVDIR64B, ENQCMD(S)
            case 0xF9 where a.encoding == .legacy: return (.store, .wide(8, 4))  // MOVDIRI
            default: return (.load, .vector)
            }
        case .map0F3A:
            if a.encoding == .evex, p == 0 { return (.load, .none) }  // AVX512-FP16 forms
            switch op {
            case 0x06, 0x46: return (.load, .bytes(32))  // VPERM2F128/I128
            case 0x0A: return (.load, .bytes(4))  // ROUNDSS, VRNDSCALESS
            case 0x0B: return (.load, .bytes(8))
            case 0x0F: return (.load, legacyMMX ? .bytes(8) : .vector)  // PALIGNR
            case 0x14: return (.store, .bytes(1))  // PEXTRB
            case 0x15: return (.store, .bytes(2))  // PEXTRW
            case 0x16: return (.store, .wide(8, 4))  // PEXTRD/Q
            case 0x17: return (.store, .bytes(4))  // EXTRACTPS
            case 0x18, 0x38: return (.load, .bytes(16))  // VINSERTF128/I128 (and 32x4/64x2)
            case 0x19, 0x39: return (.store, .bytes(16))  // VEXTRACTF128/I128
            case 0x1A, 0x3A: return (.load, .bytes(32))
            case 0x1B, 0x3B: return (.store, .bytes(32))
            case 0x1D: return (.store, .vectorDivided(2))  // VCVTPS2PH
            case 0x20: return (.load, .bytes(1))  // PINSRB
            case 0x21: return (.load, .bytes(4))  // INSERTPS
            case 0x22: return (.load, .wide(8, 4))  // PINSRD/Q
            case 0x27, 0x51, 0x55, 0x57, 0x67: return (.load, .wide(8, 4))  // EVEX scalars
            case 0x60...0x63, 0xCC, 0xDF: return (.load, .bytes(16))  // PCMPxSTRx, SHA1RNDS4, AESKEYGENASSIST
            case 0x44 where a.encoding == .legacy: return (.load, .bytes(16))  // PCLMULQDQ
            case 0xF0: return (.load, .wide(8, 4))  // RORX
            case 0x6A, 0x6B, 0x6E, 0x6F, 0x7A, 0x7B, 0x7E, 0x7F:
                return (.load, .bytes(op & 1 == 0 ? 4 : 8))  // AMD FMA4 scalars (VEX only)
            default: return (.load, .vector)
            }
        case .map5, .map6:  // AVX512-FP16: widths vary too much by form to be worth tabulating
            return (.load, .none)
        case .primary:
            return nil
        }
    }

    /// KMOVB/W/D/Q memory width: by pp (none: W/Q, 66: B/D) and W.
    private static func kmovSize(_ a: X86Attributes) -> X86OperandWidth {
        a.simdPrefix == 0x66 ? .wide(4, 1) : .wide(8, 2)
    }
}
