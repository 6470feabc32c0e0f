import Foundation
import Testing
import GospyTestSupport
@testable import GospyBinary

/// X86Decoder on literal encodings, on hostile bytes, and against objdump on real Go binaries.
@Suite struct X86DecoderTests {
    private static let base: UInt64 = 0x40_1000

    private func one(_ bytes: [UInt8], at address: UInt64 = base) throws -> X86Instruction {
        try X86Decoder.decodeInstruction(bytes, at: address).get()
    }

    // MARK: - RIP-relative operands

    @Test func movLoadFromRIP() throws {
        // MOV RAX, [RIP+0x10]: the base is the end of the 7-byte instruction.
        let i = try one([0x48, 0x8B, 0x05, 0x10, 0x00, 0x00, 0x00])
        #expect(i.length == 7)
        #expect(i.ripTarget == Self.base + 7 + 0x10)
        #expect(i.memoryAccess == .load)
        #expect(i.memoryOperandSize == 8)
        #expect(i.reg == 0)  // RAX
        #expect(i.isWide)
        #expect(!i.isLEA && !i.isExchange)
    }

    @Test func negativeDisplacementWraps() throws {
        // MOV ECX, [RIP-0x20]: 4-byte load, negative displacement.
        let i = try one([0x8B, 0x0D, 0xE0, 0xFF, 0xFF, 0xFF])
        #expect(i.ripTarget == Self.base + 6 - 0x20)
        #expect(i.memoryOperandSize == 4)
        #expect(i.reg == 1)
        // Near address 0 the sum wraps instead of trapping.
        let low = try one([0x8B, 0x0D, 0x00, 0x00, 0x00, 0x80], at: 0)
        #expect(low.ripTarget == 6 &+ UInt64(bitPattern: Int64(Int32.min)))
    }

    @Test func storesExchangesAndLEA() throws {
        let store = try one([0x48, 0x89, 0x0D, 0x00, 0x01, 0x00, 0x00])  // MOV [RIP+0x100], RCX
        #expect(store.memoryAccess == .store)
        #expect(store.memoryOperandSize == 8)
        #expect(store.ripTarget == Self.base + 7 + 0x100)
        #expect(store.reg == 1)

        let lea = try one([0x48, 0x8D, 0x05, 0x00, 0x02, 0x00, 0x00])  // LEA RAX, [RIP+0x200]
        #expect(lea.isLEA)
        #expect(lea.memoryAccess == .addressOnly)
        #expect(lea.memoryOperandSize == nil)
        #expect(lea.ripTarget == Self.base + 7 + 0x200)

        let xchg = try one([0x48, 0x87, 0x05, 0x08, 0x00, 0x00, 0x00])  // XCHG [RIP+8], RAX
        #expect(xchg.isExchange)
        #expect(xchg.memoryAccess == .loadStore)
        #expect(xchg.ripTarget == Self.base + 7 + 8)

        let cmpxchg = try one([0xF0, 0x4C, 0x0F, 0xB1, 0x0D, 0x04, 0x00, 0x00, 0x00])  // LOCK CMPXCHG [RIP+4], R9
        #expect(cmpxchg.prefixes.contains(.lock))
        #expect(cmpxchg.memoryAccess == .loadStore)
        #expect(cmpxchg.memoryOperandSize == 8)
        #expect(cmpxchg.reg == 9)
        #expect(cmpxchg.ripTarget == Self.base + 9 + 4)

        let inc = try one([0xFF, 0x05, 0x00, 0x00, 0x00, 0x00])  // INC DWORD [RIP]
        #expect(inc.memoryAccess == .loadStore)
        #expect(inc.memoryOperandSize == 4)

        let add = try one([0x48, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00])  // ADD [RIP], RAX
        #expect(add.memoryAccess == .loadStore)
        let cmp = try one([0x48, 0x39, 0x05, 0x00, 0x00, 0x00, 0x00])  // CMP [RIP], RAX
        #expect(cmp.memoryAccess == .load)
    }

    @Test func immediateFollowsDisplacement() throws {
        // MOV BYTE [RIP+0x30], 1: disp32 then imm8; RIP is the end of all 7 bytes.
        let b = try one([0xC6, 0x05, 0x30, 0x00, 0x00, 0x00, 0x01])
        #expect(b.length == 7)
        #expect(b.ripTarget == Self.base + 7 + 0x30)
        #expect(b.memoryAccess == .store)
        #expect(b.memoryOperandSize == 1)
        #expect(b.immediate == 1)
        // MOV DWORD [RIP+0x30], imm32 and MOV WORD [RIP+0x30], imm16 (66 shrinks the immediate).
        let d = try one([0xC7, 0x05, 0x30, 0x00, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12])
        #expect(d.length == 10)
        #expect(d.ripTarget == Self.base + 10 + 0x30)
        #expect(d.immediate == 0x1234_5678)
        let w = try one([0x66, 0xC7, 0x05, 0x30, 0x00, 0x00, 0x00, 0x34, 0x12])
        #expect(w.length == 9)
        #expect(w.memoryOperandSize == 2)
        #expect(w.ripTarget == Self.base + 9 + 0x30)
        // CMP QWORD [RIP+0x40], 0 (83 /7 ib) only reads.
        let c = try one([0x48, 0x83, 0x3D, 0x40, 0x00, 0x00, 0x00, 0x00])
        #expect(c.length == 8)
        #expect(c.memoryAccess == .load)
        #expect(c.ripTarget == Self.base + 8 + 0x40)
    }

