import GospyBinary
import GospyRuntime

/// A goroutine's header line as runtime.goroutineheader prints it, per release.
enum TracebackHeader {
    /// Where a release prints pprof labels, when its tracebacklabels setting is 1.
    enum LabelStyle: Equatable {
        /// Before Go 1.26, or the setting is not 1.
        case none
        /// Go 1.26: inside the brackets, always quoted: `[chan receive labels:{"k": "v"}]`.
        case insideBrackets
        /// Go 1.27+: after the brackets, quoted only where needed: `[chan receive] {k: v}`.
        case afterBrackets

        init(version: GoVersion, setting: TracebackLabelsSetting) {
            guard setting.showsLabels, version.atLeast(1, 26) else {
                self = .none
                return
            }
            self = version.atLeast(1, 27) ? .afterBrackets : .insideBrackets
        }
    }

    /// "goroutine 7 [chan receive, 3 minutes, locked to thread]:" with the labels where the
    /// release puts them, and a synctest bubble's notes.
    /// `machine`: at GOTRACEBACK=system and above (gospy's --runtime-frames) Go 1.22+ names
    /// the g and its M: " gp=0xc000003340 m=nil", " gp=0xc000007a40 m=3 mp=0xc000080808"
    /// (m=? when the g names an M gospy did not find among the runtime's Ms).
    enum MachineNote: Equatable {
        case none
        case shown(machineID: Int64?)
    }

    /// What the header says of a goroutine in a synctest bubble: " (durable)" after the state
    /// (1.25+) and ", synctest bubble 3" (1.24: ", synctest group 5") after the thread lock.
    struct SynctestNote: Equatable {
        let membership: SynctestMembership
        let durable: Bool

        /// The wait reasons of runtime.isIdleInSynctest (1.25+), by the runtime's text: those
        /// ending in "(durable)" say so themselves and get no suffix.
        static let idleReasons: Set<String> = [
            "chan receive (nil chan)", "chan send (nil chan)", "select (no cases)", "sleep", "sync.Cond.Wait",
            "sync.WaitGroup.Wait (durable)", "coroutine", "synctest.Run", "synctest.Wait",
            "chan receive (durable)", "chan send (durable)", "select (durable)",
        ]

        /// As goroutineheader decides: " (durable)" when the wait reason is one synctest
        /// counts as idle, in 1.25 whatever the status (a woken goroutine keeps its last
        /// reason), from 1.26 only while waiting.
        init(goroutine: Goroutine, membership: SynctestMembership, version: GoVersion) {
            self.membership = membership
            let reason = goroutine.waitReason != 0 ? goroutine.waitReasonText : nil
            let status = goroutine.status == .waiting || goroutine.status == .leaked ? reason ?? goroutine.status.name : goroutine.status.name
            durable = version.atLeast(1, 25) && (goroutine.status == .waiting || !version.atLeast(1, 26))
                && reason.map(Self.idleReasons.contains) == true && !status.hasSuffix("(durable)")
        }

        var text: String {
            switch membership {
            case let .bubble(id): return ", synctest bubble \(id)"
            case let .group(rootID): return ", synctest group \(rootID)"
            case .unreadable: return ", synctest bubble ?"
            }
        }
    }

