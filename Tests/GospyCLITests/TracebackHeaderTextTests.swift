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

    // MARK: synctest bubbles, as each release's goroutineheader prints them

    static func bubbled(_ status: GoroutineStatus, _ reason: String?, scanning: Bool = false, locked: Bool = false) -> Goroutine {
        var g = Goroutine(address: 0xc000_2000, id: 9, status: status, scanning: scanning, waitReason: reason == nil ? 0 : 5,
                          waitReasonText: reason, waitSince: 0, m: 0, lockedM: locked ? 0xc000_9000 : 0, startPC: 0,
                          creatorPC: 0, parentID: nil, schedPC: 0, schedSP: 0, schedBP: 0, syscallPC: 0, syscallSP: 0,
                          stackLo: 0, stackHi: 0, labels: 0)
        g.bubble = 0xc000_4000
        return g
    }

    static func bubbleLine(_ g: Goroutine, minor: Int, membership: SynctestMembership = .bubble(id: 3),
                           waitMinutes: Int? = nil, style: TracebackHeader.LabelStyle = .none) -> String {
        let note = TracebackHeader.SynctestNote(goroutine: g, membership: membership, version: GoVersion(major: 1, minor: minor, patch: 0))
        return TracebackHeader.line(g, waitMinutes: waitMinutes, labels: labels, style: style, synctest: note)
    }

    @Test func durableWaitsSayDurableOnce() {
        // A wait synctest counts as durable gets " (durable)" unless its name already ends so.
        #expect(Self.bubbleLine(Self.bubbled(.waiting, "sleep"), minor: 27) == "goroutine 9 [sleep (durable), synctest bubble 3]:\n")
        #expect(Self.bubbleLine(Self.bubbled(.waiting, "chan receive (nil chan)"), minor: 25)
                == "goroutine 9 [chan receive (nil chan) (durable), synctest bubble 3]:\n")
        #expect(Self.bubbleLine(Self.bubbled(.waiting, "chan receive (durable)"), minor: 26)
                == "goroutine 9 [chan receive (durable), synctest bubble 3]:\n")
        // Not durable: a channel from outside the bubble, a mutex.
        #expect(Self.bubbleLine(Self.bubbled(.waiting, "chan receive"), minor: 27) == "goroutine 9 [chan receive, synctest bubble 3]:\n")
        #expect(Self.bubbleLine(Self.bubbled(.waiting, "sync.Mutex.Lock"), minor: 25) == "goroutine 9 [sync.Mutex.Lock, synctest bubble 3]:\n")
    }

    @Test func noteOrderFollowsGoroutineheader() {
        // state, (scan), (durable), minutes, locked, bubble; 1.26's labels inside, 1.27's after the brackets.
        let g = Self.bubbled(.waiting, "sync.Cond.Wait", scanning: true, locked: true)
        #expect(Self.bubbleLine(g, minor: 25, waitMinutes: 4)
                == "goroutine 9 [sync.Cond.Wait (scan) (durable), 4 minutes, locked to thread, synctest bubble 3]:\n")
        #expect(Self.bubbleLine(g, minor: 26, style: .insideBrackets)
                == "goroutine 9 [sync.Cond.Wait (scan) (durable), locked to thread, synctest bubble 3 labels:{\"region\": \"eu\", \"user id\": \"a b\"}]:\n")
        #expect(Self.bubbleLine(g, minor: 27, style: .afterBrackets)
                == "goroutine 9 [sync.Cond.Wait (scan) (durable), locked to thread, synctest bubble 3] {region: eu, \"user id\": \"a b\"}:\n")
    }

    @Test func go125SaysDurableOfAWokenGoroutineStillHoldingItsReason() {
        // 1.25 tests the wait reason alone, which a goroutine keeps after it wakes; 1.26 also
        // wants it waiting. A leaked goroutine (1.26+) is not waiting either.
        #expect(Self.bubbleLine(Self.bubbled(.runnable, "sleep"), minor: 25) == "goroutine 9 [runnable (durable), synctest bubble 3]:\n")
        #expect(Self.bubbleLine(Self.bubbled(.runnable, "sleep"), minor: 26) == "goroutine 9 [runnable, synctest bubble 3]:\n")
        #expect(Self.bubbleLine(Self.bubbled(.running, nil), minor: 25) == "goroutine 9 [running, synctest bubble 3]:\n")
        #expect(Self.bubbleLine(Self.bubbled(.leaked, "select (no cases)"), minor: 26)
                == "goroutine 9 [select (no cases) (leaked), synctest bubble 3]:\n")
    }

    @Test func go124NamesTheGroupByItsRoot() {
        // GOEXPERIMENT=synctest: ", synctest group <root goid>", no (durable) (its own reasons say "(synctest)").
        #expect(Self.bubbleLine(Self.bubbled(.waiting, "sleep"), minor: 24, membership: .group(rootID: 18))
                == "goroutine 9 [sleep, synctest group 18]:\n")
        #expect(Self.bubbleLine(Self.bubbled(.waiting, "chan receive (synctest)"), minor: 24, membership: .group(rootID: 18))
                == "goroutine 9 [chan receive (synctest), synctest group 18]:\n")
        // A bubble whose id could not be read is still shown as one.
        #expect(Self.bubbleLine(Self.bubbled(.waiting, "sleep"), minor: 27, membership: .unreadable)
                == "goroutine 9 [sleep (durable), synctest bubble ?]:\n")
    }
}