    @Test func group3TestHasImmediateOthersDoNot() throws {
        // TEST BYTE [RIP+0], 0x80 (F6 /0 ib) versus NOT/NEG/MUL (no immediate).
        #expect(try one([0xF6, 0x05, 0, 0, 0, 0, 0x80]).length == 7)
        #expect(try one([0xF6, 0x0D, 0, 0, 0, 0, 0x80]).length == 7)  // /1 is TEST too
        #expect(try one([0xF7, 0x05, 0, 0, 0, 0, 1, 0, 0, 0]).length == 10)
        #expect(try one([0x66, 0xF7, 0x05, 0, 0, 0, 0, 1, 0]).length == 9)
        let neg = try one([0x48, 0xF7, 0x1D, 0, 0, 0, 0])
        #expect(neg.length == 7)
        #expect(neg.memoryAccess == .loadStore)
        #expect(try one([0x48, 0xF7, 0xE1]).length == 3)  // MUL RCX
    }

    @Test func immediateSizes() throws {
        #expect(try one([0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8]).length == 10)  // MOVABS RAX, imm64
        #expect(try one([0xB8, 1, 2, 3, 4]).length == 5)
        #expect(try one([0x66, 0xB8, 1, 2]).length == 4)
        #expect(try one([0x66, 0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8]).length == 11)  // REX.W beats 66
        #expect(try one([0xC8, 0x10, 0x00, 0x01]).length == 4)  // ENTER iw, ib
        #expect(try one([0xC2, 0x08, 0x00]).isReturn)
        #expect(try one([0x6A, 0xFF]).immediate == -1)
        #expect(try one([0x48, 0x69, 0xC0, 0x10, 0, 0, 0]).length == 7)  // IMUL RAX, RAX, imm32
        #expect(try one([0x48, 0xC1, 0xE0, 0x03]).length == 4)  // SHL RAX, 3
        #expect(try one([0x0F, 0xBA, 0xE0, 0x03]).length == 4)  // BT EAX, 3
        #expect(try one([0x66, 0x0F, 0x3A, 0x0F, 0xC1, 0x08]).length == 6)  // PALIGNR (0F 3A: imm8)
        #expect(try one([0x66, 0x0F, 0x70, 0xC1, 0x1B]).length == 5)  // PSHUFD imm8
    }