    static func line(_ goroutine: Goroutine, waitMinutes: Int?, labels: [(key: [UInt8], value: [UInt8])],
                     style: LabelStyle, machine: MachineNote = .none, synctest: SynctestNote? = nil) -> String {
        var out: [UInt8] = []
        append(goroutine, waitMinutes: waitMinutes, labels: labels, style: style, machine: machine, synctest: synctest, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The same line appended to `out` (a dump writes one per goroutine).
    static func append(_ goroutine: Goroutine, waitMinutes: Int?, labels: [(key: [UInt8], value: [UInt8])],
                       style: LabelStyle, machine: MachineNote = .none, synctest: SynctestNote? = nil,
                       into out: inout [UInt8]) {
        out.append(contentsOf: "goroutine ".utf8)
        ASCIINumbers.appendDecimal(goroutine.id, to: &out)
        if case let .shown(machineID) = machine {
            out.append(contentsOf: " gp=0x".utf8)
            ASCIINumbers.appendHex(goroutine.address, to: &out)
            if goroutine.m == 0 {
                out.append(contentsOf: " m=nil".utf8)
            } else {
                out.append(contentsOf: " m=".utf8)
                if let machineID { ASCIINumbers.appendDecimal(machineID, to: &out) } else { out.append(UInt8(ascii: "?")) }
                out.append(contentsOf: " mp=0x".utf8)
                ASCIINumbers.appendHex(goroutine.m, to: &out)
            }
        }
        out.append(contentsOf: " [".utf8)
        out.append(contentsOf: goroutine.stateText.utf8)
        if synctest?.durable == true { out.append(contentsOf: " (durable)".utf8) }
        if let waitMinutes {
            out.append(contentsOf: ", ".utf8)
            ASCIINumbers.appendDecimal(Int64(waitMinutes), to: &out)
            out.append(contentsOf: " minutes".utf8)
        }
        if goroutine.lockedToThread { out.append(contentsOf: ", locked to thread".utf8) }
        if let synctest { out.append(contentsOf: synctest.text.utf8) }
        switch style {
        case .none:
            out.append(UInt8(ascii: "]"))
        case .insideBrackets:
            if !labels.isEmpty {
                // Go 1.26's printquoted prints an invalid byte as the U+FFFD it decodes to.
                let text = { (s: [UInt8]) in quoted(s, invalidBytesAsHex: false) }
                out.append(contentsOf: (" labels:{" + labels.map { text($0.key) + ": " + text($0.value) }.joined(separator: ", ") + "}").utf8)
            }
            out.append(UInt8(ascii: "]"))
        case .afterBrackets:
            out.append(UInt8(ascii: "]"))
            if !labels.isEmpty {
                let text = { (s: [UInt8]) in needsQuoting(s) ? quoted(s, invalidBytesAsHex: true) : String(decoding: s, as: UTF8.self) }
                out.append(contentsOf: (" {" + labels.map { text($0.key) + ": " + text($0.value) }.joined(separator: ", ") + "}").utf8)
            }
        }
        out.append(contentsOf: ":\n".utf8)
    }

    /// runtime.tracebackStringNeedsQuoting (Go 1.27): any rune but [a-zA-Z0-9./_].
    static func needsQuoting(_ bytes: [UInt8]) -> Bool {
        GoRunes(bytes).contains { rune in
            let r = rune.value
            return !((0x61...0x7a).contains(r) || (0x41...0x5a).contains(r) || (0x30...0x39).contains(r)
                || r == 0x2e || r == 0x2f || r == 0x5f)
        }
    }

    /// runtime.printquoted: printable ASCII as is, \n \r \t \\ \" escaped, other runes below 127
    /// as \xNN, up to U+FFFF as \uNNNN, the rest as \UNNNNNNNN; an invalid byte as \xNN from Go
    /// 1.27 (`invalidBytesAsHex`), as the \ufffd it decodes to in 1.26.
    static func quoted(_ bytes: [UInt8], invalidBytesAsHex: Bool) -> String {
        var out = "\""
        func hex(_ value: UInt32, digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        for rune in GoRunes(bytes) {
            let r = rune.value
            switch r {
            case 0x0a: out += "\\n"; continue
            case 0x0d: out += "\\r"; continue
            case 0x09: out += "\\t"; continue
            case 0x5c, 0x22: out += "\\" + String(UnicodeScalar(UInt8(r))); continue
            default: break
            }
            if let invalid = rune.invalidByte, invalidBytesAsHex {
                out += "\\x" + hex(UInt32(invalid), digits: 2)
            } else if r >= 0x20 && r <= 0x7e {
                out += String(UnicodeScalar(UInt8(r)))
            } else if r < 127 {
                out += "\\x" + hex(r, digits: 2)
            } else if r < 0x1_0000 {
                out += "\\u" + hex(r, digits: 4)
            } else {
                out += "\\U" + hex(r, digits: 8)
            }
        }
        return out + "\""
    }
}

/// The runes of a Go string as `for _, r := range s` yields them (runtime.decoderune): an
/// invalid or truncated sequence is one U+FFFD for one byte.
struct GoRunes: Sequence, IteratorProtocol {
    struct Rune {
        let value: UInt32
        /// The byte that could not be decoded (value is then U+FFFD).
        let invalidByte: UInt8?
    }

    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func next() -> Rune? {
        guard index < bytes.count else { return nil }
        let b0 = bytes[index]
        if b0 < 0x80 {
            index += 1
            return Rune(value: UInt32(b0), invalidByte: nil)
        }
        // Lead byte: sequence length and the range of the second byte (runtime's acceptRanges).
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xbf
        switch b0 {
        case 0xc2...0xdf: length = 2
        case 0xe0: length = 3; low = 0xa0
        case 0xe1...0xec, 0xee...0xef: length = 3
        case 0xed: length = 3; high = 0x9f
        case 0xf0: length = 4; low = 0x90
        case 0xf1...0xf3: length = 4
        case 0xf4: length = 4; high = 0x8f
        default: length = 0
        }
        let fail = Rune(value: 0xfffd, invalidByte: b0)
        guard length > 0, index + length <= bytes.count else {
            index += 1
            return fail
        }
        let b1 = bytes[index + 1]
        guard b1 >= low, b1 <= high else {
            index += 1
            return fail
        }
        var value = UInt32(b0) & (length == 2 ? 0x1f : length == 3 ? 0x0f : 0x07)
        value = value << 6 | UInt32(b1 & 0x3f)
        for offset in 2..<Swift.max(2, length) {
            let b = bytes[index + offset]
            guard b >= 0x80, b <= 0xbf else {
                index += 1
                return fail
            }
            value = value << 6 | UInt32(b & 0x3f)
        }
        index += length
        return Rune(value: value, invalidByte: nil)
    }
}
