import GospyMemory
import GospyRuntime
import FoundationEssentials

/// One JSON object per goroutine.
struct DumpJSON: JSONOutput {
    /// A frame's fields beside its source line.
    struct FrameDetails: Encodable {
        let pc: String
        let offset: String
        let inlined: Bool
        /// As the traceback prints them ("0xc000012345, 0x1"); absent for inlined calls and
        /// where they could not be read.
        let arguments: String?
    }
    /// The creator's fields beside its go statement's source line.
    struct CreatorDetails: Encodable {
        let goroutine: UInt64?
    }
    typealias Frame = MergedJSON<SourceLineJSON, FrameDetails>
    typealias Creator = MergedJSON<SourceLineJSON, CreatorDetails>
    /// Dump's fields of a goroutine, beside the header fields every JSON view shares.
    struct Details: Encodable {
        let labels: [String: String]
        /// Why the goroutine's labels could not be read (then `labels` is empty, not "none").
        let labelsUnreadable: String?
        let frames: [Frame]
        let truncated: String?
        /// Where the walk started: registers (a running goroutine's thread), vdso (the VDSO
        /// call its thread is in), syscall, or sched (the state saved when it last stopped).
        let stackFrom: String
        let createdBy: Creator?
        /// What it waits on (absent: nothing, or nothing gospy reads).
        let wait: WaitDescription?
    }
    let goVersion: String
    let goroutines: [GoroutineJSON<Details>]

    init(goVersion: String, items: [DumpedGoroutine], labels: [UInt64: [(String, String)]], runtimeFrames: Bool,
         symbolizer: Symbolizer) {
        self.goVersion = goVersion
        goroutines = items.map { Self.goroutine($0, labels: labels, runtimeFrames: runtimeFrames, symbolizer: symbolizer) }
    }

    /// One goroutine's object.
    static func goroutine(_ item: DumpedGoroutine, labels: [UInt64: [(String, String)]], runtimeFrames: Bool,
                          symbolizer: Symbolizer) -> GoroutineJSON<Details> {
        let frames = runtimeFrames ? symbolizer.logicalFrames(item.stack) : item.body.frames + item.body.tail
        let arguments = symbolizer.argumentTexts(item.stack)
        var truncated: String?
        switch item.stack.end {
        case let .truncated(reason): truncated = reason
        // JSON lists every frame walked: a walk that stopped at the cap says so.
        case .limit: truncated = "more than \(StackUnwinder.maxFrames) frames: the outer ones were not walked"
        case .complete: break
        }
        return GoroutineJSON(shared: GoroutineHeaderJSON(item.goroutine, waitMinutes: item.waitMinutes), own: Details(
            labels: Dictionary((labels[item.goroutine.address] ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: { $1 }),
            labelsUnreadable: item.labelsUnreadable,
            frames: frames.map {
                Frame(shared: SourceLineJSON(function: $0.function, file: $0.file, line: $0.line), own: FrameDetails(
                    pc: "0x" + String($0.pc, radix: 16), offset: "0x" + String($0.offset, radix: 16), inlined: $0.inlined,
                    arguments: $0.inlined || $0.physicalIndex >= arguments.count ? nil : arguments[$0.physicalIndex]))
            },
            truncated: truncated,
            stackFrom: String(item.stack.origin.prefix { $0 != " " }),
            createdBy: item.createdBy.map {
                Creator(shared: SourceLineJSON(function: $0.function, file: $0.file, line: $0.line),
                        own: CreatorDetails(goroutine: $0.parentID))
            },
            wait: item.wait))
    }

    /// Goroutines per block of the streamed document.
    static let blockSize = 1_024

    /// The document `json()` makes of these items, byte for byte, made goroutine by goroutine in
    /// blocks on several threads and handed to `sink` in order as made: encoding the whole
    /// document at once held every goroutine's tree and the whole text (100k goroutines: 945 MB,
    /// 3 s). Each goroutine's object is encoded alone, as the whole encode lays it out, and
    /// indented to its place in the `goroutines` array.
    static func write(goVersion: String, items: [DumpedGoroutine], labels: [UInt64: [(String, String)]], runtimeFrames: Bool,
                      symbolizer: Symbolizer, sink: (ArraySlice<UInt8>) -> Void) throws {
        guard !items.isEmpty else {
            let document = try DumpJSON(goVersion: goVersion, items: [], labels: labels, runtimeFrames: runtimeFrames,
                                        symbolizer: symbolizer).json()
            return sink(Array(document.utf8)[...])
        }
        let failure = EncodingFailure()
        var head = Array("{\n  \"goVersion\" : ".utf8)
        head += try JSONOutputEncoder.make().encode(goVersion)
        head += Array(",\n  \"goroutines\" : [\n".utf8)
        sink(head[...])
        OrderedBlockText.render(
            count: items.count, blockSize: blockSize, bytesPerItem: 1_024,
            makeWorker: { _ in JSONOutputEncoder.make() },
            make: { encoder, positions, text in
                for position in positions {
                    let object = goroutine(items[position], labels: labels, runtimeFrames: runtimeFrames, symbolizer: symbolizer)
                    do {
                        let encoded = try encoder.encode(object)
                        // After the previous object; four spaces before each of its lines but
                        // the empty ones (an empty object or array is "{\n\n}").
                        if position > 0 { text += Array(",\n".utf8) }
                        var lineStart = true
                        for byte in encoded {
                            if lineStart && byte != UInt8(ascii: "\n") { text += Array("    ".utf8) }
                            text.append(byte)
                            lineStart = byte == UInt8(ascii: "\n")
                        }
                    } catch {
                        failure.record(error)
                    }
                }
                return positions.count
            },
            sink: { text, _ in sink(text[...]) })
        if let error = failure.first { throw error }
        sink(Array("\n  ]\n}\n".utf8)[...])
    }

    /// The first error an encoding thread met.
    private final class EncodingFailure: @unchecked Sendable {
        private let lock = ThreadLock()
        private var error: Error?
        func record(_ error: Error) { lock.withLock { if self.error == nil { self.error = error } } }
        var first: Error? { lock.withLock { error } }
    }
}