    @Test func moffsIsAnAbsoluteEightByteAddress() throws {
        let load = try one([0x48, 0xA1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])  // MOVABS RAX, [moffs64]
        #expect(load.length == 10)
        #expect(load.memory?.target == 0x1122_3344_5566_7788)
        #expect(load.staticAddress == 0x1122_3344_5566_7788)
        #expect(load.ripTarget == nil)
        #expect(load.memoryAccess == .load)
        #expect(load.memoryOperandSize == 8)
        let store = try one([0xA2, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(store.memoryAccess == .store && store.memoryOperandSize == 1)
        #expect(try one([0x67, 0xA1, 1, 0, 0, 0]).length == 6)  // 32-bit address with 67
    }

    @Test func sibAndAbsoluteForms() throws {
        // MOV RCX, FS:[-8] (Go's TLS g load): SIB with no base or index, disp32.
        let tls = try one([0x64, 0x48, 0x8B, 0x0C, 0x25, 0xF8, 0xFF, 0xFF, 0xFF])
        #expect(tls.length == 9)
        #expect(tls.memory?.segment == .fs)
        #expect(tls.memory?.base == nil && tls.memory?.index == nil)
        #expect(tls.memory?.target == UInt64(bitPattern: -8))
        #expect(tls.staticAddress == nil)  // relative to FS, not an address
        #expect(tls.ripTarget == nil)
        // MOV RAX, [RBP + R12*8 + 0x10] (SIB with REX.X, disp8); [RSP] needs a SIB.
        let sib = try one([0x4A, 0x8B, 0x44, 0xE5, 0x10])
        #expect(sib.memory?.base == 5)
        #expect(sib.memory?.index == 12)
        #expect(sib.memory?.scale == 8)
        #expect(sib.memory?.displacement == 0x10)
        #expect(try one([0x48, 0x8B, 0x04, 0x24]).memory?.index == nil)
        // mod=01 rm=101 is [RBP+disp8], not RIP-relative.
        let rbp = try one([0x48, 0x8B, 0x45, 0xF8])
        #expect(rbp.ripTarget == nil && rbp.memory?.base == 5 && rbp.memory?.displacement == -8)
        // mod=00, SIB base=101: disp32 without base (with an index).
        let table = try one([0x8B, 0x04, 0xCD, 0x00, 0x10, 0x00, 0x00])
        #expect(table.length == 7 && table.memory?.base == nil && table.memory?.index == 1)
    }

    @Test func branches() throws {
        let call = try one([0xE8, 0x10, 0x00, 0x00, 0x00])
        #expect(call.isCall && call.branchTarget == Self.base + 5 + 0x10)
        let back = try one([0xEB, 0xFE])  // JMP to itself
        #expect(back.isJump && !back.isConditionalJump && back.branchTarget == Self.base)
        let jcc = try one([0x0F, 0x84, 0x00, 0x01, 0x00, 0x00])
        #expect(jcc.isConditionalJump && jcc.branchTarget == Self.base + 6 + 0x100)
        #expect(try one([0x75, 0x02]).branchTarget == Self.base + 4)
        let indirect = try one([0xFF, 0x15, 0x10, 0, 0, 0])  // CALL [RIP+0x10]
        #expect(indirect.isCall && indirect.branchTarget == nil)
        #expect(indirect.ripTarget == Self.base + 6 + 0x10 && indirect.memoryAccess == .load)
        #expect(indirect.memoryOperandSize == 8)
        let jmpReg = try one([0xFF, 0xE0])  // JMP RAX
        #expect(jmpReg.isJump && jmpReg.memory == nil)
        #expect(try one([0xC3]).isReturn)
        #expect(try one([0xF3, 0xC3]).length == 2)  // REP RET
    }

    @Test func sseAndGeneralPurpose0F() throws {
        // MOVUPS [RIP+0], XMM0 is a 16-byte store; MOVSD XMM0, [RIP] an 8-byte load.
        let movups = try one([0x0F, 0x11, 0x05, 0, 0, 0, 0])
        #expect(movups.memoryAccess == .store && movups.memoryOperandSize == 16)
        let movsd = try one([0xF2, 0x0F, 0x10, 0x05, 0, 0, 0, 0])
        #expect(movsd.memoryAccess == .load && movsd.memoryOperandSize == 8)
        let movzx = try one([0x0F, 0xB6, 0x05, 0, 0, 0, 0])
        #expect(movzx.memoryOperandSize == 1 && movzx.memoryAccess == .load)
        let sete = try one([0x0F, 0x94, 0x05, 0, 0, 0, 0])
        #expect(sete.memoryAccess == .store && sete.memoryOperandSize == 1)
        let nop = try one([0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00])
        #expect(nop.length == 10 && nop.memoryAccess == .addressOnly && nop.memory?.segment == .cs)
        #expect(try one([0xF3, 0x0F, 0x1E, 0xFA]).length == 4)  // ENDBR64
        #expect(try one([0x0F, 0x20, 0xC0]).memory == nil)  // MOV RAX, CR0 ignores mod
        let crc = try one([0xF2, 0x48, 0x0F, 0x38, 0xF1, 0x05, 0, 0, 0, 0])  // CRC32 RAX, QWORD [RIP]
        #expect(crc.length == 10 && crc.memoryOperandSize == 8 && crc.opcode.map == .map0F38)
        let pextr = try one([0x66, 0x0F, 0x3A, 0x16, 0x05, 0, 0, 0, 0, 0x01])  // PEXTRD [RIP], XMM0, 1
        #expect(pextr.length == 10 && pextr.memoryAccess == .store && pextr.memoryOperandSize == 4)
        #expect(pextr.ripTarget == Self.base + 10)
    }

    @Test func vexEncodings() throws {
        // VMOVDQU YMM0, [RIP+0x20] (C5 FE 6F 05 disp32).
        let load = try one([0xC5, 0xFE, 0x6F, 0x05, 0x20, 0, 0, 0])
        #expect(load.length == 8)
        #expect(load.opcode == X86Opcode(.vex, .map0F, 0x6F))
        #expect(load.simdPrefix == 0xF3)
        #expect(load.memoryAccess == .load && load.memoryOperandSize == 32)
        #expect(load.ripTarget == Self.base + 8 + 0x20)
        // VMOVDQU [RAX], YMM1 store; VZEROUPPER has no ModRM.
        let store = try one([0xC5, 0xFE, 0x7F, 0x08])
        #expect(store.memoryAccess == .store && store.memoryOperandSize == 32)
        #expect(try one([0xC5, 0xF8, 0x77]).length == 3)
        // VPBROADCASTB YMM0, [RIP] (C4 map 2) reads one byte.
        let bcast = try one([0xC4, 0xE2, 0x7D, 0x78, 0x05, 0, 0, 0, 0])
        #expect(bcast.length == 9 && bcast.memoryOperandSize == 1 && bcast.opcode.map == .map0F38)
        // RORX RAX, [RIP], 3 (VEX 0F3A: imm8 after the displacement), BMI2.
        let rorx = try one([0xC4, 0xE3, 0xFB, 0xF0, 0x05, 0, 0, 0, 0, 0x03])
        #expect(rorx.length == 10 && rorx.isWide && rorx.memoryOperandSize == 8)
        #expect(rorx.ripTarget == Self.base + 10)
        #expect(rorx.immediate == 3)
        // VINSERTI128 YMM0, YMM0, [RIP], 1.
        let ins = try one([0xC4, 0xE3, 0x7D, 0x38, 0x05, 0, 0, 0, 0, 0x01])
        #expect(ins.length == 10 && ins.memoryOperandSize == 16)
        // ANDN RAX, RBX, [RIP] (BMI1).
        #expect(try one([0xC4, 0xE2, 0xE0, 0xF2, 0x05, 0, 0, 0, 0]).length == 9)
        // A VEX form of an MMX-era opcode without 66 does not exist.
        #expect(X86Decoder.decodeInstruction([0xC5, 0x9C, 0xF9, 0x11], at: 0)
            == .failure(.invalidOpcode(X86Opcode(.vex, .map0F, 0xF9))))
        // VEX after REX or 66 is malformed.
        guard case .failure(.invalidEncoding) = X86Decoder.decodeInstruction([0x48, 0xC5, 0xF8, 0x77], at: 0) else {
            Issue.record("VEX after REX accepted")
            return
        }
    }

    @Test func evexEncodings() throws {
        // VMOVDQU64 ZMM0, [RIP+0x40]: EVEX disp32 is never compressed.
        let load = try one([0x62, 0xF1, 0xFE, 0x48, 0x6F, 0x05, 0x40, 0, 0, 0])
        #expect(load.length == 10)
        #expect(load.opcode == X86Opcode(.evex, .map0F, 0x6F))
        #expect(load.memoryOperandSize == 64 && load.memoryAccess == .load)
        #expect(load.ripTarget == Self.base + 10 + 0x40)
        // VMOVDQU64 [RAX+0x40], ZMM1: disp8 (compressed, one byte) = 1 × 64.
        let store = try one([0x62, 0xF1, 0xFE, 0x48, 0x7F, 0x48, 0x01])
        #expect(store.length == 7 && store.memoryAccess == .store && store.memory?.displacement == 1)
        // VPTERNLOGD ZMM0, ZMM1, [RAX]{1to16}, 0x96: broadcast reads one dword; imm8 follows.
        let tern = try one([0x62, 0xF3, 0x75, 0x58, 0x25, 0x00, 0x96])
        #expect(tern.length == 7 && tern.memoryOperandSize == 4 && tern.immediate == Int64(Int8(bitPattern: 0x96)))
        // VPERMB ZMM0, ZMM0, ZMM4 (register form, map 2).
        #expect(try one([0x62, 0xF2, 0x7D, 0x48, 0x8D, 0xC4]).length == 6)
        // Reserved P1 bit 2 clear is malformed; map 4 is APX.
        guard case .failure(.invalidEncoding) = X86Decoder.decodeInstruction([0x62, 0xF1, 0xFA, 0x48, 0x6F, 0xC0], at: 0),
              case .failure(.unsupported) = X86Decoder.decodeInstruction([0x62, 0xF4, 0x7C, 0x08, 0x01, 0xC0], at: 0)
        else {
            Issue.record("malformed EVEX accepted")
            return
        }
    }

    // MARK: - Stopping cleanly

    @Test func linearDecodeReportsWhereAndWhy() {
        // NOP, RET, then a truncated MOV.
        let result = X86Decoder.decode([0x90, 0xC3, 0x48, 0x8B, 0x05, 0x00], at: 0x1000)
        #expect(result.instructions.map(\.address) == [0x1000, 0x1001])
        #expect(result.stop == X86DecodeStop(offset: 2, address: 0x1002, error: .truncated))
        // An invalid opcode in 64-bit mode (PUSH ES).
        let invalid = X86Decoder.decode([0xCC, 0x06], at: 0)
        #expect(invalid.instructions.count == 1)
        #expect(invalid.stop?.error == .invalidOpcode(X86Opcode(.legacy, .primary, 0x06)))
        // Sixteen prefixes exceed the 15-byte limit.
        let long = X86Decoder.decode([UInt8](repeating: 0x66, count: 16) + [0x90], at: 0)
        #expect(long.stop?.error == .tooLong)
        // Empty input, a view, and an instruction limit.
        #expect(X86Decoder.decode([], at: 0) == X86DecodeResult(instructions: [], stop: nil))
        let view = ByteView(bytes: [0x90, 0x90, 0x90], baseAddress: 0x2000)
        #expect(X86Decoder.decode(view, maxInstructions: 2).instructions.map(\.address) == [0x2000, 0x2001])
        #expect(X86Decoder.decodeInstruction([0x90], offset: 5, at: 0) == .failure(.truncated))
        #expect(X86Decoder.decodeInstruction([0x90], offset: -1, at: 0) == .failure(.truncated))
    }

    @Test func everyPrefixOfAnInstructionIsTruncated() throws {
        let samples: [[UInt8]] = [
            [0x48, 0x8B, 0x05, 0x10, 0x00, 0x00, 0x00],
            [0xC6, 0x05, 0x30, 0x00, 0x00, 0x00, 0x01],
            [0x62, 0xF3, 0x75, 0x58, 0x25, 0x00, 0x96],
            [0xC4, 0xE3, 0xFB, 0xF0, 0x05, 0, 0, 0, 0, 0x03],
            [0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8],
            [0x64, 0x48, 0x8B, 0x0C, 0x25, 0xF8, 0xFF, 0xFF, 0xFF],
        ]
        for sample in samples {
            #expect(try one(sample).length == sample.count)
            for cut in 0..<sample.count {
                #expect(X86Decoder.decodeInstruction(Array(sample[..<cut]), at: 0) == .failure(.truncated))
            }
        }
    }

    @Test func randomBytesNeverTrap() {
        var rng = SeededGenerator(seed: 0x5EED_600D)
        var decoded = 0
        for round in 0..<4000 {
            let count = Int(rng.next() % 48)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Bias some inputs toward the interesting escapes.
            if round % 4 == 1, !bytes.isEmpty { bytes[0] = [0x0F, 0xC4, 0xC5, 0x62, 0x66, 0xF3][Int(rng.next() % 6)] }
            let address = rng.next()  // anywhere, including near the top of the address space
            let result = X86Decoder.decode(bytes, at: address)
            var offset = 0
            for instruction in result.instructions {
                #expect(instruction.address == address &+ UInt64(offset))
                #expect((1...15).contains(instruction.length))
                offset += instruction.length
            }
            #expect(offset == (result.stop?.offset ?? bytes.count))
            decoded += result.instructions.count
        }
        #expect(decoded > 4000)
    }

    // MARK: - Against objdump on real Go binaries

    @Test(.enabled(if: X86Oracle.available("go1.22"), X86Oracle.skipReason("go1.22")))
    func agreesWithObjdumpGo122() throws {
        try X86Oracle.compare(toolchain: "go1.22")
    }

    @Test(.enabled(if: X86Oracle.available("go1.27"), X86Oracle.skipReason("go1.27")))
    func agreesWithObjdumpGo127() throws {
        try X86Oracle.compare(toolchain: "go1.27")
    }

    /// Further toolchains on request: GOSPY_X86_TOOLCHAINS=go1.19,go1.21,…
    @Test(.enabled(if: ProcessInfo.processInfo.environment["GOSPY_X86_TOOLCHAINS"] != nil,
                   "set GOSPY_X86_TOOLCHAINS to compare more toolchains"))
    func agreesWithObjdumpOtherToolchains() throws {
        let names = ProcessInfo.processInfo.environment["GOSPY_X86_TOOLCHAINS", default: ""].split(separator: ",")
        for name in names.map(String.init) where X86Oracle.available(name) {
            try X86Oracle.compare(toolchain: name)
        }
    }
}

/// A tiny deterministic generator (SplitMix64) so the fuzz input is the same on every run.

/// Builds a Go program whose binary pulls in the runtime's and the crypto packages' assembly
/// (SSE, AVX2, AVX-512, AES-NI, SHA-NI, BMI2, ADX), disassembles it with objdump, and compares
/// every function's instructions with the decoder's.
private enum X86Oracle {
    static let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()

