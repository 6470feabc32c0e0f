import GospyMemory

/// How the runtime prints a function's arguments in a traceback (runtime.printArgs): the
/// compiler's _FUNCDATA_ArgInfo program (offsets and sizes of argument words from the frame's
/// argp, with aggregate brackets), and, at one PC, which register-argument spill slots hold
/// live values (_FUNCDATA_ArgLiveInfo + _PCDATA_ArgLiveIndex; a stale slot prints with "?").
public struct ArgumentLayout: Sendable, Equatable {
    public enum Item: Sendable, Equatable {
        /// A word of `size` bytes at argp + `offset`.
        case word(offset: UInt8, size: UInt8, live: Bool)
        case startAggregate
        case endAggregate
        /// More arguments than the compiler records: "...".
        case ellipsis
        /// An argument beyond the encodable offsets: "_".
        case offsetTooLarge
    }

    public let items: [Item]

    /// The number of `.word` items: how many words a frame of this function contributes.
    public let wordCount: Int

    public init(items: [Item]) {
        self.items = items
        wordCount = items.reduce(0) { count, item in
            if case .word = item { return count + 1 }
            return count
        }
    }

    /// A function without _FUNCDATA_ArgInfo: the runtime prints "()".
    public static let noArguments = ArgumentLayout(items: [])

    // The compiler's encoding (cmd/compile/internal/ssagen.emitArgInfo, internal/abi).
    static let endSequence: UInt8 = 0xff
    static let startAggregateByte: UInt8 = 0xfe
    static let endAggregateByte: UInt8 = 0xfd
    static let ellipsisByte: UInt8 = 0xfc
    static let offsetTooLargeByte: UInt8 = 0xfb
    /// abi.TraceArgsMaxLen: (maxDepth*3+2)*limit + 1.
    public static let maxEncodedLength = (5 * 3 + 2) * 10 + 1

    /// Parses an ArgInfo program. `isLive(offset, slotIndex)` answers the liveness question
    /// the runtime asks for each word; nil means every word is live.
    public init(parsing bytes: [UInt8], isLive: ((UInt8, UInt8) -> Bool)? = nil,
                liveStartOffset: UInt8 = 0xff) throws(ArgumentInfoError) {
        var items: [Item] = []
        var index = 0
        var slot: UInt8 = 0
        func next() throws(ArgumentInfoError) -> UInt8 {
            guard index < bytes.count, index < Self.maxEncodedLength else {
                throw .unterminated(length: min(bytes.count, Self.maxEncodedLength))
            }
            defer { index += 1 }
            return bytes[index]
        }
        loop: while true {
            let op = try next()
            switch op {
            case Self.endSequence: break loop
            case Self.startAggregateByte: items.append(.startAggregate)
            case Self.endAggregateByte: items.append(.endAggregate)
            case Self.ellipsisByte: items.append(.ellipsis)
            case Self.offsetTooLargeByte: items.append(.offsetTooLarge)
            default:
                let size = try next()
                guard size >= 1, size <= 8 else {
                    throw .badWordSize(offset: op, size: size)
                }
                items.append(.word(offset: op, size: size, live: isLive?(op, slot) ?? true))
                if op >= liveStartOffset { slot &+= 1 }
            }
        }
        self.init(items: items)
    }

