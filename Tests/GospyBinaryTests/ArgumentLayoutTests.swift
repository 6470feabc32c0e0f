import Testing
@testable import GospyBinary

/// The compiler's _FUNCDATA_ArgInfo programs, decoded and printed as runtime.printArgs does.
@Suite struct ArgumentLayoutTests {
    @Test func wordsAndAggregates() throws {
        // func f(p *T, s []byte, b bool): p at 0, s = {ptr, len, cap} at 8, 16, 24, b at 32.
        let layout = try ArgumentLayout(parsing: [0x00, 8, 0xfe, 0x08, 8, 0x10, 8, 0x18, 8, 0xfd, 0x20, 1, 0xff])
        #expect(layout.wordCount == 5)
        #expect(layout.render([0xc000012345, 0xc000100000, 0x10, 0x20, 0xabcd01]) == "0xc000012345, {0xc000100000, 0x10, 0x20}, 0x1")
    }

    @Test func smallWordsAreMasked() throws {
        let layout = try ArgumentLayout(parsing: [0x00, 1, 0x01, 2, 0x04, 4, 0xff])
        #expect(layout.render([0xffff_ff7f, 0xffff_1234, 0xdead_beef_0000_0002]) == "0x7f, 0x1234, 0x2")
    }

    @Test func ellipsisAndOffsetTooLarge() throws {
        let layout = try ArgumentLayout(parsing: [0x00, 8, 0xfb, 0xfc, 0xff])
        #expect(layout.wordCount == 1)
        #expect(layout.render([0]) == "0x0, _, ...")
    }

    @Test func nestedAndEmptyAggregates() throws {
        // A struct holding an empty struct and a one-word struct: "{{}, {0x1}}".
        let layout = try ArgumentLayout(parsing: [0xfe, 0xfe, 0xfd, 0xfe, 0x00, 8, 0xfd, 0xfd, 0xff])
        #expect(layout.render([1]) == "{{}, {0x1}}")
    }

    @Test func staleSpillSlotsAreMarked() throws {
        // Spill slots from offset 8 need liveness; slot 1 (offset 16) is dead at this PC.
        let layout = try ArgumentLayout(parsing: [0x00, 8, 0x08, 8, 0x10, 8, 0xff],
                                        isLive: { offset, slot in !(offset >= 8 && slot == 1) },
                                        liveStartOffset: 8)
        #expect(layout.render([1, 2, 3]) == "0x1, 0x2, 0x3?")
    }

    @Test func noArgumentsPrintNothing() throws {
        #expect(try ArgumentLayout(parsing: [0xff]).render([]) == "")
        #expect(ArgumentLayout.noArguments.render([]) == "")
    }

    @Test func damagedProgramsThrowInsteadOfTrapping() {
        // No end marker; a word without its size; a size no word has; a program longer than
        // the compiler ever writes.
        #expect(throws: ArgumentInfoError.unterminated(length: 4)) { try ArgumentLayout(parsing: [0x00, 8, 0x08, 8]) }
        #expect(throws: ArgumentInfoError.unterminated(length: 1)) { try ArgumentLayout(parsing: [0x00]) }
        #expect(throws: ArgumentInfoError.badWordSize(offset: 0, size: 9)) { try ArgumentLayout(parsing: [0x00, 9, 0xff]) }
        #expect(throws: ArgumentInfoError.unterminated(length: ArgumentLayout.maxEncodedLength)) {
            try ArgumentLayout(parsing: [UInt8](repeating: 0xfc, count: 400))
        }
    }

    @Test func damageIsNamedInTheMessage() {
        #expect(ArgumentInfoError.badWordSize(offset: 0x10, size: 0).description
            == "a function's argument info (_FUNCDATA_ArgInfo) is damaged: the argument at offset 16 has 0 bytes (1 to 8 expected)")
        #expect(ArgumentInfoError.unterminated(length: 171).description
            == "a function's argument info (_FUNCDATA_ArgInfo) is damaged: no end marker in its first 171 bytes")
    }

    @Test func fewerWordsThanTheLayoutNamesPrintZero() throws {
        let layout = try ArgumentLayout(parsing: [0x00, 8, 0x08, 8, 0xff])
        #expect(layout.render([5]) == "0x5, 0x0")
    }
}