    static func goBinary(_ toolchain: String) -> String { "\(GoProbe.toolchains)/\(toolchain)/bin/go" }

    static func objdumpPath() -> String? {
        ["/usr/bin/objdump", "/usr/local/bin/objdump", "/bin/objdump"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func available(_ toolchain: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: goBinary(toolchain)) && objdumpPath() != nil
    }

    static func skipReason(_ toolchain: String) -> Comment {
        if objdumpPath() == nil { return "objdump (binutils) is not installed" }
        return "no \(toolchain) toolchain at \(goBinary(toolchain))"
    }

    static let program = """
    package main

    import (
    \t"crypto/aes"
    \t"crypto/cipher"
    \t"crypto/elliptic"
    \t"crypto/md5"
    \t"crypto/sha1"
    \t"crypto/sha256"
    \t"crypto/sha512"
    \t"fmt"
    \t"hash/crc32"
    \t"math/big"
    )

    func main() {
    \tb := []byte("hello, gospy")
    \tc, _ := aes.NewCipher(make([]byte, 16))
    \tg, _ := cipher.NewGCM(c)
    \tx, y := elliptic.P256().ScalarBaseMult(b)
    \tfmt.Println(md5.Sum(b), sha1.Sum(b), sha256.Sum256(b), sha512.Sum512(b), crc32.ChecksumIEEE(b),
    \t\tg.Seal(nil, make([]byte, 12), b, nil), new(big.Int).Exp(big.NewInt(3), big.NewInt(100), nil), x, y)
    }

    """

    struct Line {
        var address: UInt64
        var text: Substring
    }

    struct Function {
        var name: Substring
        var start: UInt64
        var lines: [Line] = []
    }

    struct Tally: CustomStringConvertible {
        var functions = 0
        var instructions = 0
        var boundaryMismatches: [String] = []
        var ripChecked = 0
        var ripMismatches: [String] = []
        var branchChecked = 0
        var branchMismatches: [String] = []
        var sizeChecked = 0
        var sizeMismatches: [String] = []
        var accessChecked = 0
        var accessMismatches: [String] = []
        var objdumpBad: [String] = []

        var description: String {
            func pct(_ bad: Int, _ all: Int) -> String {
                all == 0 ? "n/a" : String(format: "%.4f%%", 100 * Double(all - bad) / Double(all))
            }
            return """
            \(functions) functions, \(instructions) instructions: boundaries \(pct(boundaryMismatches.count, instructions)); \
            RIP targets \(ripChecked) (\(pct(ripMismatches.count, ripChecked))); branch targets \(branchChecked) \
            (\(pct(branchMismatches.count, branchChecked))); sizes \(sizeChecked) (\(pct(sizeMismatches.count, sizeChecked))); \
            access \(accessChecked) (\(pct(accessMismatches.count, accessChecked))); objdump (bad): \(objdumpBad.count)
            """
        }
    }

    static func compare(toolchain: String) throws {
        let started = Date()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gospy-x86-\(toolchain)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try program.write(to: dir.appendingPathComponent("main.go"), atomically: true, encoding: .utf8)
        try "module x86probe\n\ngo 1.19\n".write(to: dir.appendingPathComponent("go.mod"), atomically: true, encoding: .utf8)
        let exe = dir.appendingPathComponent("probe").path
        var env = ProcessInfo.processInfo.environment
        env["GOTOOLCHAIN"] = "local"
        env["GOFLAGS"] = ""
        env["GOCACHE"] = "\(home)/.cache/gospy/gocache/x86test"
        env["CGO_ENABLED"] = "0"
        _ = try run(goBinary(toolchain), ["build", "-o", exe, "."], in: dir, environment: env)

        let objdump = try #require(objdumpPath())
        let text = try textSection(exe, objdump: objdump)
        let listing = try run(objdump, ["-d", "-M", "intel", "--no-show-raw-insn", "-w", "-j", ".text", exe])
        let functions = parse(listing)
        try #require(functions.count > 1000, "objdump listed only \(functions.count) functions")

        var tally = Tally()
        for (index, function) in functions.enumerated() {
            let end = index + 1 < functions.count ? functions[index + 1].start : text.address + UInt64(text.bytes.count)
            guard function.start >= text.address, end >= function.start, end - text.address <= UInt64(text.bytes.count) else {
                Issue.record("function \(function.name) outside .text")
                continue
            }
            let from = Int(function.start - text.address), to = Int(end - text.address)
            let result = X86Decoder.decode(Array(text.bytes[from..<to]), at: function.start)
            check(function, result, &tally)
        }
        let seconds = Date().timeIntervalSince(started)
        print("X86 objdump oracle \(toolchain): \(tally) [\(String(format: "%.1f", seconds)) s]")
        for (label, list) in [("boundary", tally.boundaryMismatches), ("rip", tally.ripMismatches),
                              ("branch", tally.branchMismatches), ("size", tally.sizeMismatches),
                              ("access", tally.accessMismatches), ("objdump (bad)", tally.objdumpBad)] {
            for item in list.prefix(8) { print("  \(label): \(item)") }
        }
        #expect(tally.instructions > 100_000)
        #expect(tally.boundaryMismatches.count == 0, "\(tally.boundaryMismatches.prefix(5))")
        #expect(tally.ripMismatches.count == 0, "\(tally.ripMismatches.prefix(5))")
        #expect(tally.branchMismatches.count == 0, "\(tally.branchMismatches.prefix(5))")
        #expect(tally.sizeMismatches.count == 0, "\(tally.sizeMismatches.prefix(5))")
        #expect(tally.accessMismatches.count == 0, "\(tally.accessMismatches.prefix(5))")
        #expect(tally.ripChecked > 5_000 && tally.branchChecked > 20_000 && tally.sizeChecked > 50_000)
    }

    /// Compares one function. objdump's "(bad)" marks bytes that are not code (Go puts a few
    /// data blobs in .text); the decoder must stop exactly there, and the rest is not compared.
    static func check(_ function: Function, _ result: X86DecodeResult, _ tally: inout Tally) {
        tally.functions += 1
        var lines = function.lines[...]
        if let bad = lines.firstIndex(where: { $0.text.contains("(bad)") }) {
            let address = lines[bad].address
            lines = lines[..<bad]
            let note = "\(function.name) at 0x\(String(address, radix: 16)); decoder: \(result.stop.map(\.description) ?? "no stop")"
            tally.objdumpBad.append(note)
            if result.stop?.address != address { tally.boundaryMismatches.append("did not stop at (bad): " + note) }
        } else if let stop = result.stop {
            tally.boundaryMismatches.append("\(function.name): \(stop)")
        }
        let decoded = result.instructions
        for (k, line) in lines.enumerated() {
            tally.instructions += 1
            guard k < decoded.count, decoded[k].address == line.address else {
                let ours = k < decoded.count ? "0x" + String(decoded[k].address, radix: 16) : "none"
                tally.boundaryMismatches.append("\(function.name): objdump 0x\(String(line.address, radix: 16)) \(line.text), decoder \(ours)")
                return
            }
            compare(decoded[k], line, function.name, &tally)
        }
        if decoded.count > lines.count {
            tally.boundaryMismatches.append("\(function.name): decoder found \(decoded.count - lines.count) more instructions")
        }
    }

    static func compare(_ ins: X86Instruction, _ line: Line, _ name: Substring, _ tally: inout Tally) {
        let parsed = ObjdumpInstruction(line.text)
        var here: String { "\(name) 0x\(String(line.address, radix: 16)) \(line.text)" }  // only for failures
        // RIP-relative: objdump writes the target in a "# addr" comment.
        if let target = parsed.ripTarget {
            tally.ripChecked += 1
            if ins.ripTarget != target { tally.ripMismatches.append("\(here): decoder \(ins.ripTarget.map { String($0, radix: 16) } ?? "none")") }
        } else if ins.ripTarget != nil {
            tally.ripMismatches.append("\(here): decoder claims RIP-relative")
        }
        if let target = parsed.branchTarget {
            tally.branchChecked += 1
            if ins.branchTarget != target { tally.branchMismatches.append("\(here): decoder \(ins.branchTarget.map { String($0, radix: 16) } ?? "none")") }
        }
        guard let memory = parsed.memoryOperand, !parsed.isString else { return }
        if let size = parsed.memorySize {
            tally.sizeChecked += 1
            if ins.memoryOperandSize != size { tally.sizeMismatches.append("\(here): decoder \(ins.memoryOperandSize.map(String.init) ?? "nil")") }
        }
        if let access = parsed.access(memoryOperand: memory) {
            tally.accessChecked += 1
            if ins.memoryAccess != access { tally.accessMismatches.append("\(here): decoder \(ins.memoryAccess.map { "\($0)" } ?? "nil"), expected \(access)") }
        }
    }

    /// Lines of `objdump -d --no-show-raw-insn -w`, grouped by symbol.
    static func parse(_ listing: String) -> [Function] {
        var functions: [Function] = []
        for line in listing.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.first == " " {
                guard let colon = line.firstIndex(of: ":"),
                      let address = UInt64(line[..<colon].drop { $0 == " " }, radix: 16) else { continue }
                let rest = line[line.index(after: colon)...].drop { $0 == "\t" || $0 == " " }
                guard !functions.isEmpty else { continue }
                functions[functions.count - 1].lines.append(Line(address: address, text: rest))
            } else if line.hasSuffix(">:"), let space = line.firstIndex(of: " "), let address = UInt64(line[..<space], radix: 16) {
                functions.append(Function(name: line[line.index(space, offsetBy: 2)..<line.index(line.endIndex, offsetBy: -2)], start: address))
            }
        }
        return functions
    }

