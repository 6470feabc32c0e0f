import Testing
@testable import GospyRuntime
@testable import gospy

/// Header lines and label quoting, per release, as runtime.goroutineheader and printquoted
/// print them (the live comparisons in GospyIntegrationTests check them against the runtime).
@Suite struct TracebackHeaderTextTests {
    static func goroutine(id: UInt64 = 7, m: UInt64 = 0) -> Goroutine {
        Goroutine(address: 0xc000_2000, id: id, status: .waiting, scanning: false, waitReason: 1, waitReasonText: "chan receive",
                  waitSince: 0, m: m, lockedM: 0, startPC: 0, creatorPC: 0, parentID: nil, schedPC: 0,
                  schedSP: 0, schedBP: 0, syscallPC: 0, syscallSP: 0, stackLo: 0, stackHi: 0, labels: 0)
    }

    static let labels: [(key: [UInt8], value: [UInt8])] = [
        (Array("region".utf8), Array("eu".utf8)), (Array("user id".utf8), Array("a b".utf8)),
    ]

    @Test func labelStyleFollowsReleaseAndSetting() {
        let v = { (minor: Int) in GoVersion(major: 1, minor: minor, patch: 0) }
        #expect(TracebackHeader.LabelStyle(version: v(25), setting: .value(1)) == .none)
        #expect(TracebackHeader.LabelStyle(version: v(26), setting: .value(0)) == .none)
        #expect(TracebackHeader.LabelStyle(version: v(26), setting: .value(1)) == .insideBrackets)
        #expect(TracebackHeader.LabelStyle(version: v(27), setting: .value(1)) == .afterBrackets)
        #expect(TracebackHeader.LabelStyle(version: v(27), setting: .unreadable("x")) == .none)
        #expect(TracebackHeader.LabelStyle(version: v(27), setting: .notInRelease) == .none)
    }

    @Test func go126QuotesEverythingInsideTheBrackets() {
        let line = TracebackHeader.line(Self.goroutine(), waitMinutes: 3, labels: Self.labels, style: .insideBrackets)
        #expect(line == "goroutine 7 [chan receive, 3 minutes labels:{\"region\": \"eu\", \"user id\": \"a b\"}]:\n")
    }

    @Test func go127QuotesOnlyWhereNeededAfterTheBrackets() {
        let line = TracebackHeader.line(Self.goroutine(), waitMinutes: nil, labels: Self.labels, style: .afterBrackets)
        #expect(line == "goroutine 7 [chan receive] {region: eu, \"user id\": \"a b\"}:\n")
        #expect(TracebackHeader.line(Self.goroutine(), waitMinutes: nil, labels: [], style: .afterBrackets)
                == "goroutine 7 [chan receive]:\n")
    }

    @Test func runtimeFramesHeadersNameTheGAndItsM() {
        #expect(TracebackHeader.line(Self.goroutine(), waitMinutes: nil, labels: [], style: .none, machine: .shown(machineID: nil))
                == "goroutine 7 gp=0xc0002000 m=nil [chan receive]:\n")
        #expect(TracebackHeader.line(Self.goroutine(m: 0xc000_8000), waitMinutes: nil, labels: [], style: .none, machine: .shown(machineID: 3))
                == "goroutine 7 gp=0xc0002000 m=3 mp=0xc0008000 [chan receive]:\n")
    }

    @Test func quotingEscapesAsPrintquoted() {
        let text = Array("say \"hi\"\tnow\\\n\r".utf8)
        #expect(TracebackHeader.quoted(text, invalidBytesAsHex: true) == #""say \"hi\"\tnow\\\n\r""#)
        // Below 127 as \x, up to U+FFFF as \u (DEL included), beyond as \U.
        let runes = Array("\u{1}Zü\u{7f}\u{a0}😀".utf8)
        #expect(TracebackHeader.quoted(runes, invalidBytesAsHex: true) == #""\x01Z\u00fc\u007f\u00a0\U0001f600""#)
        // An invalid byte: \xff from Go 1.27, the U+FFFD it decodes to in 1.26; a valid U+FFFD is \ufffd.
        let invalid: [UInt8] = [0x62, 0xff, 0xef, 0xbf, 0xbd, 0xe2, 0x82]
        #expect(TracebackHeader.quoted(invalid, invalidBytesAsHex: true) == #""b\xff\ufffd\xe2\x82""#)
        #expect(TracebackHeader.quoted(invalid, invalidBytesAsHex: false) == #""b\ufffd\ufffd\ufffd\ufffd""#)
    }

    @Test func needsQuotingOutsideLettersDigitsDotSlashUnderscore() {
        #expect(!TracebackHeader.needsQuoting(Array("x.y/z_1AZ".utf8)))
        #expect(!TracebackHeader.needsQuoting([]))
        for text in ["a b", "eu-west", "é", "a:b", "\"q\""] {
            #expect(TracebackHeader.needsQuoting(Array(text.utf8)), "\(text)")
        }
    }

    @Test func goRunesDecodeLikeTheRuntime() {
        // Overlong, surrogate and out-of-range sequences are one U+FFFD per byte.
        let bytes: [UInt8] = [0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xf0, 0x9f, 0x98, 0x80]
        let runes = Array(GoRunes(bytes))
        #expect(runes.map(\.value) == Array(repeating: 0xfffd, count: 9) + [0x1f600])
        #expect(runes.prefix(9).allSatisfy { $0.invalidByte != nil })
    }
}