    /// The text between the parentheses, from the words this layout reads (in order), exactly
    /// as runtime.printArgs prints it: "0xc000012345, {0x1, 0x2}, 0x0?".
    public func render(_ words: ArraySlice<UInt64>) -> String {
        var out: [UInt8] = []
        words.withUnsafeBufferPointer { render($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The same text appended to `out`, from words in place (a dump renders a frame's
    /// arguments per goroutine, from its stack's share of an arena).
    public func render(_ words: UnsafeBufferPointer<UInt64>, into out: inout [UInt8]) {
        var start = true
        var wordIndex = words.startIndex
        func comma() {
            if !start {
                out.append(UInt8(ascii: ","))
                out.append(UInt8(ascii: " "))
            }
        }
        for item in items {
            switch item {
            case .startAggregate:
                comma()
                out.append(UInt8(ascii: "{"))
                start = true
                continue
            case .endAggregate:
                out.append(UInt8(ascii: "}"))
            case .ellipsis:
                comma()
                out.append(contentsOf: "...".utf8)
            case .offsetTooLarge:
                comma()
                out.append(UInt8(ascii: "_"))
            case let .word(_, size, live):
                comma()
                var value: UInt64 = wordIndex < words.endIndex ? words[wordIndex] : 0
                wordIndex += 1
                if size < 8 { value &= (UInt64(1) << (UInt64(size) * 8)) - 1 }
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "x"))
                ASCIINumbers.appendHex(value, to: &out)
                if !live { out.append(UInt8(ascii: "?")) }
            }
            start = false
        }
    }
}

/// Why an ArgInfo program cannot be decoded: the compiler never emits one like it, so the
/// binary is damaged.
public enum ArgumentInfoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No end marker within the bytes available or the longest program the compiler emits.
    case unterminated(length: Int)
    /// A word of a size other than 1 to 8 bytes.
    case badWordSize(offset: UInt8, size: UInt8)

    public var description: String {
        switch self {
        case let .unterminated(length):
            return "a function's argument info (_FUNCDATA_ArgInfo) is damaged: no end marker in its first \(length) bytes"
        case let .badWordSize(offset, size):
            return "a function's argument info (_FUNCDATA_ArgInfo) is damaged: the argument at offset \(offset) has \(size) bytes (1 to 8 expected)"
        }
    }
}

extension Pclntab {
    public static let pcdataArgLiveIndex = 3
    public static let funcdataArgInfo = 5
    public static let funcdataArgLiveInfo = 6

    /// How a traceback prints `function`'s arguments at `pc` (the PC a traceback symbolises:
    /// pc-1 for a return address). `.noArguments` when the function has no argument info (the
    /// runtime prints "()"); nil when the info exists but cannot be read.
    public func argumentLayout(of function: Function, at pc: UInt64) -> ArgumentLayout? {
        guard let infoAddress = funcdataAddress(Self.funcdataArgInfo, of: function) else {
            // No funcdata slot: the runtime prints nothing. Unknown gofunc: we cannot tell.
            return gofunc == nil ? nil : ArgumentLayout.noArguments
        }
        guard let reader, let bytes = Self.readUpTo(ArgumentLayout.maxEncodedLength, from: infoAddress, reader: reader) else {
            return nil
        }
        var liveStart: UInt8 = 0xff
        var isLive: ((UInt8, UInt8) -> Bool)?
        if let liveAddress = funcdataAddress(Self.funcdataArgLiveInfo, of: function) {
            guard let start = try? reader.fetch(UInt8.self, from: liveAddress) else { return nil }
            liveStart = start
            let liveIndex = pcdataTable(Self.pcdataArgLiveIndex, of: function)
                .flatMap { pcvalue(tableOffset: $0, function: function, pc: pc) } ?? -1
            if liveIndex > 0 {
                isLive = { offset, slot in
                    if offset < start { return true }
                    let address = liveAddress &+ UInt64(liveIndex) &+ UInt64(slot / 8)
                    // An unreadable bitmap byte: treat as live, as a missing table is.
                    guard let bits = try? reader.fetch(UInt8.self, from: address) else { return true }
                    return bits & (1 << (slot % 8)) != 0
                }
            }
        }
        return try? ArgumentLayout(parsing: bytes, isLive: isLive, liveStartOffset: liveStart)
    }

    /// Up to `count` bytes at `address`, fewer when the readable memory ends first.
    static func readUpTo(_ count: Int, from address: UInt64, reader: MemoryReader) -> [UInt8]? {
        if let bytes = try? reader.fetchBytes(from: address, count: count) { return bytes }
        var bytes: [UInt8] = []
        for offset in 0..<UInt64(count) {
            guard let byte = try? reader.fetch(UInt8.self, from: address &+ offset) else { break }
            bytes.append(byte)
            if byte == ArgumentLayout.endSequence { break }
        }
        return bytes.isEmpty ? nil : bytes
    }
}