    /// The .text bytes, found through `objdump -h` (VMA and file offset) rather than gospy's ELF code.
    static func textSection(_ path: String, objdump: String) throws -> (address: UInt64, bytes: [UInt8]) {
        let headers = try run(objdump, ["-h", path])
        for line in headers.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == ".text", let size = Int(fields[2], radix: 16),
                  let vma = UInt64(fields[3], radix: 16), let offset = Int(fields[5], radix: 16) else { continue }
            let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            try #require(offset >= 0 && size >= 0 && offset + size <= file.count)
            return (vma, Array(file[offset..<(offset + size)]))
        }
        throw X86OracleError.noText(path)
    }

    enum X86OracleError: Error { case noText(String), failed(String, Int32, String) }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        // stdout through a pipe (read to the end before waiting); stderr to a file so that
        // neither can fill up and block the child.
        let errorURL = FileManager.default.temporaryDirectory.appendingPathComponent("gospy-x86-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let errorHandle = try FileHandle(forWritingTo: errorURL)
        defer {
            try? errorHandle.close()
            try? FileManager.default.removeItem(at: errorURL)
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = errorHandle
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
            throw X86OracleError.failed(tool, process.terminationStatus, message)
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// What one line of objdump's Intel-syntax listing says about memory and branches.
private struct ObjdumpInstruction {
    var mnemonic: Substring = ""
    var operands: [Substring] = []
    var comment: Substring?

    static let prefixes: Set<Substring> = ["lock", "rep", "repz", "repe", "repnz", "repne", "data16", "addr32",
                                           "cs", "ds", "es", "ss", "fs", "gs", "notrack", "bnd", "xacquire", "xrelease"]

    init(_ text: Substring) {
        var body = text
        if let hash = text.range(of: "#") {
            comment = text[hash.upperBound...].drop { $0 == " " }
            body = text[..<hash.lowerBound]
        }
        if let symbol = body.range(of: " <") { body = body[..<symbol.lowerBound] }  // "call 4012a0 <runtime.x>"
        var words = body.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        while let first = words.first, Self.prefixes.contains(first) || first.hasPrefix("rex") {
            guard words.count > 1 else { break }
            words = words[1].split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        }
        mnemonic = words.first ?? ""
        if words.count > 1 {
            let list = words[1].drop { $0 == " " }
            operands = Self.splitOperands(list[..<(list.lastIndex { $0 != " " }.map(list.index(after:)) ?? list.startIndex)])
        }
    }

    /// Operands split at commas outside brackets and braces.
    static func splitOperands(_ text: Substring) -> [Substring] {
        var result: [Substring] = []
        var depth = 0
        var start = text.startIndex
        for index in text.indices {
            switch text[index] {
            case "[", "{": depth += 1
            case "]", "}": depth -= 1
            case "," where depth == 0:
                result.append(text[start..<index])
                start = text.index(after: index)
            default: break
            }
        }
        result.append(text[start...])
        return result
    }

    var ripTarget: UInt64? {
        guard operands.contains(where: { $0.contains("[rip") || $0.contains("[eip") }), let comment else { return nil }
        return UInt64(comment.prefix { $0.isHexDigit }, radix: 16)
    }

    static let branches: Set<Substring> = ["call", "jmp", "loop", "loope", "loopne", "jrcxz", "jecxz", "xbegin"]

    var branchTarget: UInt64? {
        guard Self.branches.contains(mnemonic) || (mnemonic.first == "j"), operands.count == 1 else { return nil }
        let word = operands[0].split(separator: " ").first ?? ""
        guard !word.isEmpty, word.allSatisfy(\.isHexDigit) else { return nil }
        return UInt64(word, radix: 16)
    }

    /// The index of the memory operand, if any.
    var memoryOperand: Int? {
        operands.firstIndex { $0.contains("[") || $0.contains(" PTR ") || $0.contains("BCST") || $0.contains("s:0x") }
    }

    static let sizes: [Substring: Int] = ["BYTE": 1, "WORD": 2, "DWORD": 4, "FWORD": 6, "QWORD": 8, "TBYTE": 10,
                                         "XMMWORD": 16, "OWORD": 16, "YMMWORD": 32, "ZMMWORD": 64]

    var memorySize: Int? {
        guard let index = memoryOperand else { return nil }
        let words = operands[index].split(separator: " ")
        guard words.count >= 2, words[1] == "PTR" || words[1] == "BCST" else { return nil }
        return Self.sizes[words[0]]
    }

    static let stringOps: Set<Substring> = ["movs", "stos", "lods", "scas", "cmps", "ins", "outs", "xlat", "movsb", "movsw",
                                            "movsd", "movsq", "stosb", "stosw", "stosd", "stosq", "lodsb", "lodsw", "lodsd",
                                            "lodsq", "scasb", "scasw", "scasd", "scasq", "cmpsb", "cmpsw", "cmpsd", "cmpsq"]

    var isString: Bool {
        // MOVSD is also the SSE scalar move; that one has no es:[rdi] operand.
        Self.stringOps.contains(mnemonic) && operands.contains { $0.contains("[rsi]") || $0.contains("[rdi]") }
            || mnemonic == "xlat"
    }

    static let readModifyWrite: Set<Substring> = ["add", "or", "adc", "sbb", "and", "sub", "xor", "inc", "dec", "not", "neg",
                                                  "shl", "shr", "sar", "sal", "rol", "ror", "rcl", "rcr", "shld", "shrd",
                                                  "bts", "btr", "btc", "xadd", "xchg", "cmpxchg", "cmpxchg8b", "cmpxchg16b"]
    static let readOnlyDestination: Set<Substring> = ["cmp", "test", "bt", "push", "call", "jmp"]
    static let stores: Set<Substring> = ["pop", "fst", "fstp", "fist", "fistp", "fisttp", "fnstcw", "fnstsw", "fnstenv",
                                         "fnsave", "fxsave", "fxsave64", "stmxcsr", "vstmxcsr", "xsave", "xsave64", "xsaveopt",
                                         "xsavec", "xsaves", "sgdt", "sidt", "sldt", "str", "smsw"]
    static let addressOnly: Set<Substring> = ["lea", "nop", "prefetcht0", "prefetcht1", "prefetcht2", "prefetchnta",
                                              "prefetchw", "clflush", "clflushopt", "clwb", "invlpg", "cldemote"]

    /// The access implied by Intel syntax (destination first) and the mnemonic.
    func access(memoryOperand index: Int) -> X86MemoryAccess? {
        if Self.addressOnly.contains(mnemonic) { return .addressOnly }
        if mnemonic == "xchg" || mnemonic == "xadd" || mnemonic.hasPrefix("cmpxchg") { return .loadStore }
        if index > 0 { return .load }
        if Self.readModifyWrite.contains(mnemonic) { return .loadStore }
        if Self.readOnlyDestination.contains(mnemonic) { return .load }
        if mnemonic.hasPrefix("set") || Self.stores.contains(mnemonic) { return .store }
        if operands.count == 1 { return .load }  // MUL/DIV/FLD/FADD…/LDMXCSR/PUSH through memory
        return .store  // MOV, MOVUPS, PEXTR, VEXTRACT, VPMOV down-converts, …
    }
}
