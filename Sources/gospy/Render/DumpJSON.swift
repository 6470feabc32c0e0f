import GospyRuntime

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

    /// The document `json()` makes of these items, written goroutine by goroutine as made
    /// (`StreamedJSONDocument`).
    static func write(goVersion: String, items: [DumpedGoroutine], labels: [UInt64: [(String, String)]], runtimeFrames: Bool,
                      symbolizer: Symbolizer, sink: (ArraySlice<UInt8>) -> Void) throws {
        try StreamedJSONDocument.write(
            DumpJSON(goVersion: goVersion, items: [], labels: labels, runtimeFrames: runtimeFrames, symbolizer: symbolizer),
            arrayKey: "goroutines", count: items.count, makeWorker: { _ in () },
            object: { _, position in goroutine(items[position], labels: labels, runtimeFrames: runtimeFrames, symbolizer: symbolizer) },
            sink: sink)
    }
}
